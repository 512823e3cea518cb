// File attributes by path or fd: the old time-setting calls (utime, utimes,
// futimesat) and extended attributes (the getxattr/setxattr/listxattr/
// removexattr families). Each copies the guest's strings and buffers to the
// host and back; the host, which sees the guest's files, does the rest.
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

static_assert(sizeof(struct utimbuf) == 16);
static_assert(sizeof(struct timeval) == 16);

namespace {

// include/uapi/linux/limits.h
constexpr uint64_t kXattrNameMax = 255;
constexpr uint64_t kXattrSizeMax = 65536;
constexpr uint64_t kXattrListMax = 65536;

// A guest string argument as the host should see it. The kernel reads the
// path and the attribute name at different points (lookup, then name, or the
// other way round depending on the kernel version), so an argument elfuse
// cannot copy is not failed here: the host gets an argument that fails the
// same way at the same point -- NULL for an unreadable string (EFAULT), an
// over-long string for one without a NUL within the limit.
struct HostString {
  std::string s;
  bool valid = false;  // false: pass NULL
  int64_t err = 0;     // --sysroot: the lookup failed with this (negative)
  UniqueFd hold;       // --sysroot: the O_PATH fd s names as /proc/self/fd/N
  const char* p() const { return valid ? s.c_str() : nullptr; }
};

HostString host_string(const MemoryManager& mm, uint64_t addr, uint64_t max) {
  HostString h;
  auto r = mm.copy_in_string(addr, max);
  if (r) {
    h.s = std::move(*r);
  } else if (r.error() == ENAMETOOLONG) {
    h.s.assign(max, 'x');  // no NUL within max: ENAMETOOLONG / ERANGE
  } else {
    return h;  // NULL: EFAULT
  }
  h.valid = true;
  return h;
}

// A path: followed (stat-like) calls see the guest program for its exe link.
// Under --sysroot the path is resolved inside the root (following the last
// symlink or not) and the host gets /proc/self/fd/N of the result: the host
// follows that magic link to exactly the object, even when it is a symlink,
// so the following variant of the call (getxattr, not lgetxattr) is used on
// it (via_fd).
HostString host_path(SyscallContext& ctx, uint64_t addr, bool follow, int dirfd = AT_FDCWD) {
  HostString h = host_string(ctx.mm, addr, kPathMax);
  if (h.valid && follow) h.s = followed_host_path(ctx.proc, h.s);
  if (h.valid && ctx.proc.sysroot) {
    auto fd = ctx.proc.sysroot->lookup(dirfd, h.s, follow);
    if (!fd) {
      h.err = -fd.error();
      return h;
    }
    h.hold = std::move(*fd);
    h.s = proc_fd_path(h.hold.get());
  }
  return h;
}

// The l* xattr calls act on a symlink itself; on /proc/self/fd/N the
// following form does that (see host_path).
long via_fd_nr(long nr, const HostString& h) {
  if (h.hold.get() < 0) return nr;
  switch (nr) {
    case SYS_lgetxattr:
      return SYS_getxattr;
    case SYS_lsetxattr:
      return SYS_setxattr;
    case SYS_llistxattr:
      return SYS_listxattr;
    case SYS_lremovexattr:
      return SYS_removexattr;
    default:
      return nr;
  }
}

// An xattr name: getxattr(2) ERANGE for "" or one longer than
// XATTR_NAME_MAX (fs/xattr.c import_xattr_name).
HostString host_xattr_name(SyscallContext& ctx, uint64_t addr) {
  return host_string(ctx.mm, addr, kXattrNameMax + 1);
}

// What the path/fd-taking variants have in common: the object is a path
// (followed or not) or an fd.
enum class Target { kPath, kLink, kFd };

// The first argument for the host: a path string or an fd number.
struct HostTarget {
  HostString path;
  long fd = -1;
  int64_t err = 0;  // an fd argument that is elfuse's: EBADF
  bool is_fd = false;
  long arg() const { return is_fd ? fd : reinterpret_cast<long>(path.p()); }
  long nr(long n) const { return is_fd ? n : via_fd_nr(n, path); }
};

HostTarget host_target(SyscallContext& ctx, Target t, uint64_t reg) {
  HostTarget h;
  if (t == Target::kFd) {
    h.is_fd = true;
    auto fd = guest_fd(ctx.proc, reg);
    if (!fd)
      h.err = -fd.error();
    else
      h.fd = *fd;
  } else {
    h.path = host_path(ctx, reg, t == Target::kPath);
    h.err = h.path.err;
  }
  return h;
}

// getxattr(2), fs/xattr.c: a size above XATTR_SIZE_MAX reads at most that
// much; only the bytes the value has are stored (EFAULT); size 0 asks for
// the size.
int64_t get_xattr(SyscallContext& ctx, long nr, Target t, const SyscallArgs& a) {
  HostTarget target = host_target(ctx, t, a.a[0]);
  if (target.err) return target.err;
  HostString name = host_xattr_name(ctx, a.a[1]);
  uint64_t size = std::min<uint64_t>(a.a[3], kXattrSizeMax);
  std::vector<char> value(size);
  long r = ::syscall(target.nr(nr), target.arg(), name.p(), size ? value.data() : nullptr, size);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (size > 0 && r > 0) {
    auto c = ctx.mm.copy_out(a.a[2], value.data(), static_cast<uint64_t>(r));
    if (!c) return -c.error();
  }
  return r;
}

// setxattr(2): a size above XATTR_SIZE_MAX is E2BIG before the value is read
// (EFAULT). Flags are the host's to check.
int64_t set_xattr(SyscallContext& ctx, long nr, Target t, const SyscallArgs& a) {
  HostTarget target = host_target(ctx, t, a.a[0]);
  if (target.err) return target.err;
  HostString name = host_xattr_name(ctx, a.a[1]);
  uint64_t size = a.a[3];
  std::vector<char> value;
  const char* vp = nullptr;  // size > XATTR_SIZE_MAX, or unreadable: the host fails it
  if (size > 0 && size <= kXattrSizeMax) {
    value.resize(size);
    if (ctx.mm.copy_in(value.data(), a.a[2], size)) vp = value.data();
  }
  return host_rax(::syscall(target.nr(nr), target.arg(), name.p(), vp, size, arg_int(a.a[4])));
}

// listxattr(2): like getxattr, with XATTR_LIST_MAX.
int64_t list_xattr(SyscallContext& ctx, long nr, Target t, const SyscallArgs& a) {
  HostTarget target = host_target(ctx, t, a.a[0]);
  if (target.err) return target.err;
  uint64_t size = std::min<uint64_t>(a.a[2], kXattrListMax);
  std::vector<char> list(size);
  long r = ::syscall(target.nr(nr), target.arg(), size ? list.data() : nullptr, size);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (size > 0 && r > 0) {
    auto c = ctx.mm.copy_out(a.a[1], list.data(), static_cast<uint64_t>(r));
    if (!c) return -c.error();
  }
  return r;
}

int64_t remove_xattr(SyscallContext& ctx, long nr, Target t, const SyscallArgs& a) {
  HostTarget target = host_target(ctx, t, a.a[0]);
  if (target.err) return target.err;
  HostString name = host_xattr_name(ctx, a.a[1]);
  return host_rax(::syscall(target.nr(nr), target.arg(), name.p()));
}

// utimes/futimesat, fs/utimes.c do_futimesat(): the timevals are read
// (EFAULT) and checked (EINVAL for tv_usec outside [0, 1000000), which also
// rules out utimensat's UTIME_NOW/UTIME_OMIT) before the path is looked at.
// A NULL path with a real dirfd changes the file dirfd refers to.
int64_t futimesat_common(SyscallContext& ctx, long dirfd, uint64_t path_addr, uint64_t times_addr,
                         bool at) {
  struct timeval tv[2];
  struct timeval* tvp = nullptr;
  if (times_addr != 0) {
    auto c = ctx.mm.copy_in(tv, times_addr, sizeof(tv));
    if (!c) return -c.error();
    for (const auto& t : tv)
      if (t.tv_usec < 0 || t.tv_usec >= 1000000) return -EINVAL;
    tvp = tv;
  }
  HostString path;
  if (path_addr != 0) {
    path = host_path(ctx, path_addr, true, static_cast<int>(dirfd));
    if (path.err) return path.err;
  }
  if (at && path.hold.get() >= 0) return host_rax(::syscall(SYS_utimes, path.p(), tvp));
  if (at) return host_rax(::syscall(SYS_futimesat, dirfd, path.p(), tvp));
  return host_rax(::syscall(SYS_utimes, path.p(), tvp));
}

}  // namespace

