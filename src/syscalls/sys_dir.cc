// Name-space syscalls: access, readlink, mkdir, rmdir, unlink, rename, link,
// symlink, chmod, chown, utimensat, chdir, getcwd, umask. Each copies its
// path strings in once and asks the host, whose cwd and umask are the
// guest's.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <vector>

#include "fs/proc/procfs.h"
#include "syscalls/fs_common.h"
#include "syscalls/table.h"
#include "syscalls/uaccess.h"

namespace elfuse {

using namespace fs;

namespace {

// Most of these calls take one or two paths and some integers; the guest's
// syscall number is valid on the host too (same architecture).
// `follow`: the call follows a final symlink, so the exe link must lead to
// the guest program (chmod of /proc/self/exe must not reach elfuse).
enum Follow : bool { kNoFollow = false, kFollow = true };

// fs/namei.c may_mknod: checked before the parent is looked up.
int mknod_type_error(uint64_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
    case 0:
      return 0;
    case S_IFDIR:
      return EPERM;
    default:
      return EINVAL;
  }
}

// The one-path calls under --sysroot (docs/internals.md, "Paths and
// --sysroot"). Calls that create or remove a name act on (parent fd, last
// component); calls that act on an existing object resolve it to an O_PATH
// fd and then use the fd (AT_EMPTY_PATH, fchdir, or /proc/self/fd/N), so the
// host never looks a guest name up outside the root. `path` already has the
// exe link mapped when the call follows.
int64_t rooted_path1(SyscallContext& ctx, long nr, int dirfd, const std::string& path, uint64_t b,
                     uint64_t c, uint64_t d) {
  const Sysroot& root = *ctx.proc.sysroot;
  auto parent_call = [&](auto&& call) -> int64_t {
    auto p = root.parent(dirfd, path);
    if (!p) return -p.error();
    return host_rax(call(p->dirfd, p->name.c_str()));
  };
  auto object = [&](bool follow, bool directory = false) {
    return root.lookup(dirfd, path, follow, directory);
  };
  switch (nr) {
    case SYS_mkdir:
    case SYS_mkdirat:
      return parent_call([&](int fd, const char* n) { return ::syscall(SYS_mkdirat, fd, n, b); });
    case SYS_rmdir:
      return parent_call(
          [&](int fd, const char* n) { return ::syscall(SYS_unlinkat, fd, n, AT_REMOVEDIR); });
    case SYS_unlink:
      return parent_call([&](int fd, const char* n) { return ::syscall(SYS_unlinkat, fd, n, 0); });
    case SYS_unlinkat:
      if (b & ~static_cast<uint64_t>(AT_REMOVEDIR)) return -EINVAL;  // fs/namei.c unlinkat
      return parent_call([&](int fd, const char* n) { return ::syscall(SYS_unlinkat, fd, n, b); });
    case SYS_mknod:
    case SYS_mknodat:
      if (int e = mknod_type_error(b)) return -e;
      return parent_call(
          [&](int fd, const char* n) { return ::syscall(SYS_mknodat, fd, n, b, c); });
    case SYS_chmod:
    case SYS_fchmodat: {
      auto fd = object(true);
      if (!fd) return -fd.error();
      return host_rax(::syscall(SYS_chmod, proc_fd_path(fd->get()).c_str(), b));
    }
    case SYS_chown:
    case SYS_lchown:
    case SYS_fchownat: {
      int flags = nr == SYS_fchownat ? static_cast<int>(d) : 0;
      // fs/open.c do_fchownat: bad flags are EINVAL before the lookup.
      if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
      if (path.empty() && (flags & AT_EMPTY_PATH))
        return host_rax(::syscall(SYS_fchownat, dirfd, "", b, c, flags));
      bool follow = nr == SYS_chown || (nr == SYS_fchownat && !(flags & AT_SYMLINK_NOFOLLOW));
      auto fd = object(follow);
      if (!fd) return -fd.error();
      return host_rax(::syscall(SYS_fchownat, fd->get(), "", b, c, AT_EMPTY_PATH));
    }
    case SYS_chdir: {
      // The cwd stays a real host directory inside the root, so relative
      // lookups start there (Sysroot::resolve).
      auto fd = object(true, true);
      if (!fd) return -fd.error();
      return host_rax(::syscall(SYS_fchdir, fd->get()));
    }
    default:
      return -ENOSYS;
  }
}

int64_t path1(SyscallContext& ctx, long nr, Follow follow, Path path_arg, uint64_t b = 0,
              uint64_t c = 0) {
  auto path = path_arg.get(ctx.mm);
  if (!path) return -path.error();
  if (hidden_proc_entry(ctx.proc, AT_FDCWD, *path)) return -ENOENT;
  std::string host = follow ? followed_host_path(ctx.proc, *path) : *path;
  if (ctx.proc.sysroot) return rooted_path1(ctx, nr, AT_FDCWD, host, b, c, 0);
  return host_rax(::syscall(nr, host.c_str(), b, c));
}

int64_t at_path1(SyscallContext& ctx, long nr, Follow follow, DirFd dirfd_reg, Path path_arg,
                 uint64_t b = 0, uint64_t c = 0, uint64_t d = 0) {
  auto path = path_arg.get(ctx.mm);
  if (!path) return -path.error();
  if (hidden_proc_entry(ctx.proc, guest_dirfd(ctx.proc, dirfd_reg), *path)) return -ENOENT;
  std::string host = follow ? followed_host_path(ctx.proc, *path) : *path;
  if (ctx.proc.sysroot)
    return rooted_path1(ctx, nr, guest_dirfd(ctx.proc, dirfd_reg), host, b, c, d);
  return host_rax(::syscall(nr, guest_dirfd(ctx.proc, dirfd_reg), host.c_str(), b, c, d));
}

// access(2) family under --sysroot. fs/open.c do_faccessat checks the mode
// and flags before the lookup.
int64_t rooted_access(SyscallContext& ctx, int dirfd, const std::string& path, int mode,
                      int flags) {
  if (mode & ~S_IRWXO) return -EINVAL;
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  if (path.empty() && (flags & AT_EMPTY_PATH))
    return host_rax(::syscall(SYS_faccessat2, dirfd, "", mode, flags));
  auto fd = ctx.proc.sysroot->lookup(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW));
  if (!fd) return -fd.error();
  return host_rax(
      ::syscall(SYS_faccessat2, fd->get(), "", mode, (flags & AT_EACCESS) | AT_EMPTY_PATH));
}

