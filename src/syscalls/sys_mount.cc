// Mounts: mount, umount2, pivot_root and the mount API (open_tree,
// move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr). A guest
// never changes the host's mount table, whatever its credentials: these are
// refused (src/syscalls/privilege.h) after the checks Linux makes before it
// would act (fs/namespace.c, fs/fsopen.c), so that every error a caller can
// get without changing anything is Linux's, and the first success Linux
// would give is EPERM, the answer for a caller without CAP_SYS_ADMIN.
// open_tree without OPEN_TREE_CLONE changes nothing (an O_PATH fd of the
// object) and is implemented.
//
// Where a flag word's validity depends on the kernel version (new flags
// appear), the host is asked with a path that cannot be found, which makes
// the kernel check the flags and stop at the lookup without acting. That
// path is kMountProbePath, never with an *_EMPTY_PATH flag: elfuse's seccomp
// filter lets these calls reach the host only in that form
// (base/self_confine.h).
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "base/self_confine.h"
#include "syscalls/fs_common.h"
#include "syscalls/privilege.h"
#include "syscalls/table.h"
#include "syscalls/uio_common.h"

namespace elfuse {

using namespace fs;

namespace {

// fs/namespace.c may_mount(): CAP_SYS_ADMIN over the mount namespace.
bool may_mount() {
  return host_has_cap(CAP_SYS_ADMIN);
}

// A string the mount calls copy with strndup_user(PATH_MAX or PAGE_SIZE):
// EFAULT, or EINVAL when it does not end within the limit.
Result<std::string> copy_mount_string(const MemoryManager& mm, uint64_t addr) {
  auto s = mm.copy_in_string(addr, kPathMax);
  if (!s && s.error() == ENAMETOOLONG) return Errno{EINVAL};
  return s;
}

// The mount root test of path_mounted(): the object is the root of its
// mount (statx STATX_ATTR_MOUNT_ROOT).
bool is_mount_root(int fd) {
  struct statx stx {};
  if (::syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) != 0) return false;
  return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

// Whether a guest fd is an fs_context (fsopen/fspick): the guest can only
// have one from another process (SCM_RIGHTS).
bool is_fscontext(int fd) {
  char link[64];
  std::string path = proc_fd_path(fd);
  ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
  if (n < 0) return false;
  link[n] = 0;
  return strcmp(link, "anon_inode:[fscontext]") == 0;
}

// An fd argument the mount API looks up after its flag checks: EBADF for a
// closed fd or one of elfuse's; EINVAL for anything but an fs_context (the
// guest cannot make one); EPERM, the refusal, for one it was handed.
int64_t fscontext_fd_answer(const Process& p, uint64_t reg) {
  int fd = arg_int(reg);
  if (fd < 0 || fd >= p.fds.floor || ::fcntl(fd, F_GETFD) < 0) return -EBADF;
  return is_fscontext(fd) ? -EPERM : -EINVAL;
}

}  // namespace

// mount(source, target, type, flags, data), fs/namespace.c: the type, the
// source and the first byte of the data are copied (EFAULT, EINVAL for a
// string longer than PATH_MAX), the target is looked up (following
// symlinks), MS_NOUSER is EINVAL (after the old magic is dropped), then
// may_mount. The capability check comes after the lookup, so a caller
// without CAP_SYS_ADMIN gets exactly this sequence, and one with it gets
// EPERM at the same point.
int64_t sys_mount(SyscallContext& ctx, const SyscallArgs& a) {
  if (a.a[2] != 0) {
    if (auto s = copy_mount_string(ctx.mm, a.a[2]); !s) return -s.error();
  }
  if (a.a[0] != 0) {
    if (auto s = copy_mount_string(ctx.mm, a.a[0]); !s) return -s.error();
  }
  if (a.a[4] != 0) {
    char c;
    if (!ctx.mm.copy_in(&c, a.a[4], 1)) return -EFAULT;  // copy_mount_options
  }
  auto target = lookup_guest_path(ctx, AT_FDCWD, a.a[1], true);
  if (!target) return -target.error();
  uint64_t flags = a.a[3];
  if ((flags & MS_MGC_MSK) == MS_MGC_VAL) flags &= ~uint64_t{MS_MGC_MSK};
  if (flags & MS_NOUSER) return -EINVAL;
  return -EPERM;
}

// umount2(target, flags): unknown flags EINVAL, the lookup (UMOUNT_NOFOLLOW:
// the last symlink not followed), may_mount (EPERM), then EINVAL for
// anything but the root of a mount (can_umount); then EPERM.
int64_t sys_umount2(SyscallContext& ctx, const SyscallArgs& a) {
  constexpr unsigned kUmountNofollow = 8;
  unsigned flags = arg_uint(a.a[1]);
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | kUmountNofollow)) return -EINVAL;
  auto target = lookup_guest_path(ctx, AT_FDCWD, a.a[0], !(flags & kUmountNofollow));
  if (!target) return -target.error();
  if (!may_mount()) return -EPERM;
  if (!is_mount_root(target->get())) return -EINVAL;
  return -EPERM;
}