// utime(path, times), fs/utimes.c: whole seconds; the times are read before
// the path (EFAULT); NULL times means now.
int64_t sys_utime(SyscallContext& ctx, const SyscallArgs& a) {
  struct utimbuf ub;
  struct utimbuf* ubp = nullptr;
  if (a.a[1] != 0) {
    auto c = ctx.mm.copy_in(&ub, a.a[1], sizeof(ub));
    if (!c) return -c.error();
    ubp = &ub;
  }
  HostString path = host_path(ctx, a.a[0], true);
  if (path.err) return path.err;
  return host_rax(::syscall(SYS_utime, path.p(), ubp));
}

int64_t sys_utimes(SyscallContext& ctx, const SyscallArgs& a) {
  return futimesat_common(ctx, AT_FDCWD, a.a[0], a.a[1], false);
}

int64_t sys_futimesat(SyscallContext& ctx, const SyscallArgs& a) {
  return futimesat_common(ctx, guest_dirfd(ctx.proc, a.a[0]), a.a[1], a.a[2], true);
}

int64_t sys_getxattr(SyscallContext& ctx, const SyscallArgs& a) {
  return get_xattr(ctx, SYS_getxattr, Target::kPath, a);
}
int64_t sys_lgetxattr(SyscallContext& ctx, const SyscallArgs& a) {
  return get_xattr(ctx, SYS_lgetxattr, Target::kLink, a);
}
int64_t sys_fgetxattr(SyscallContext& ctx, const SyscallArgs& a) {
  return get_xattr(ctx, SYS_fgetxattr, Target::kFd, a);
}
int64_t sys_setxattr(SyscallContext& ctx, const SyscallArgs& a) {
  return set_xattr(ctx, SYS_setxattr, Target::kPath, a);
}
int64_t sys_lsetxattr(SyscallContext& ctx, const SyscallArgs& a) {
  return set_xattr(ctx, SYS_lsetxattr, Target::kLink, a);
}
int64_t sys_fsetxattr(SyscallContext& ctx, const SyscallArgs& a) {
  return set_xattr(ctx, SYS_fsetxattr, Target::kFd, a);
}
int64_t sys_listxattr(SyscallContext& ctx, const SyscallArgs& a) {
  return list_xattr(ctx, SYS_listxattr, Target::kPath, a);
}
int64_t sys_llistxattr(SyscallContext& ctx, const SyscallArgs& a) {
  return list_xattr(ctx, SYS_llistxattr, Target::kLink, a);
}
int64_t sys_flistxattr(SyscallContext& ctx, const SyscallArgs& a) {
  return list_xattr(ctx, SYS_flistxattr, Target::kFd, a);
}
int64_t sys_removexattr(SyscallContext& ctx, const SyscallArgs& a) {
  return remove_xattr(ctx, SYS_removexattr, Target::kPath, a);
}
int64_t sys_lremovexattr(SyscallContext& ctx, const SyscallArgs& a) {
  return remove_xattr(ctx, SYS_lremovexattr, Target::kLink, a);
}
int64_t sys_fremovexattr(SyscallContext& ctx, const SyscallArgs& a) {
  return remove_xattr(ctx, SYS_fremovexattr, Target::kFd, a);
}

}  // namespace elfuse