int64_t do_readlinkat(SyscallContext& ctx, int dirfd, Path path_arg, OutBuf buf, int bufsiz) {
  // fs/stat.c do_readlinkat: bufsiz <= 0 is EINVAL before the name is read.
  if (bufsiz <= 0) return -EINVAL;
  auto path = path_arg.get(ctx.mm);
  if (!path) return -path.error();
  if (hidden_proc_entry(ctx.proc, dirfd, *path)) return -ENOENT;
  // The exe link names the guest program (proc(5) /proc/pid/exe); a
  // relative name via a /proc dirfd is not recognised. Absolute paths
  // ignore dirfd, as in Linux.
  if (!ctx.proc.exe_path.empty() && is_proc_self_exe(ctx.proc, *path)) {
    const std::string& exe = ctx.proc.exe_path;
    uint64_t n = std::min<uint64_t>(exe.size(), static_cast<uint64_t>(bufsiz));
    auto r = buf.put(ctx.mm, exe.data(), n);
    if (!r) return -r.error();
    return static_cast<int64_t>(n);
  }
  // Another guest process's exe link: its program (its elfuse answers).
  if (auto peer = peer_exe(ctx.proc.pid, *path)) {
    if (!peer->ok()) return -peer->error();
    const std::string& exe = **peer;
    uint64_t n = std::min<uint64_t>(exe.size(), static_cast<uint64_t>(bufsiz));
    auto r = buf.put(ctx.mm, exe.data(), n);
    if (!r) return -r.error();
    return static_cast<int64_t>(n);
  }
  // Link targets are at most a page (PATH_MAX, or d_path's page for /proc
  // links), so a bounce buffer of min(bufsiz, 64 KiB) truncates exactly
  // as the guest's buffer would.
  std::vector<char> tmp(std::min(bufsiz, 1 << 16));
  long r;
  if (ctx.proc.sysroot) {
    // The link itself, resolved inside the root; readlinkat on the O_PATH
    // fd says ENOENT for an object that is not a symlink (fs/stat.c
    // do_readlinkat, empty name), where a named lookup says EINVAL.
    auto fd = ctx.proc.sysroot->lookup(dirfd, *path, false);
    if (!fd) return -fd.error();
    r = ::syscall(SYS_readlinkat, fd->get(), "", tmp.data(), tmp.size());
    if (r < 0 && errno == ENOENT) errno = EINVAL;
  } else {
    r = ::syscall(SYS_readlinkat, dirfd, path->c_str(), tmp.data(), tmp.size());
  }
  if (r < 0) return -static_cast<int64_t>(errno);
  auto c = buf.put(ctx.mm, tmp.data(), static_cast<uint64_t>(r));
  if (!c) return -c.error();
  return r;
}