// pivot_root(new_root, put_old): may_mount first (EPERM), then both
// directories are looked up (ENOENT, ENOTDIR, EFAULT...); then EPERM.
int64_t sys_pivot_root(SyscallContext& ctx, const SyscallArgs& a) {
  if (!may_mount()) return -EPERM;
  auto new_root = lookup_guest_path(ctx, AT_FDCWD, a.a[0], true, false, true);
  if (!new_root) return -new_root.error();
  auto put_old = lookup_guest_path(ctx, AT_FDCWD, a.a[1], true, false, true);
  if (!put_old) return -put_old.error();
  return -EPERM;
}

// open_tree(dirfd, path, flags): without OPEN_TREE_CLONE, an O_PATH fd of
// the object (the host's call; under --sysroot on the object resolved in
// the root); with it, a detached copy of a mount tree: after the flag and
// may_mount checks and the lookup, EPERM.
int64_t sys_open_tree(SyscallContext& ctx, const SyscallArgs& a) {
  int dirfd = guest_dirfd(ctx.proc, a.a[0]);
  unsigned flags = arg_uint(a.a[2]);
  // The flags (EINVAL), and for a clone may_mount (EPERM), with a name that
  // is never found.
  long probe =
      ::syscall(SYS_open_tree, AT_FDCWD, kMountProbePath, flags & ~unsigned{AT_EMPTY_PATH});
  if (probe >= 0) ::close(static_cast<int>(probe));
  if (probe >= 0 || errno != ENOENT) return probe >= 0 ? -EPERM : -static_cast<int64_t>(errno);
  bool follow = !(flags & AT_SYMLINK_NOFOLLOW);
  bool empty_ok = flags & AT_EMPTY_PATH;
  if (flags & OPEN_TREE_CLONE) {
    auto target = lookup_guest_path(ctx, dirfd, a.a[1], follow, empty_ok);
    return target ? -EPERM : -target.error();
  }
  if (!ctx.proc.sysroot) {
    std::string path;
    if (a.a[1] != 0 || !empty_ok) {
      auto p = copy_path(ctx.mm, a.a[1]);
      if (!p) return -p.error();
      path = follow ? followed_host_path(ctx.proc, *p) : *p;
    }
    return new_fd_result(ctx.proc, ::syscall(SYS_open_tree, dirfd, path.c_str(), flags));
  }
  auto target = lookup_guest_path(ctx, dirfd, a.a[1], follow, empty_ok);
  if (!target) return -target.error();
  return new_fd_result(ctx.proc,
                       ::syscall(SYS_open_tree, target->get(), "",
                                 (flags & ~unsigned{AT_SYMLINK_NOFOLLOW}) | AT_EMPTY_PATH));
}

