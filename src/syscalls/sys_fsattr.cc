// File attributes by path or fd: the old time-setting calls (utime, utimes,
// futimesat) and extended attributes (the getxattr/setxattr/listxattr/
// removexattr families). Each copies the guest's strings and buffers to the
// host and back; the host, which sees the guest's files, does the rest.
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "fs/proc/procfs.h"
#include "syscalls/fs_common.h"
#include "syscalls/table.h"
#include "syscalls/uio_common.h"

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

// The newer *at calls (setxattrat..., file_getattr, file_setattr): their
// at_flags take AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH only (EINVAL before
// anything else is looked at). The path goes to the host as the guest gave
// it (the exe link followed to the guest program); under --sysroot the
// object is resolved inside the root and named /proc/self/fd/N from
// AT_FDCWD without AT_SYMLINK_NOFOLLOW (the magic link leads to exactly
// that object, a symlink included), unless the path is empty with
// AT_EMPTY_PATH (dirfd itself, as the guest gave it).
struct AtTarget {
  HostString path;
  int dirfd = AT_FDCWD;
  unsigned flags = 0;
  int64_t err = 0;
};
constexpr unsigned kAtPathFlags = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH;

AtTarget at_target(SyscallContext& ctx, uint64_t dirfd_reg, uint64_t path_addr, unsigned flags) {
  AtTarget t;
  t.dirfd = guest_dirfd(ctx.proc, dirfd_reg);
  t.flags = flags;
  const bool follow = !(flags & AT_SYMLINK_NOFOLLOW);
  t.path = host_string(ctx.mm, path_addr, kPathMax);
  if (!t.path.valid) return t;
  if (hidden_proc_entry(ctx.proc, t.dirfd, t.path.s)) {
    t.err = -ENOENT;
    return t;
  }
  if (follow) t.path.s = followed_host_path(ctx.proc, t.path.s);
  if (!ctx.proc.sysroot || (t.path.s.empty() && (flags & AT_EMPTY_PATH))) return t;
  if (t.path.s.size() >= kPathMax) return t;  // ENAMETOOLONG from the host
  auto fd = ctx.proc.sysroot->lookup(t.dirfd, t.path.s, follow);
  if (!fd) {
    t.err = -fd.error();
    return t;
  }
  t.path.hold = std::move(*fd);
  t.path.s = proc_fd_path(t.path.hold.get());
  t.dirfd = AT_FDCWD;
  t.flags &= ~unsigned{AT_SYMLINK_NOFOLLOW};
  return t;
}

// struct xattr_args (include/uapi/linux/xattr.h): value, size, flags;
// XATTR_ARGS_SIZE_VER0. setxattrat and getxattrat check the size (EINVAL
// below the first version, E2BIG above a page), copy it
// (copy_struct_from_user: EFAULT, E2BIG for a non-zero unknown tail), then
// act as setxattr and getxattr on the at-path.
struct XattrArgs {
  uint64_t value;
  uint32_t size;
  uint32_t flags;
};
static_assert(sizeof(XattrArgs) == 16);
constexpr uint64_t kXattrArgsSizeVer0 = 16;

Result<XattrArgs> copy_xattr_args(const MemoryManager& mm, uint64_t addr, uint64_t usize) {
  if (usize < kXattrArgsSizeVer0) return Errno{EINVAL};
  if (usize > 4096) return Errno{E2BIG};
  std::vector<unsigned char> bytes(usize);
  TRY(mm.copy_in(bytes.data(), addr, usize));
  for (uint64_t i = sizeof(XattrArgs); i < usize; i++)
    if (bytes[i]) return Errno{E2BIG};
  XattrArgs args;
  memcpy(&args, bytes.data(), sizeof args);
  return args;
}

constexpr long kNrSetxattrat = 463;
constexpr long kNrGetxattrat = 464;
constexpr long kNrListxattrat = 465;
constexpr long kNrRemovexattrat = 466;
constexpr long kNrFileGetattr = 468;
constexpr long kNrFileSetattr = 469;

// struct file_attr (include/uapi/linux/fs.h: a u64 fa_xflags and four u32
// fields): FILE_ATTR_SIZE_VER0.
constexpr uint64_t kFileAttrSizeVer0 = 24;

}  // namespace

// setxattrat(dirfd, path, at_flags, name, args, size), fs/xattr.c: the
// args, the at_flags, then as setxattr (name, value: E2BIG above
// XATTR_SIZE_MAX before it is read, EFAULT; the lookup; the host's flags).
int64_t sys_setxattrat(SyscallContext& ctx, const SyscallArgs& a) {
  auto args = copy_xattr_args(ctx.mm, a.a[4], a.a[5]);
  if (!args) return -args.error();
  const unsigned at_flags = arg_uint(a.a[2]);
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  HostString name = host_xattr_name(ctx, a.a[3]);
  std::vector<char> value;
  XattrArgs host_args = *args;
  host_args.value = 0;  // size > XATTR_SIZE_MAX or unreadable: the host fails it
  if (args->size > 0 && args->size <= kXattrSizeMax) {
    value.resize(args->size);
    if (ctx.mm.copy_in(value.data(), args->value, args->size))
      host_args.value = reinterpret_cast<uint64_t>(value.data());
  }
  AtTarget t = at_target(ctx, a.a[0], a.a[1], at_flags);
  if (t.err) return t.err;
  return host_rax(::syscall(kNrSetxattrat, t.dirfd, t.path.p(), t.flags, name.p(), &host_args,
                            sizeof host_args));
}