// Two-path calls (rename, link, symlink and their *at forms).
Result<std::pair<std::string, std::string>> two_paths(SyscallContext& ctx, Path p1, Path p2) {
  auto a = TRY(p1.get(ctx.mm));
  auto b = TRY(p2.get(ctx.mm));
  return std::make_pair(std::move(a), std::move(b));
}

// rename family under --sysroot: both names by (parent fd, last component).
// fs/namei.c do_renameat2 checks the flags before any lookup.
int64_t rooted_rename(SyscallContext& ctx, int olddir, const std::string& oldp, int newdir,
                      const std::string& newp, unsigned flags) {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return -EINVAL;
  if ((flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) && (flags & RENAME_EXCHANGE)) return -EINVAL;
  auto from = ctx.proc.sysroot->parent(olddir, oldp);
  if (!from) return -from.error();
  auto to = ctx.proc.sysroot->parent(newdir, newp);
  if (!to) return -to.error();
  return host_rax(::syscall(SYS_renameat2, from->dirfd, from->name.c_str(), to->dirfd,
                            to->name.c_str(), flags));
}

// link family under --sysroot. The existing file is resolved to an O_PATH
// fd (its last symlink followed only with AT_SYMLINK_FOLLOW) and linked
// through /proc/self/fd/N with AT_SYMLINK_FOLLOW, the unprivileged form
// linkat(2) documents; AT_EMPTY_PATH with an empty name links the guest's
// fd itself (the host checks CAP_DAC_READ_SEARCH).
int64_t rooted_link(SyscallContext& ctx, int olddir, const std::string& oldp, int newdir,
                    const std::string& newp, int flags) {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return -EINVAL;  // fs/namei.c do_linkat
  auto to = ctx.proc.sysroot->parent(newdir, newp);
  if (!to) return -to.error();
  if (oldp.empty() && (flags & AT_EMPTY_PATH))
    return host_rax(::syscall(SYS_linkat, olddir, "", to->dirfd, to->name.c_str(), AT_EMPTY_PATH));
  auto from = ctx.proc.sysroot->lookup(olddir, oldp, flags & AT_SYMLINK_FOLLOW);
  if (!from) return -from.error();
  return host_rax(::syscall(SYS_linkat, AT_FDCWD, proc_fd_path(from->get()).c_str(), to->dirfd,
                            to->name.c_str(), AT_SYMLINK_FOLLOW));
}