// open_tree_attr(dirfd, path, flags, attr, size), fs/namespace.c: a NULL
// attr with a size is EINVAL; then open_tree's answer (above: an O_PATH
// fd, or EPERM for OPEN_TREE_CLONE); then, with attr, mount_setattr's
// checks of it (size, may_mount, the struct, the attributes: asked of the
// host with a name never found); a change of nothing keeps the fd; a
// change would alter a mount of the host: EPERM.
int64_t sys_open_tree_attr(SyscallContext& ctx, const SyscallArgs& a) {
  const uint64_t uattr = a.a[3], usize = a.a[4];
  if (!uattr && usize) return -EINVAL;
  int64_t fd = sys_open_tree(ctx, a);
  if (fd < 0 || !uattr) return fd;
  std::vector<unsigned char> attr(usize <= kPageSize ? usize : 0);
  const void* host_attr = attr.empty() ? uio::fault_ptr() : attr.data();
  if (!attr.empty() && !ctx.mm.copy_in(attr.data(), uattr, usize)) host_attr = uio::fault_ptr();
  long probe = ::syscall(SYS_mount_setattr, AT_FDCWD, kMountProbePath, 0, host_attr, usize);
  if (probe == 0) return fd;
  int64_t err = errno == ENOENT ? -EPERM : -static_cast<int64_t>(errno);
  ::close(static_cast<int>(fd));
  return err;
}

// move_mount(from_dirfd, from_path, to_dirfd, to_path, flags): may_mount
// first (EPERM); then the flags (asked of the host with names never found)
// and both lookups; then EPERM.
int64_t sys_move_mount(SyscallContext& ctx, const SyscallArgs& a) {
  if (!may_mount()) return -EPERM;
  unsigned flags = arg_uint(a.a[4]);
  long probe = ::syscall(SYS_move_mount, AT_FDCWD, kMountProbePath, AT_FDCWD, kMountProbePath,
                         flags & ~unsigned{MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH});
  if (probe == 0 || errno != ENOENT) return probe == 0 ? -EPERM : -static_cast<int64_t>(errno);
  auto from = lookup_guest_path(ctx, guest_dirfd(ctx.proc, a.a[0]), a.a[1],
                                flags & MOVE_MOUNT_F_SYMLINKS, flags & MOVE_MOUNT_F_EMPTY_PATH);
  if (!from) return -from.error();
  auto to = lookup_guest_path(ctx, guest_dirfd(ctx.proc, a.a[2]), a.a[3],
                              flags & MOVE_MOUNT_T_SYMLINKS, flags & MOVE_MOUNT_T_EMPTY_PATH);
  if (!to) return -to.error();
  return -EPERM;
}

// fsopen(fs_name, flags), fs/fsopen.c: may_mount (EPERM), the flags
// (EINVAL), the name (EFAULT, EINVAL past a page), a file-system type the
// host knows (ENODEV; the host loads no modules); then EPERM.
int64_t sys_fsopen(SyscallContext& ctx, const SyscallArgs& a) {
  if (!may_mount()) return -EPERM;
  if (arg_uint(a.a[1]) & ~unsigned{FSOPEN_CLOEXEC}) return -EINVAL;
  auto name = copy_mount_string(ctx.mm, a.a[0]);
  if (!name) return -name.error();
  FILE* f = fopen("/proc/filesystems", "re");
  bool known = false;
  if (f) {
    char line[256];
    while (!known && fgets(line, sizeof line, f)) {
      char* type = strrchr(line, '\t');
      type = type ? type + 1 : line;
      type[strcspn(type, "\n")] = 0;
      known = *name == type;
    }
    fclose(f);
  }
  return known ? -EPERM : -ENODEV;
}