// getxattrat(dirfd, path, at_flags, name, args, size): the args (flags must
// be 0: EINVAL), then as getxattr.
int64_t sys_getxattrat(SyscallContext& ctx, const SyscallArgs& a) {
  auto args = copy_xattr_args(ctx.mm, a.a[4], a.a[5]);
  if (!args) return -args.error();
  if (args->flags != 0) return -EINVAL;
  const unsigned at_flags = arg_uint(a.a[2]);
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  HostString name = host_xattr_name(ctx, a.a[3]);
  const uint64_t size = std::min<uint64_t>(args->size, kXattrSizeMax);
  std::vector<char> value(size);
  XattrArgs host_args = *args;
  host_args.value = size ? reinterpret_cast<uint64_t>(value.data()) : 0;
  host_args.size = static_cast<uint32_t>(size);
  AtTarget t = at_target(ctx, a.a[0], a.a[1], at_flags);
  if (t.err) return t.err;
  long r = ::syscall(kNrGetxattrat, t.dirfd, t.path.p(), t.flags, name.p(), &host_args,
                     sizeof host_args);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (size > 0 && r > 0) {
    auto c = ctx.mm.copy_out(args->value, value.data(), static_cast<uint64_t>(r));
    if (!c) return -c.error();
  }
  return r;
}

// listxattrat(dirfd, path, at_flags, list, size): as listxattr.
int64_t sys_listxattrat(SyscallContext& ctx, const SyscallArgs& a) {
  const unsigned at_flags = arg_uint(a.a[2]);
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  AtTarget t = at_target(ctx, a.a[0], a.a[1], at_flags);
  if (t.err) return t.err;
  uint64_t size = std::min<uint64_t>(a.a[4], kXattrListMax);
  std::vector<char> list(size);
  long r =
      ::syscall(kNrListxattrat, t.dirfd, t.path.p(), t.flags, size ? list.data() : nullptr, size);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (size > 0 && r > 0) {
    auto c = ctx.mm.copy_out(a.a[3], list.data(), static_cast<uint64_t>(r));
    if (!c) return -c.error();
  }
  return r;
}

// removexattrat(dirfd, path, at_flags, name): as removexattr.
int64_t sys_removexattrat(SyscallContext& ctx, const SyscallArgs& a) {
  const unsigned at_flags = arg_uint(a.a[2]);
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  HostString name = host_xattr_name(ctx, a.a[3]);
  AtTarget t = at_target(ctx, a.a[0], a.a[1], at_flags);
  if (t.err) return t.err;
  return host_rax(::syscall(kNrRemovexattrat, t.dirfd, t.path.p(), t.flags, name.p()));
}

// file_getattr(dirfd, path, attr, size, at_flags), fs/file_attr.c: the
// at_flags (EINVAL), the size (E2BIG above a page, EINVAL below
// FILE_ATTR_SIZE_VER0), the lookup, the host's fileattr of the object
// (EOPNOTSUPP where the file system has none), written into the guest's
// struct (zeroing a longer one).
int64_t sys_file_getattr(SyscallContext& ctx, const SyscallArgs& a) {
  const unsigned at_flags = arg_uint(a.a[4]);
  const uint64_t usize = a.a[3];
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  if (usize > 4096) return -E2BIG;
  if (usize < kFileAttrSizeVer0) return -EINVAL;
  AtTarget t = at_target(ctx, a.a[0], a.a[1], at_flags);
  if (t.err) return t.err;
  void* attr = uio::host_span(ctx.mm, a.a[2], usize, PROT_WRITE);
  return host_rax(::syscall(kNrFileGetattr, t.dirfd, t.path.p(), attr, usize, t.flags));
}

// file_setattr(dirfd, path, attr, size, at_flags): as file_getattr, the
// struct read (EFAULT, E2BIG for a non-zero unknown tail) and checked
// (EINVAL) before the lookup; the host sets the object's attributes with
// the guest's credentials (EPERM, EOPNOTSUPP as the file system says).
int64_t sys_file_setattr(SyscallContext& ctx, const SyscallArgs& a) {
  const unsigned at_flags = arg_uint(a.a[4]);
  const uint64_t usize = a.a[3];
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  if (usize > 4096) return -E2BIG;
  if (usize < kFileAttrSizeVer0) return -EINVAL;
  std::vector<unsigned char> attr(usize);
  const void* host_attr = attr.data();
  if (!ctx.mm.copy_in(attr.data(), a.a[2], usize)) host_attr = uio::fault_ptr();
  if (ctx.proc.sysroot && host_attr != uio::fault_ptr()) {
    // The struct's own checks come before the lookup: ask the host with a
    // name that is never found (the host stops at the lookup).
    long probe = ::syscall(kNrFileSetattr, AT_FDCWD, "/nonexistent/elfuse-probe", host_attr, usize,
                           at_flags);
    if (probe < 0 && errno != ENOENT) return -static_cast<int64_t>(errno);
  }
  AtTarget t = at_target(ctx, a.a[0], a.a[1], at_flags);
  if (t.err) return t.err;
  return host_rax(::syscall(kNrFileSetattr, t.dirfd, t.path.p(), host_attr, usize, t.flags));
}

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