int64_t rooted_symlink(SyscallContext& ctx, const std::string& target, int newdir,
                       const std::string& newp) {
  auto to = ctx.proc.sysroot->parent(newdir, newp);
  if (!to) return -to.error();
  return host_rax(::syscall(SYS_symlinkat, target.c_str(), to->dirfd, to->name.c_str()));
}

}  // namespace

// access(2)/faccessat(2): the mode and flags are checked by the host; the
// exe link is followed to the guest program.
int64_t sys_access(SyscallContext& ctx, Path path_arg, AccessMode mode) {
  auto path = path_arg.get(ctx.mm);
  if (!path) return -path.error();
  if (hidden_proc_entry(ctx.proc, AT_FDCWD, *path)) return -ENOENT;
  std::string host = followed_host_path(ctx.proc, *path);
  if (ctx.proc.sysroot) return rooted_access(ctx, AT_FDCWD, host, mode, 0);
  return host_rax(::syscall(SYS_access, host.c_str(), mode.v));
}

int64_t sys_faccessat(SyscallContext& ctx, DirFd dirfd, Path path_arg, AccessMode mode) {
  auto path = path_arg.get(ctx.mm);
  if (!path) return -path.error();
  if (hidden_proc_entry(ctx.proc, guest_dirfd(ctx.proc, dirfd), *path)) return -ENOENT;
  std::string host = followed_host_path(ctx.proc, *path);
  if (ctx.proc.sysroot) return rooted_access(ctx, guest_dirfd(ctx.proc, dirfd), host, mode, 0);
  return host_rax(::syscall(SYS_faccessat, guest_dirfd(ctx.proc, dirfd), host.c_str(), mode.v));
}

int64_t sys_faccessat2(SyscallContext& ctx, DirFd dirfd, Path path_arg, AccessMode mode,
                       AtFlags flags_arg) {
  auto path = path_arg.get(ctx.mm);
  if (!path) return -path.error();
  if (hidden_proc_entry(ctx.proc, guest_dirfd(ctx.proc, dirfd), *path)) return -ENOENT;
  int flags = flags_arg;
  std::string host = (flags & AT_SYMLINK_NOFOLLOW) ? *path : followed_host_path(ctx.proc, *path);
  if (ctx.proc.sysroot) return rooted_access(ctx, guest_dirfd(ctx.proc, dirfd), host, mode, flags);
  return host_rax(
      ::syscall(SYS_faccessat2, guest_dirfd(ctx.proc, dirfd), host.c_str(), mode.v, flags));
}

int64_t sys_readlink(SyscallContext& ctx, Path path, OutBuf buf, IntSize bufsiz) {
  return do_readlinkat(ctx, AT_FDCWD, path, buf, bufsiz);
}

int64_t sys_readlinkat(SyscallContext& ctx, DirFd dirfd, Path path, OutBuf buf, IntSize bufsiz) {
  return do_readlinkat(ctx, guest_dirfd(ctx.proc, dirfd), path, buf, bufsiz);
}

int64_t sys_mkdir(SyscallContext& ctx, Path path, UMode mode) {
  return path1(ctx, SYS_mkdir, kNoFollow, path, mode);
}
int64_t sys_mkdirat(SyscallContext& ctx, DirFd dirfd, Path path, UMode mode) {
  return at_path1(ctx, SYS_mkdirat, kNoFollow, dirfd, path, mode);
}
int64_t sys_rmdir(SyscallContext& ctx, Path path) {
  return path1(ctx, SYS_rmdir, kNoFollow, path);
}
int64_t sys_unlink(SyscallContext& ctx, Path path) {
  return path1(ctx, SYS_unlink, kNoFollow, path);
}
int64_t sys_unlinkat(SyscallContext& ctx, DirFd dirfd, Path path, UAtFlags flags) {
  return at_path1(ctx, SYS_unlinkat, kNoFollow, dirfd, path, flags);
}