// fsconfig(fd, cmd, key, value, aux): the command's argument rules
// (EINVAL; an unknown command EOPNOTSUPP), then the fd must be an
// fs_context (EBADF, EINVAL), which a guest cannot make.
int64_t sys_fsconfig(SyscallContext& ctx, const SyscallArgs& a) {
  int fd = arg_int(a.a[0]);
  bool key = a.a[2] != 0, value = a.a[3] != 0;
  int aux = arg_int(a.a[4]);
  if (fd < 0) return -EINVAL;
  switch (arg_uint(a.a[1])) {
    case FSCONFIG_SET_FLAG:
      if (!key || value || aux) return -EINVAL;
      break;
    case FSCONFIG_SET_STRING:
      if (!key || !value || aux) return -EINVAL;
      break;
    case FSCONFIG_SET_BINARY:
      if (!key || !value || aux <= 0 || aux > 1024 * 1024) return -EINVAL;
      break;
    case FSCONFIG_SET_PATH:
    case FSCONFIG_SET_PATH_EMPTY:
      if (!key || !value || (aux != AT_FDCWD && aux < 0)) return -EINVAL;
      break;
    case FSCONFIG_SET_FD:
      if (!key || value || aux < 0) return -EINVAL;
      break;
    case FSCONFIG_CMD_CREATE:
    case FSCONFIG_CMD_RECONFIGURE:
    case 8:  // FSCONFIG_CMD_CREATE_EXCL
      if (key || value || aux) return -EINVAL;
      break;
    default:
      return -EOPNOTSUPP;
  }
  return fscontext_fd_answer(ctx.proc, a.a[0]);
}

// fsmount(fs_fd, flags, attr_flags): may_mount (EPERM), the flags (asked of
// the host with no fd), then the fd as fsconfig's.
int64_t sys_fsmount(SyscallContext& ctx, const SyscallArgs& a) {
  long probe = ::syscall(SYS_fsmount, -1, arg_uint(a.a[1]), arg_uint(a.a[2]));
  if (probe >= 0) ::close(static_cast<int>(probe));
  if (probe >= 0 || errno != EBADF) return probe >= 0 ? -EPERM : -static_cast<int64_t>(errno);
  return fscontext_fd_answer(ctx.proc, a.a[0]);
}

// fspick(dirfd, path, flags): may_mount (EPERM) and the flags (EINVAL),
// asked of the host with a name never found; the lookup; EINVAL for
// anything but the root of a mount; then EPERM.
int64_t sys_fspick(SyscallContext& ctx, const SyscallArgs& a) {
  unsigned flags = arg_uint(a.a[2]);
  long probe =
      ::syscall(SYS_fspick, AT_FDCWD, kMountProbePath, flags & ~unsigned{FSPICK_EMPTY_PATH});
  if (probe >= 0) ::close(static_cast<int>(probe));
  if (probe >= 0 || errno != ENOENT) return probe >= 0 ? -EPERM : -static_cast<int64_t>(errno);
  auto target = lookup_guest_path(ctx, guest_dirfd(ctx.proc, a.a[0]), a.a[1],
                                  !(flags & FSPICK_SYMLINK_NOFOLLOW), flags & FSPICK_EMPTY_PATH);
  if (!target) return -target.error();
  return is_mount_root(target->get()) ? -EPERM : -EINVAL;
}

// mount_setattr(dirfd, path, flags, attr, size): the flags and size
// (EINVAL, E2BIG), may_mount (EPERM), the struct (EFAULT, E2BIG for a
// non-zero tail), a change of nothing (0), the attributes (EINVAL), all
// asked of the host with the guest's struct and a name never found; then
// the lookup; then EPERM.
int64_t sys_mount_setattr(SyscallContext& ctx, const SyscallArgs& a) {
  unsigned flags = arg_uint(a.a[2]);
  uint64_t usize = a.a[4];
  std::vector<unsigned char> attr(usize <= kPageSize ? usize : 0);
  const void* host_attr = nullptr;
  if (a.a[3] != 0 || usize != 0) {
    host_attr = attr.empty() ? uio::fault_ptr() : attr.data();
    if (!attr.empty() && !ctx.mm.copy_in(attr.data(), a.a[3], usize)) host_attr = uio::fault_ptr();
  }
  long probe = ::syscall(SYS_mount_setattr, AT_FDCWD, kMountProbePath,
                         flags & ~unsigned{AT_EMPTY_PATH}, host_attr, usize);
  if (probe == 0) return 0;
  if (errno != ENOENT) return -static_cast<int64_t>(errno);
  auto target = lookup_guest_path(ctx, guest_dirfd(ctx.proc, a.a[0]), a.a[1],
                                  !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH);
  if (!target) return -target.error();
  return -EPERM;
}

}  // namespace elfuse
