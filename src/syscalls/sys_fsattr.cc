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
#include "syscalls/uaccess.h"
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

HostString host_string(const MemoryManager& mm, Path arg, uint64_t max) {
  HostString h;
  auto r = arg.get(mm, max);
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
HostString host_path(SyscallContext& ctx, Path arg, bool follow, int dirfd = AT_FDCWD) {
  HostString h = host_string(ctx.mm, arg, kPathMax);
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
HostString host_xattr_name(SyscallContext& ctx, Path name) {
  return host_string(ctx.mm, name, kXattrNameMax + 1);
}

// The first argument for the host: a path string (followed or not) or an
// fd number.
struct HostTarget {
  HostString path;
  long fd = -1;
  int64_t err = 0;  // an fd argument that is elfuse's: EBADF
  bool is_fd = false;
  long arg() const { return is_fd ? fd : reinterpret_cast<long>(path.p()); }
  long nr(long n) const { return is_fd ? n : via_fd_nr(n, path); }
};

HostTarget host_target(SyscallContext& ctx, Fd fd_arg) {
  HostTarget h;
  h.is_fd = true;
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd)
    h.err = -fd.error();
  else
    h.fd = *fd;
  return h;
}

HostTarget host_target(SyscallContext& ctx, Path path, bool follow) {
  HostTarget h;
  h.path = host_path(ctx, path, follow);
  h.err = h.path.err;
  return h;
}

// getxattr(2), fs/xattr.c: a size above XATTR_SIZE_MAX reads at most that
// much; only the bytes the value has are stored (EFAULT); size 0 asks for
// the size. The target (the first argument) is made by the caller, before
// anything else is read, in this helper and the three below.
int64_t get_xattr(SyscallContext& ctx, long nr, const HostTarget& target, Path name_arg,
                  Bytes value_arg, Size size_arg) {
  if (target.err) return target.err;
  HostString name = host_xattr_name(ctx, name_arg);
  uint64_t size = std::min<uint64_t>(size_arg, kXattrSizeMax);
  std::vector<char> value(size);
  long r = ::syscall(target.nr(nr), target.arg(), name.p(), size ? value.data() : nullptr, size);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (size > 0 && r > 0) {
    auto c = value_arg.put(ctx.mm, value.data(), static_cast<uint64_t>(r));
    if (!c) return -c.error();
  }
  return r;
}

// setxattr(2): a size above XATTR_SIZE_MAX is E2BIG before the value is read
// (EFAULT). Flags are the host's to check.
int64_t set_xattr(SyscallContext& ctx, long nr, const HostTarget& target, Path name_arg,
                  Bytes value_arg, Size size_arg, IntFlags flags) {
  if (target.err) return target.err;
  HostString name = host_xattr_name(ctx, name_arg);
  uint64_t size = size_arg;
  std::vector<char> value;
  const char* vp = nullptr;  // size > XATTR_SIZE_MAX, or unreadable: the host fails it
  if (size > 0 && size <= kXattrSizeMax) {
    value.resize(size);
    if (value_arg.get(ctx.mm, value.data(), size)) vp = value.data();
  }
  return host_rax(::syscall(target.nr(nr), target.arg(), name.p(), vp, size, flags.v));
}

// listxattr(2): like getxattr, with XATTR_LIST_MAX.
int64_t list_xattr(SyscallContext& ctx, long nr, const HostTarget& target, Bytes list_arg,
                   Size size_arg) {
  if (target.err) return target.err;
  uint64_t size = std::min<uint64_t>(size_arg, kXattrListMax);
  std::vector<char> list(size);
  long r = ::syscall(target.nr(nr), target.arg(), size ? list.data() : nullptr, size);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (size > 0 && r > 0) {
    auto c = list_arg.put(ctx.mm, list.data(), static_cast<uint64_t>(r));
    if (!c) return -c.error();
  }
  return r;
}

int64_t remove_xattr(SyscallContext& ctx, long nr, const HostTarget& target, Path name_arg) {
  if (target.err) return target.err;
  HostString name = host_xattr_name(ctx, name_arg);
  return host_rax(::syscall(target.nr(nr), target.arg(), name.p()));
}

// utimes/futimesat, fs/utimes.c do_futimesat(): the timevals are read
// (EFAULT) and checked (EINVAL for tv_usec outside [0, 1000000), which also
// rules out utimensat's UTIME_NOW/UTIME_OMIT) before the path is looked at.
// A NULL path with a real dirfd changes the file dirfd refers to.
int64_t futimesat_common(SyscallContext& ctx, long dirfd, Path path_arg, In<TimevalPair> times,
                         bool at) {
  TimevalPair pair;
  struct timeval* tvp = nullptr;
  if (!times.null()) {
    auto c = times.get(ctx.mm);
    if (!c) return -c.error();
    pair = *c;
    for (const auto& t : pair.t)
      if (t.tv_usec < 0 || t.tv_usec >= 1000000) return -EINVAL;
    tvp = pair.t;
  }
  HostString path;
  if (path_arg.addr != 0) {
    path = host_path(ctx, path_arg, true, static_cast<int>(dirfd));
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

AtTarget at_target(SyscallContext& ctx, DirFd dirfd, Path path, unsigned flags) {
  AtTarget t;
  t.dirfd = guest_dirfd(ctx.proc, dirfd);
  t.flags = flags;
  const bool follow = !(flags & AT_SYMLINK_NOFOLLOW);
  t.path = host_string(ctx.mm, path, kPathMax);
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

Result<XattrArgs> copy_xattr_args(const MemoryManager& mm, Bytes uargs, uint64_t usize) {
  if (usize < kXattrArgsSizeVer0) return Errno{EINVAL};
  if (usize > 4096) return Errno{E2BIG};
  std::vector<unsigned char> bytes(usize);
  TRY(uargs.get(mm, bytes.data(), usize));
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
int64_t sys_setxattrat(SyscallContext& ctx, DirFd dirfd, Path path, UAtFlags at_flags,
                       Path name_arg, Bytes uargs, Size usize) {
  auto args = copy_xattr_args(ctx.mm, uargs, usize);
  if (!args) return -args.error();
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  HostString name = host_xattr_name(ctx, name_arg);
  std::vector<char> value;
  XattrArgs host_args = *args;
  host_args.value = 0;  // size > XATTR_SIZE_MAX or unreadable: the host fails it
  if (args->size > 0 && args->size <= kXattrSizeMax) {
    value.resize(args->size);
    if (bytes_at(args->value).get(ctx.mm, value.data(), args->size))
      host_args.value = reinterpret_cast<uint64_t>(value.data());
  }
  AtTarget t = at_target(ctx, dirfd, path, at_flags);
  if (t.err) return t.err;
  return host_rax(::syscall(kNrSetxattrat, t.dirfd, t.path.p(), t.flags, name.p(), &host_args,
                            sizeof host_args));
}

// getxattrat(dirfd, path, at_flags, name, args, size): the args (flags must
// be 0: EINVAL), then as getxattr.
int64_t sys_getxattrat(SyscallContext& ctx, DirFd dirfd, Path path, UAtFlags at_flags,
                       Path name_arg, Bytes uargs, Size usize) {
  auto args = copy_xattr_args(ctx.mm, uargs, usize);
  if (!args) return -args.error();
  if (args->flags != 0) return -EINVAL;
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  HostString name = host_xattr_name(ctx, name_arg);
  const uint64_t size = std::min<uint64_t>(args->size, kXattrSizeMax);
  std::vector<char> value(size);
  XattrArgs host_args = *args;
  host_args.value = size ? reinterpret_cast<uint64_t>(value.data()) : 0;
  host_args.size = static_cast<uint32_t>(size);
  AtTarget t = at_target(ctx, dirfd, path, at_flags);
  if (t.err) return t.err;
  long r = ::syscall(kNrGetxattrat, t.dirfd, t.path.p(), t.flags, name.p(), &host_args,
                     sizeof host_args);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (size > 0 && r > 0) {
    auto c = bytes_at(args->value).put(ctx.mm, value.data(), static_cast<uint64_t>(r));
    if (!c) return -c.error();
  }
  return r;
}

// listxattrat(dirfd, path, at_flags, list, size): as listxattr.
int64_t sys_listxattrat(SyscallContext& ctx, DirFd dirfd, Path path, UAtFlags at_flags,
                        Bytes list_arg, Size size_arg) {
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  AtTarget t = at_target(ctx, dirfd, path, at_flags);
  if (t.err) return t.err;
  uint64_t size = std::min<uint64_t>(size_arg, kXattrListMax);
  std::vector<char> list(size);
  long r =
      ::syscall(kNrListxattrat, t.dirfd, t.path.p(), t.flags, size ? list.data() : nullptr, size);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (size > 0 && r > 0) {
    auto c = list_arg.put(ctx.mm, list.data(), static_cast<uint64_t>(r));
    if (!c) return -c.error();
  }
  return r;
}

// removexattrat(dirfd, path, at_flags, name): as removexattr.
int64_t sys_removexattrat(SyscallContext& ctx, DirFd dirfd, Path path, UAtFlags at_flags,
                          Path name_arg) {
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  HostString name = host_xattr_name(ctx, name_arg);
  AtTarget t = at_target(ctx, dirfd, path, at_flags);
  if (t.err) return t.err;
  return host_rax(::syscall(kNrRemovexattrat, t.dirfd, t.path.p(), t.flags, name.p()));
}

// file_getattr(dirfd, path, attr, size, at_flags), fs/file_attr.c: the
// at_flags (EINVAL), the size (E2BIG above a page, EINVAL below
// FILE_ATTR_SIZE_VER0), the lookup, the host's fileattr of the object
// (EOPNOTSUPP where the file system has none), written into the guest's
// struct (zeroing a longer one).
int64_t sys_file_getattr(SyscallContext& ctx, DirFd dirfd, Path path, Bytes uattr, Size usize,
                         UAtFlags at_flags) {
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  if (usize > 4096) return -E2BIG;
  if (usize < kFileAttrSizeVer0) return -EINVAL;
  AtTarget t = at_target(ctx, dirfd, path, at_flags);
  if (t.err) return t.err;
  // The host writes the struct in place (elfuse makes no copy of it).
  void* attr = uio::host_span(ctx.mm, uattr.addr, usize, PROT_WRITE);
  return host_rax(::syscall(kNrFileGetattr, t.dirfd, t.path.p(), attr, usize.v, t.flags));
}

// file_setattr(dirfd, path, attr, size, at_flags): as file_getattr, the
// struct read (EFAULT, E2BIG for a non-zero unknown tail) and checked
// (EINVAL) before the lookup; the host sets the object's attributes with
// the guest's credentials (EPERM, EOPNOTSUPP as the file system says).
int64_t sys_file_setattr(SyscallContext& ctx, DirFd dirfd, Path path, Bytes uattr, Size usize,
                         UAtFlags at_flags) {
  if (at_flags & ~kAtPathFlags) return -EINVAL;
  if (usize > 4096) return -E2BIG;
  if (usize < kFileAttrSizeVer0) return -EINVAL;
  std::vector<unsigned char> attr(usize);
  const void* host_attr = attr.data();
  if (!uattr.get(ctx.mm, attr.data(), usize)) host_attr = uio::fault_ptr();
  if (ctx.proc.sysroot && host_attr != uio::fault_ptr()) {
    // The struct's own checks come before the lookup: ask the host with a
    // name that is never found (the host stops at the lookup).
    long probe = ::syscall(kNrFileSetattr, AT_FDCWD, "/nonexistent/elfuse-probe", host_attr,
                           usize.v, at_flags.v);
    if (probe < 0 && errno != ENOENT) return -static_cast<int64_t>(errno);
  }
  AtTarget t = at_target(ctx, dirfd, path, at_flags);
  if (t.err) return t.err;
  return host_rax(::syscall(kNrFileSetattr, t.dirfd, t.path.p(), host_attr, usize.v, t.flags));
}

// utime(path, times), fs/utimes.c: whole seconds; the times are read before
// the path (EFAULT); NULL times means now.
int64_t sys_utime(SyscallContext& ctx, Path path_arg, In<KernelUtimbuf> times) {
  struct utimbuf ub;
  struct utimbuf* ubp = nullptr;
  if (!times.null()) {
    auto c = times.get(ctx.mm);
    if (!c) return -c.error();
    ub = *c;
    ubp = &ub;
  }
  HostString path = host_path(ctx, path_arg, true);
  if (path.err) return path.err;
  return host_rax(::syscall(SYS_utime, path.p(), ubp));
}

int64_t sys_utimes(SyscallContext& ctx, Path path, In<TimevalPair> times) {
  return futimesat_common(ctx, AT_FDCWD, path, times, false);
}

int64_t sys_futimesat(SyscallContext& ctx, DirFd dirfd, Path path, In<TimevalPair> times) {
  return futimesat_common(ctx, guest_dirfd(ctx.proc, dirfd), path, times, true);
}

int64_t sys_getxattr(SyscallContext& ctx, Path path, Path name, Bytes value, Size size) {
  return get_xattr(ctx, SYS_getxattr, host_target(ctx, path, true), name, value, size);
}
int64_t sys_lgetxattr(SyscallContext& ctx, Path path, Path name, Bytes value, Size size) {
  return get_xattr(ctx, SYS_lgetxattr, host_target(ctx, path, false), name, value, size);
}
int64_t sys_fgetxattr(SyscallContext& ctx, Fd fd, Path name, Bytes value, Size size) {
  return get_xattr(ctx, SYS_fgetxattr, host_target(ctx, fd), name, value, size);
}
int64_t sys_setxattr(SyscallContext& ctx, Path path, Path name, Bytes value, Size size,
                     IntFlags flags) {
  return set_xattr(ctx, SYS_setxattr, host_target(ctx, path, true), name, value, size, flags);
}
int64_t sys_lsetxattr(SyscallContext& ctx, Path path, Path name, Bytes value, Size size,
                      IntFlags flags) {
  return set_xattr(ctx, SYS_lsetxattr, host_target(ctx, path, false), name, value, size, flags);
}
int64_t sys_fsetxattr(SyscallContext& ctx, Fd fd, Path name, Bytes value, Size size,
                      IntFlags flags) {
  return set_xattr(ctx, SYS_fsetxattr, host_target(ctx, fd), name, value, size, flags);
}
int64_t sys_listxattr(SyscallContext& ctx, Path path, Bytes list, Size size) {
  return list_xattr(ctx, SYS_listxattr, host_target(ctx, path, true), list, size);
}
int64_t sys_llistxattr(SyscallContext& ctx, Path path, Bytes list, Size size) {
  return list_xattr(ctx, SYS_llistxattr, host_target(ctx, path, false), list, size);
}
int64_t sys_flistxattr(SyscallContext& ctx, Fd fd, Bytes list, Size size) {
  return list_xattr(ctx, SYS_flistxattr, host_target(ctx, fd), list, size);
}
int64_t sys_removexattr(SyscallContext& ctx, Path path, Path name) {
  return remove_xattr(ctx, SYS_removexattr, host_target(ctx, path, true), name);
}
int64_t sys_lremovexattr(SyscallContext& ctx, Path path, Path name) {
  return remove_xattr(ctx, SYS_lremovexattr, host_target(ctx, path, false), name);
}
int64_t sys_fremovexattr(SyscallContext& ctx, Fd fd, Path name) {
  return remove_xattr(ctx, SYS_fremovexattr, host_target(ctx, fd), name);
}

}  // namespace elfuse