// mknod(2): device nodes need privileges the host checks.
int64_t sys_mknod(SyscallContext& ctx, Path path, UMode mode, UIntFlags dev) {
  return path1(ctx, SYS_mknod, kNoFollow, path, mode, dev);
}
int64_t sys_mknodat(SyscallContext& ctx, DirFd dirfd, Path path, UMode mode, UIntFlags dev) {
  return at_path1(ctx, SYS_mknodat, kNoFollow, dirfd, path, mode, dev);
}

int64_t sys_rename(SyscallContext& ctx, Path oldpath, Path newpath) {
  auto p = two_paths(ctx, oldpath, newpath);
  if (!p) return -p.error();
  if (ctx.proc.sysroot) return rooted_rename(ctx, AT_FDCWD, p->first, AT_FDCWD, p->second, 0);
  return host_rax(::syscall(SYS_rename, p->first.c_str(), p->second.c_str()));
}
int64_t sys_renameat(SyscallContext& ctx, DirFd olddir, Path oldpath, DirFd newdir, Path newpath) {
  auto p = two_paths(ctx, oldpath, newpath);
  if (!p) return -p.error();
  if (ctx.proc.sysroot)
    return rooted_rename(ctx, guest_dirfd(ctx.proc, olddir), p->first,
                         guest_dirfd(ctx.proc, newdir), p->second, 0);
  return host_rax(::syscall(SYS_renameat, guest_dirfd(ctx.proc, olddir), p->first.c_str(),
                            guest_dirfd(ctx.proc, newdir), p->second.c_str()));
}
int64_t sys_renameat2(SyscallContext& ctx, DirFd olddir, Path oldpath, DirFd newdir, Path newpath,
                      UIntFlags flags) {
  auto p = two_paths(ctx, oldpath, newpath);
  if (!p) return -p.error();
  if (ctx.proc.sysroot)
    return rooted_rename(ctx, guest_dirfd(ctx.proc, olddir), p->first,
                         guest_dirfd(ctx.proc, newdir), p->second, flags);
  return host_rax(::syscall(SYS_renameat2, guest_dirfd(ctx.proc, olddir), p->first.c_str(),
                            guest_dirfd(ctx.proc, newdir), p->second.c_str(), flags.v));
}

int64_t sys_link(SyscallContext& ctx, Path oldpath, Path newpath) {
  auto p = two_paths(ctx, oldpath, newpath);
  if (!p) return -p.error();
  if (ctx.proc.sysroot) return rooted_link(ctx, AT_FDCWD, p->first, AT_FDCWD, p->second, 0);
  return host_rax(::syscall(SYS_link, p->first.c_str(), p->second.c_str()));
}
// linkat(2) with AT_EMPTY_PATH links the file dirfd refers to; the host
// checks the capability it needs.
int64_t sys_linkat(SyscallContext& ctx, DirFd olddir, Path oldpath, DirFd newdir, Path newpath,
                   AtFlags flags) {
  auto p = two_paths(ctx, oldpath, newpath);
  if (!p) return -p.error();
  if (ctx.proc.sysroot)
    return rooted_link(ctx, guest_dirfd(ctx.proc, olddir), p->first, guest_dirfd(ctx.proc, newdir),
                       p->second, flags);
  return host_rax(::syscall(SYS_linkat, guest_dirfd(ctx.proc, olddir), p->first.c_str(),
                            guest_dirfd(ctx.proc, newdir), p->second.c_str(), flags.v));
}

// symlink(2): the target is stored as given, never resolved.
int64_t sys_symlink(SyscallContext& ctx, Path target, Path linkpath) {
  auto p = two_paths(ctx, target, linkpath);
  if (!p) return -p.error();
  if (ctx.proc.sysroot) return rooted_symlink(ctx, p->first, AT_FDCWD, p->second);
  return host_rax(::syscall(SYS_symlink, p->first.c_str(), p->second.c_str()));
}
int64_t sys_symlinkat(SyscallContext& ctx, Path target, DirFd newdir, Path linkpath) {
  auto p = two_paths(ctx, target, linkpath);
  if (!p) return -p.error();
  if (ctx.proc.sysroot)
    return rooted_symlink(ctx, p->first, guest_dirfd(ctx.proc, newdir), p->second);
  return host_rax(
      ::syscall(SYS_symlinkat, p->first.c_str(), guest_dirfd(ctx.proc, newdir), p->second.c_str()));
}

int64_t sys_chmod(SyscallContext& ctx, Path path, UMode mode) {
  return path1(ctx, SYS_chmod, kFollow, path, mode);
}
int64_t sys_fchmod(SyscallContext& ctx, Fd fd_arg, UMode mode) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  return host_rax(::syscall(SYS_fchmod, *fd, mode.v));
}
// fchmodat(2): the raw syscall has no flags argument (fchmodat2 does).
int64_t sys_fchmodat(SyscallContext& ctx, DirFd dirfd, Path path, UMode mode) {
  return at_path1(ctx, SYS_fchmodat, kFollow, dirfd, path, mode);
}

// fchmodat2(dirfd, path, mode, flags), fs/open.c do_fchmodat: the flags
// (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH; others EINVAL), the path, the
// lookup, then chmod_common on the object (a symlink itself with
// AT_SYMLINK_NOFOLLOW: the file system's answer, EOPNOTSUPP on most).
// Under --sysroot the object resolved inside the root, by its O_PATH fd.
int64_t sys_fchmodat2(SyscallContext& ctx, DirFd dirfd_arg, Path path_arg, UMode mode_arg,
                      UAtFlags flags_arg) {
  constexpr long kNrFchmodat2 = 452;
  const unsigned flags = flags_arg;
  const unsigned mode = mode_arg;
  if (flags & ~unsigned{AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH}) return -EINVAL;
  const int dirfd = guest_dirfd(ctx.proc, dirfd_arg);
  auto path = path_arg.get(ctx.mm);
  if (!path) return -path.error();
  if (hidden_proc_entry(ctx.proc, dirfd, *path)) return -ENOENT;
  const bool follow = !(flags & AT_SYMLINK_NOFOLLOW);
  std::string host = follow ? followed_host_path(ctx.proc, *path) : *path;
  if (!ctx.proc.sysroot || (host.empty() && (flags & AT_EMPTY_PATH)))
    return host_rax(::syscall(kNrFchmodat2, dirfd, host.c_str(), mode, flags));
  auto fd = ctx.proc.sysroot->lookup(dirfd, host, follow);
  if (!fd) return -fd.error();
  return host_rax(::syscall(kNrFchmodat2, fd->get(), "", mode, AT_EMPTY_PATH));
}

int64_t sys_chown(SyscallContext& ctx, Path path, Id owner, Id group) {
  return path1(ctx, SYS_chown, kFollow, path, owner, group);
}
int64_t sys_lchown(SyscallContext& ctx, Path path, Id owner, Id group) {
  return path1(ctx, SYS_lchown, kNoFollow, path, owner, group);
}
int64_t sys_fchown(SyscallContext& ctx, Fd fd_arg, Id owner, Id group) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  return host_rax(::syscall(SYS_fchown, *fd, owner.v, group.v));
}
int64_t sys_fchownat(SyscallContext& ctx, DirFd dirfd, Path path, Id owner, Id group,
                     AtFlags flags) {
  return at_path1(ctx, SYS_fchownat, (flags & AT_SYMLINK_NOFOLLOW) ? kNoFollow : kFollow, dirfd,
                  path, owner, group, static_cast<uint64_t>(static_cast<int64_t>(flags.v)));
}

// utimensat(2): a NULL path (Linux extension) changes the file dirfd refers
// to; a NULL times sets both to now. Both go to the host unchanged.
int64_t sys_utimensat(SyscallContext& ctx, DirFd dirfd_arg, Path path_arg,
                      In<TimespecPair> times_arg, AtFlags flags_arg) {
  std::string path;
  const char* host_path = nullptr;
  if (path_arg.addr != 0) {
    auto p = path_arg.get(ctx.mm);
    if (!p) return -p.error();
    path = (flags_arg & AT_SYMLINK_NOFOLLOW) ? *p : followed_host_path(ctx.proc, *p);
    host_path = path.c_str();
  }
  TimespecPair pair;
  struct timespec* times = pair.t;
  struct timespec* host_times = nullptr;
  if (!times_arg.null()) {
    auto c = times_arg.get(ctx.mm);
    if (!c) return -c.error();
    pair = *c;
    host_times = times;
  }
  int dirfd = guest_dirfd(ctx.proc, dirfd_arg);
  int flags = flags_arg;
  if (ctx.proc.sysroot && host_path && !(path.empty() && (flags & AT_EMPTY_PATH))) {
    // fs/utimes.c do_utimes: the times and the flags are checked before the
    // lookup; then the object is changed through its O_PATH fd.
    if (host_times)
      for (const auto& t : pair.t)
        if (t.tv_nsec != UTIME_NOW && t.tv_nsec != UTIME_OMIT &&
            (t.tv_nsec < 0 || t.tv_nsec >= 1000000000))
          return -EINVAL;
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
    auto fd = ctx.proc.sysroot->lookup(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW));
    if (!fd) return -fd.error();
    return host_rax(::syscall(SYS_utimensat, fd->get(), "", host_times, AT_EMPTY_PATH));
  }
  return host_rax(::syscall(SYS_utimensat, dirfd, host_path, host_times, flags));
}

int64_t sys_chdir(SyscallContext& ctx, Path path) {
  return path1(ctx, SYS_chdir, kFollow, path);
}

int64_t sys_fchdir(SyscallContext& ctx, Fd fd_arg) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  if (ctx.proc.sysroot) {
    // The cwd must stay inside the root: a directory fd from outside would
    // make every relative lookup start outside it.
    if (auto c = ctx.proc.sysroot->check_dirfd(*fd); !c) return -c.error();
  }
  return host_rax(::syscall(SYS_fchdir, *fd));
}

// getcwd(2), fs/d_path.c: the raw call returns the length including the NUL,
// ERANGE when it does not fit. The kernel builds the path in one page, so a
// bounce buffer of min(size, page) gives the same answers.
int64_t sys_getcwd(SyscallContext& ctx, OutBuf buf, Size size_arg) {
  size_t size = std::min<uint64_t>(size_arg, 4096);
  if (ctx.proc.sysroot) {
    // The path inside the root (fs/d_path.c prepend_path stops at the
    // process root); ERANGE when it does not fit, length with the NUL.
    auto cwd = ctx.proc.sysroot->guest_cwd();
    if (!cwd) return -cwd.error();
    uint64_t need = cwd->size() + 1;
    if (need > 4096) return -ENAMETOOLONG;
    if (need > size) return -ERANGE;
    auto c = buf.put(ctx.mm, cwd->c_str(), need);
    if (!c) return -c.error();
    return static_cast<int64_t>(need);
  }
  std::vector<char> tmp(size ? size : 1);
  long r = ::syscall(SYS_getcwd, tmp.data(), size);
  if (r < 0) return -static_cast<int64_t>(errno);
  auto c = buf.put(ctx.mm, tmp.data(), static_cast<uint64_t>(r));
  if (!c) return -c.error();
  return r;
}

// umask(2): the host's umask is the guest's; the kernel keeps mask & 0777.
int64_t sys_umask(SyscallContext& ctx, UMode mask) {
  return host_rax(::syscall(SYS_umask, mask.v));
}

}  // namespace elfuse
