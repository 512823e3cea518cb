// File syscalls: open, openat2, read/write and their vectored and positional
// forms (preadv2/pwritev2 with their RWF_* flags), readahead,
// sync_file_range, lseek, close, stat family, getdents64, truncate, sync,
// statfs, sendfile.
// Guest fd = host fd below the floor; buffers are translated into host
// iovecs and handed to the host kernel, which gives the Linux answer.
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/private_fd.h"
#include "fs/proc/procfs.h"
#include "kernel/proc_mem.h"
#include "kernel/signal.h"
#include "syscalls/fs_common.h"
#include "syscalls/table.h"
#include "syscalls/uaccess.h"
#include "syscalls/uio_common.h"

namespace elfuse {

using namespace fs;

// The kernel's struct stat / statfs on x86_64 are glibc's (arch/x86/include/
// uapi/asm/stat.h): copy them byte for byte.
static_assert(sizeof(struct stat) == 144);
static_assert(sizeof(struct statfs) == 120);
static_assert(sizeof(struct iovec) == 16);

namespace {

// Host transfer over translated guest ranges. One range is the common case
// and goes through the plain call, so its semantics are exactly the guest's
// call; several ranges (the buffer crosses VMAs) go through the vectored
// form, capped at IOV_MAX segments (a short transfer, which Linux allows).
int64_t host_transfer(int fd, std::vector<iovec>& iov, bool write, const int64_t* pos) {
  if (iov.size() > kIovMax) iov.resize(kIovMax);
  long r;
  if (iov.size() <= 1) {
    void* base = iov.empty() ? nullptr : iov[0].iov_base;
    size_t len = iov.empty() ? 0 : iov[0].iov_len;
    if (pos)
      r = ::syscall(write ? SYS_pwrite64 : SYS_pread64, fd, base, len, *pos);
    else
      r = ::syscall(write ? SYS_write : SYS_read, fd, base, len);
  } else if (pos) {
    r = write ? ::pwritev(fd, iov.data(), static_cast<int>(iov.size()), *pos)
              : ::preadv(fd, iov.data(), static_cast<int>(iov.size()), *pos);
  } else {
    r = ::syscall(write ? SYS_writev : SYS_readv, fd, iov.data(), iov.size());
  }
  return host_rax(r);
}

// The longest accessible prefix of [addr, addr+len) for prot: its length
// (len when all of it is), found by bisection since accessibility of
// prefixes is monotonic. Linux copies up to the first fault and returns that
// short count (EFAULT only when no byte moved).
uint64_t accessible_prefix(const MemoryManager& mm, uint64_t addr, uint64_t len, int prot) {
  if (mm.host_ranges(addr, len, prot)) return len;
  uint64_t ok = 0, bad = len;
  while (bad - ok > 1) {
    uint64_t mid = ok + (bad - ok) / 2;
    if (mm.host_ranges(addr, mid, prot))
      ok = mid;
    else
      bad = mid;
  }
  return ok;
}

// Whether the open file allows the transfer (vfs_read/vfs_write: FMODE_READ,
// FMODE_WRITE), from its access mode.
bool mode_allows(int fd, bool write) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0) return false;
  int acc = fl & O_ACCMODE;
  return write ? (acc == O_WRONLY || acc == O_RDWR) : (acc == O_RDONLY || acc == O_RDWR);
}

// read/write/pread64/pwrite64 on the guest's own mem file
// (kernel/proc_mem.h), with vfs_read/vfs_write's checks in their order:
// the mode (EBADF), access_ok of the buffer (EFAULT), then the offset
// (rw_verify_area, in proc_mem_rw) and MAX_RW_COUNT.
int64_t mem_file_rw(SyscallContext& ctx, int fd, const ProcMemRef& ref, const SyscallArgs& a,
                    bool write, bool positional) {
  // ksys_pread64/ksys_pwrite64: a negative offset is EINVAL there, whatever
  // the file (only read/write and lseek reach the upper half).
  if (positional && static_cast<int64_t>(a.a[3]) < 0) return -EINVAL;
  if (!mode_allows(fd, write)) return -EBADF;
  if (!linux_access_ok(a.a[1], a.a[2])) return -EFAULT;
  std::vector<iovec> segs{{reinterpret_cast<void*>(a.a[1]), std::min(a.a[2], kMaxRwCount)}};
  uint64_t pos = a.a[3];
  return proc_mem_rw(ctx.proc, ctx.mm, fd, ref, segs, write, positional ? &pos : nullptr);
}

// read/write/pread64/pwrite64.
int64_t do_rw(SyscallContext& ctx, const SyscallArgs& a, bool write, bool positional) {
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  if (auto mem = proc_mem_find(ctx.proc, *fd))
    return mem_file_rw(ctx, *fd, *mem, a, write, positional);
  uint64_t len = std::min(a.a[2], kMaxRwCount);  // fs/read_write.c rw_verify_area
  int prot = write ? PROT_READ : PROT_WRITE;
  auto iov = ctx.mm.host_ranges(a.a[1], len, prot);
  if (!iov) {
    // Transfer the longest accessible prefix.
    uint64_t ok = accessible_prefix(ctx.mm, a.a[1], len, prot);
    if (ok == 0) return fd_error_first(*fd, write ? O_WRONLY : O_RDONLY, iov.error());
    iov = ctx.mm.host_ranges(a.a[1], ok, prot);
    if (!iov) return fd_error_first(*fd, write ? O_WRONLY : O_RDONLY, iov.error());
  }
  int64_t pos = static_cast<int64_t>(a.a[3]);
  return host_transfer(*fd, *iov, write, positional ? &pos : nullptr);
}

// The vectored call the guest made, with an iovec array the host must
// refuse before it moves a byte: too many segments, an array at a faulting
// address, or segments of a length import_iovec refuses (their bases fault
// too). The host kernel orders that error against the fd's own: newer
// kernels check the fd's mode first (EBADF), older ones (6.1) import the
// array first (EINVAL, EFAULT).
int64_t host_refused_vector(int fd, const SyscallArgs& a, bool write, bool positional, bool v2,
                            const iovec* iov) {
  long nr = v2           ? (write ? SYS_pwritev2 : SYS_preadv2)
            : positional ? (write ? SYS_pwritev : SYS_preadv)
                         : (write ? SYS_writev : SYS_readv);
  return host_rax(::syscall(nr, fd, iov, a.a[2], a.a[3], a.a[4], a.a[5]));
}

// readv/writev/preadv/pwritev/preadv2/pwritev2: copy the guest's iovec
// array once, then translate each segment. lib/iov_iter.c: more than
// UIO_MAXIOV segments or a segment length that is negative as ssize_t is
// EINVAL; the total is clamped to MAX_RW_COUNT. The first byte that is not
// mapped ends the transfer there (Linux copies up to the fault and returns
// the short count); only a fault before any byte is EFAULT. v2: the RWF_* flags
// go to the host's preadv2/pwritev2, which checks them (EOPNOTSUPP) and acts
// on them; pos is then -1 for the file position.
int64_t do_rwv(SyscallContext& ctx, const SyscallArgs& a, bool write, bool positional,
               bool v2 = false) {
  int64_t pos = static_cast<int64_t>(a.a[3]);
  // fs/read_write.c do_preadv/do_pwritev: a negative offset is EINVAL before
  // the fd is looked up; preadv2's -1 is the readv path instead.
  if (positional && pos < 0 && !(v2 && pos == -1)) return -EINVAL;
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  uint64_t count = a.a[2];
  int want = write ? O_WRONLY : O_RDONLY;
  const auto* faulting = static_cast<const iovec*>(kHostFaultingAddress);
  if (count > kIovMax) return host_refused_vector(*fd, a, write, positional, v2, faulting);
  std::vector<iovec> guest(count);
  if (count > 0) {
    auto r = ctx.mm.copy_in(guest.data(), a.a[1], count * sizeof(iovec));
    if (!r) return host_refused_vector(*fd, a, write, positional, v2, faulting);
  }
  for (const auto& g : guest) {
    if (static_cast<int64_t>(g.iov_len) < 0) {
      std::vector<iovec> lens(guest);
      for (iovec& l : lens) l.iov_base = kHostFaultingAddress;
      return host_refused_vector(*fd, a, write, positional, v2, lens.data());
    }
  }

  if (auto mem = proc_mem_find(ctx.proc, *fd)) {
    // The guest's own mem file (kernel/proc_mem.h): vfs_readv's checks
    // (the mode, import_iovec's access_ok and MAX_RW_COUNT, then RWF_*
    // flags beyond RWF_HIPRI, EOPNOTSUPP in do_loop_readv_writev), then
    // mem_rw per segment.
    if (!mode_allows(*fd, write)) return -EBADF;
    std::vector<iovec> segs;
    uint64_t sum = 0;
    for (const auto& g : guest) {
      uint64_t len = std::min<uint64_t>(g.iov_len, kMaxRwCount - sum);
      if (!linux_access_ok(reinterpret_cast<uint64_t>(g.iov_base), len)) return -EFAULT;
      segs.push_back({g.iov_base, len});
      sum += len;
    }
    if (sum == 0) return 0;
    constexpr uint64_t kRwfHipri = 0x1;
    if (v2 && (a.a[5] & ~kRwfHipri)) return -EOPNOTSUPP;
    uint64_t at = static_cast<uint64_t>(pos);
    bool use_pos = positional && !(v2 && pos == -1);
    return proc_mem_rw(ctx.proc, ctx.mm, *fd, *mem, segs, write, use_pos ? &at : nullptr);
  }

  std::vector<iovec> host;
  uint64_t total = 0;
  for (const auto& g : guest) {
    uint64_t len = std::min<uint64_t>(g.iov_len, kMaxRwCount - total);
    uint64_t base = reinterpret_cast<uint64_t>(g.iov_base);
    int prot = write ? PROT_READ : PROT_WRITE;
    auto ranges = ctx.mm.host_ranges(base, len, prot);
    if (!ranges) {
      // The segment's accessible prefix is the end of the transfer.
      uint64_t ok = accessible_prefix(ctx.mm, base, len, prot);
      if (ok > 0) {
        if (auto part = ctx.mm.host_ranges(base, ok, prot)) {
          host.insert(host.end(), part->begin(), part->end());
          total += ok;
        }
      }
      if (total == 0) return fd_error_first(*fd, want, ranges.error());
      break;
    }
    host.insert(host.end(), ranges->begin(), ranges->end());
    total += len;
  }
  if (host.size() > kIovMax) host.resize(kIovMax);
  long r;
  if (v2) {
    // x86_64: pos_l carries the whole offset, pos_h is shifted out.
    r = ::syscall(write ? SYS_pwritev2 : SYS_preadv2, *fd, host.data(), host.size(), pos, 0,
                  a.a[5]);
  } else if (host.empty() && !positional) {
    // Zero bytes: still let the host check the fd and mode.
    r = ::syscall(write ? SYS_writev : SYS_readv, *fd, nullptr, 0);
  } else if (positional) {
    r = write ? ::pwritev(*fd, host.data(), static_cast<int>(host.size()), pos)
              : ::preadv(*fd, host.data(), static_cast<int>(host.size()), pos);
  } else {
    r = ::syscall(write ? SYS_writev : SYS_readv, *fd, host.data(), host.size());
  }
  return host_rax(r);
}

// fs/stat.c vfs_statx: flags outside these are EINVAL before the lookup.
constexpr int kStatFlags =
    AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE;

// Under --sysroot: the flags are checked as the kernel checks them, then the
// path is resolved inside the root to an O_PATH fd that the host stats with
// AT_EMPTY_PATH.
Result<UniqueFd> root_stat_target(const Process& p, int dirfd, const std::string& path, int flags,
                                  int valid) {
  if (flags & ~valid) return Errno{EINVAL};
  return p.sysroot->lookup(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW));
}
int root_stat_flags(int flags) {
  return (flags & ~AT_SYMLINK_NOFOLLOW) | AT_EMPTY_PATH;
}

// Copies a host struct out after a successful host call.
template <typename T>
int64_t out_struct(SyscallContext& ctx, long host_ret, Out<T> guest, const T& value) {
  if (host_ret < 0) return -static_cast<int64_t>(errno);
  auto r = guest.put(ctx.mm, value);
  if (!r) return -r.error();
  return host_ret;
}

int64_t do_openat(SyscallContext& ctx, int dirfd, Path path_arg, int f, uint64_t mode) {
  auto path = path_arg.get(ctx.mm);
  if (!path) return -path.error();
  // The guest's own /proc/<pid>/{maps,stat,...}: generated (fs/proc/procfs.h).
  if (auto own = open_own_proc_file(ctx.proc, ctx.thread, *path, f)) {
    if (!*own) return -own->error();
    return new_fd_result(ctx.proc, **own);
  }
  // elfuse's own fds through /proc/self/fd/N: as closed fds.
  if (hidden_proc_entry(ctx.proc, dirfd, *path)) return -ENOENT;
  // With O_NOFOLLOW the exe link itself is opened (ELOOP), like Linux.
  std::string host = (f & O_NOFOLLOW) ? *path : followed_host_path(ctx.proc, *path);
  long r;
  if (ctx.proc.sysroot) {
    auto o = ctx.proc.sysroot->open(dirfd, host, f, static_cast<unsigned>(mode));
    if (!o) return -o.error();
    r = *o;
  } else {
    r = ::syscall(SYS_openat, dirfd, host.c_str(), f, static_cast<mode_t>(mode));
    if (r < 0) return -static_cast<int64_t>(errno);
  }
  // Whatever name led there: a /proc object is what the guest may have of
  // it (fs/proc_view.h).
  auto g = gate_opened(ctx.proc, ctx.thread, static_cast<int>(r), f, dirfd, host.c_str());
  if (!g) return -g.error();
  return new_fd_result(ctx.proc, *g);
}

// stat/lstat/newfstatat. A NULL path with AT_EMPTY_PATH is passed on as NULL:
// Linux 6.11+ accepts it, older kernels answer EFAULT; the host knows which.
int64_t do_fstatat(SyscallContext& ctx, int dirfd, Path path_arg, Out<KernelStat> buf, int flags) {
  std::string path;
  const char* host_path = nullptr;
  if (path_arg.addr != 0 || !(flags & AT_EMPTY_PATH)) {
    auto p = path_arg.get(ctx.mm);
    if (!p) return -p.error();
    if (hidden_proc_entry(ctx.proc, dirfd, *p)) return -ENOENT;
    path = (flags & AT_SYMLINK_NOFOLLOW) ? *p : followed_host_path(ctx.proc, *p);
    host_path = path.c_str();
  }
  struct stat st {};
  if (ctx.proc.sysroot && host_path && !(path.empty() && (flags & AT_EMPTY_PATH))) {
    auto fd = root_stat_target(ctx.proc, dirfd, path, flags, kStatFlags);
    if (!fd) return -fd.error();
    long r = ::syscall(SYS_newfstatat, fd->get(), "", &st, root_stat_flags(flags));
    return out_struct(ctx, r, buf, st);
  }
  long r = ::syscall(SYS_newfstatat, dirfd, host_path, &st, flags);
  return out_struct(ctx, r, buf, st);
}

}  // namespace

int64_t sys_read(SyscallContext& ctx, const SyscallArgs& a) {
  int64_t kept;
  if (signals_kept_urg(ctx.thread) &&
      signalfd_read_kept(ctx, arg_int(a.a[0]), a.a[1], a.a[2], &kept))
    return kept;
  return do_rw(ctx, a, false, false);
}
int64_t sys_write(SyscallContext& ctx, const SyscallArgs& a) {
  return do_rw(ctx, a, true, false);
}
int64_t sys_pread64(SyscallContext& ctx, const SyscallArgs& a) {
  return do_rw(ctx, a, false, true);
}
int64_t sys_pwrite64(SyscallContext& ctx, const SyscallArgs& a) {
  return do_rw(ctx, a, true, true);
}
int64_t sys_readv(SyscallContext& ctx, const SyscallArgs& a) {
  return do_rwv(ctx, a, false, false);
}
int64_t sys_writev(SyscallContext& ctx, const SyscallArgs& a) {
  return do_rwv(ctx, a, true, false);
}
// preadv/pwritev: on 64-bit the kernel's pos_from_hilo(pos_h, pos_l) is just
// pos_l (fs/read_write.c), the fourth register.
int64_t sys_preadv(SyscallContext& ctx, const SyscallArgs& a) {
  return do_rwv(ctx, a, false, true);
}
int64_t sys_pwritev(SyscallContext& ctx, const SyscallArgs& a) {
  return do_rwv(ctx, a, true, true);
}
// preadv2/pwritev2(fd, iov, iovcnt, pos_l, pos_h, flags).
int64_t sys_preadv2(SyscallContext& ctx, const SyscallArgs& a) {
  return do_rwv(ctx, a, false, true, true);
}
int64_t sys_pwritev2(SyscallContext& ctx, const SyscallArgs& a) {
  return do_rwv(ctx, a, true, true, true);
}

int64_t sys_lseek(SyscallContext& ctx, Fd fd_arg, Off offset, Whence whence) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  int64_t off = offset;
  if (auto mem = proc_mem_find(ctx.proc, *fd))
    return proc_mem_lseek(ctx.proc, *fd, *mem, off, static_cast<int>(whence.v));
  return host_rax(::syscall(SYS_lseek, *fd, off, whence.v));
}

int64_t sys_open(SyscallContext& ctx, Path path, OpenFlags flags, Mode mode) {
  return do_openat(ctx, AT_FDCWD, path, flags, mode);
}

// creat(2) is open(path, O_CREAT|O_WRONLY|O_TRUNC, mode) (fs/open.c).
int64_t sys_creat(SyscallContext& ctx, Path path, Mode mode) {
  return do_openat(ctx, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int64_t sys_openat(SyscallContext& ctx, DirFd dirfd, Path path, OpenFlags flags, Mode mode) {
  return do_openat(ctx, guest_dirfd(ctx.proc, dirfd), path, flags, mode);
}

namespace {

// include/uapi/linux/openat2.h struct open_how (OPEN_HOW_SIZE_VER0).
struct OpenHow {
  uint64_t flags, mode, resolve;
};
static_assert(sizeof(OpenHow) == 24);

// After a host openat2 that opened something the guest must not see as
// is: the exe link (the guest program, not elfuse) and the generated /proc
// files of the guest itself. Returns the fd to give the guest (r itself, or
// its replacement) or -errno.
int64_t replace_own_objects(SyscallContext& ctx, int dirfd, const std::string& path,
                            const OpenHow& how, long r) {
  int flags = static_cast<int>(how.flags);
  // RESOLVE_IN_ROOT and RESOLVE_BENEATH walks do not start at "/": an
  // absolute name there is not the exe link.
  bool scoped = how.resolve & (RESOLVE_IN_ROOT | RESOLVE_BENEATH);
  if (!(flags & O_NOFOLLOW) && !scoped && !ctx.proc.exe_path.empty() &&
      is_proc_self_exe(ctx.proc, path)) {
    ::close(static_cast<int>(r));
    OpenHow plain{how.flags, how.mode, 0};
    if (ctx.proc.sysroot) {
      auto fd = ctx.proc.sysroot->open2(AT_FDCWD, ctx.proc.exe_path, how.flags, how.mode, 0);
      return fd ? *fd : -fd.error();
    }
    return host_rax(
        ::syscall(SYS_openat2, AT_FDCWD, ctx.proc.exe_path.c_str(), &plain, sizeof plain));
  }
  // A /proc object: generated, refused or passed (fs/proc_view.h).
  auto g = gate_opened(ctx.proc, ctx.thread, static_cast<int>(r), flags, dirfd, path.c_str());
  return g ? *g : -g.error();
}

}  // namespace

// openat2(dirfd, path, how, size), fs/open.c: size below
// OPEN_HOW_SIZE_VER0 is EINVAL, above a page E2BIG; the struct is read
// (EFAULT; a non-zero byte past the kernel's struct is E2BIG); the flags,
// mode and resolve bits are checked (EINVAL) before the path is read. The
// host makes those checks on a copy; a path that cannot be copied reaches
// it as a failing one. Without --sysroot the host resolves the path with the
// guest's RESOLVE_* flags; under it, Sysroot::open2 composes them with the
// root. What the host opened is then swapped for the guest's own exe or
// generated /proc file where it was elfuse's.
int64_t sys_openat2(SyscallContext& ctx, const SyscallArgs& a) {
  int dirfd = guest_dirfd(ctx.proc, a.a[0]);
  uint64_t size = a.a[3];
  if (size < sizeof(OpenHow)) return -EINVAL;
  if (size > 4096) return -E2BIG;
  std::vector<unsigned char> raw(size);
  if (auto c = ctx.mm.copy_in(raw.data(), a.a[2], size); !c) return -c.error();
  for (uint64_t i = sizeof(OpenHow); i < size; i++)
    if (raw[i]) return -E2BIG;
  OpenHow how;
  memcpy(&how, raw.data(), sizeof how);
  auto path = copy_path(ctx.mm, a.a[1]);
  if (path && hidden_proc_entry(ctx.proc, dirfd, *path)) return -ENOENT;
  if (!path) {
    long r = ::syscall(SYS_openat2, dirfd, uio::failing_path(path.error()), &how, sizeof how);
    if (r >= 0) ::close(static_cast<int>(r));
    return -static_cast<int64_t>(r >= 0 ? path.error() : errno);
  }
  long r;
  if (ctx.proc.sysroot) {
    // The flag checks first: the host answers them for an empty name, which
    // it then cannot find (ENOENT).
    long probe = ::syscall(SYS_openat2, AT_FDCWD, "", &how, sizeof how);
    if (probe >= 0) ::close(static_cast<int>(probe));
    if (probe < 0 && errno != ENOENT) return -static_cast<int64_t>(errno);
    auto fd = ctx.proc.sysroot->open2(dirfd, *path, how.flags, how.mode, how.resolve);
    if (!fd) return -fd.error();
    r = *fd;
  } else {
    r = ::syscall(SYS_openat2, dirfd, path->c_str(), &how, sizeof how);
    if (r < 0) return -static_cast<int64_t>(errno);
  }
  int64_t fd = replace_own_objects(ctx, dirfd, *path, how, r);
  if (fd < 0) return fd;
  return new_fd_result(ctx.proc, fd);
}

int64_t sys_close(SyscallContext& ctx, Fd fd_arg) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  ProcMemClose mem = proc_mem_before_close(ctx.proc, *fd);
  int64_t r = host_rax(::syscall(SYS_close, *fd));
  proc_mem_after_close(ctx.proc, mem);
  return r;
}

// close_range(2): fs/file.c checks flags, then fd <= max_fd (EINVAL). The
// range is clamped below the floor so elfuse's own fds survive; a range that
// starts at or above the floor closes nothing the guest could see.
// CLOSE_RANGE_UNSHARE unshares the table only when it is shared (unshare_fd):
// the table of a guest with one thread is shared only with elfuse's own host
// threads (its exitless worker among them), so there it is left alone, as
// unshare(CLONE_FILES) does; with more threads the host unshares the calling
// host thread's table and the worker is remade (exitless.cc
// changes_host_thread).
int64_t sys_close_range(SyscallContext& ctx, UInt first_arg, UInt last_arg, UIntFlags flags_arg) {
  unsigned first = first_arg;
  unsigned last = last_arg;
  unsigned flags = flags_arg;
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) return -EINVAL;
  if (first > last) return -EINVAL;
  if (flags & CLOSE_RANGE_UNSHARE) {
    std::lock_guard lock(ctx.proc.threads_mu);
    if (ctx.proc.threads.size() <= 1) flags &= ~CLOSE_RANGE_UNSHARE;
  }
  unsigned floor = static_cast<unsigned>(ctx.proc.fds.floor);
  if (first >= floor) {
    // Nothing the guest sees is closed; an unshare still happens.
    if (!(flags & CLOSE_RANGE_UNSHARE)) return 0;
    return host_rax(::unshare(CLONE_FILES));
  }
  last = std::min(last, floor - 1);
  return host_rax(::syscall(SYS_close_range, first, last, flags));
}

int64_t sys_fstat(SyscallContext& ctx, Fd fd_arg, Out<KernelStat> buf) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  KernelStat st{};
  long r = ::syscall(SYS_fstat, *fd, &st);
  return out_struct(ctx, r, buf, st);
}

int64_t sys_stat(SyscallContext& ctx, Path path, Out<KernelStat> buf) {
  return do_fstatat(ctx, AT_FDCWD, path, buf, 0);
}

int64_t sys_lstat(SyscallContext& ctx, Path path, Out<KernelStat> buf) {
  return do_fstatat(ctx, AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW);
}

int64_t sys_newfstatat(SyscallContext& ctx, DirFd dirfd, Path path, Out<KernelStat> buf,
                       AtFlags flags) {
  return do_fstatat(ctx, guest_dirfd(ctx.proc, dirfd), path, buf, flags);
}

// statx(2): same path rules as newfstatat; struct statx is 256 bytes.
int64_t sys_statx(SyscallContext& ctx, DirFd dirfd_arg, Path path_arg, AtFlags flags_arg,
                  UIntFlags mask_arg, Out<KernelStatx> buf) {
  int dirfd = guest_dirfd(ctx.proc, dirfd_arg);
  int flags = flags_arg;
  unsigned mask = mask_arg;
  std::string path;
  const char* host_path = nullptr;
  if (path_arg.addr != 0 || !(flags & AT_EMPTY_PATH)) {
    auto p = path_arg.get(ctx.mm);
    if (!p) return -p.error();
    if (hidden_proc_entry(ctx.proc, dirfd, *p)) return -ENOENT;
    path = (flags & AT_SYMLINK_NOFOLLOW) ? *p : followed_host_path(ctx.proc, *p);
    host_path = path.c_str();
  }
  KernelStatx stx{};
  static_assert(sizeof(stx) == 256);
  if (ctx.proc.sysroot && host_path && !(path.empty() && (flags & AT_EMPTY_PATH))) {
    // fs/stat.c statx: both sync types at once, or a reserved mask bit, is
    // EINVAL before the lookup too.
    if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE || (mask & STATX__RESERVED))
      return -EINVAL;
    auto fd = root_stat_target(ctx.proc, dirfd, path, flags, kStatFlags);
    if (!fd) return -fd.error();
    long r = ::syscall(SYS_statx, fd->get(), "", root_stat_flags(flags), mask, &stx);
    return out_struct(ctx, r, buf, stx);
  }
  long r = ::syscall(SYS_statx, dirfd, host_path, flags, mask, &stx);
  return out_struct(ctx, r, buf, stx);
}

// getdents64(2) fills a buffer the guest gives; a bounce buffer of the same
// size (capped: fewer entries per call is allowed) keeps the host's
// EINVAL-when-too-small answer exact. fs/readdir.c filldir64 copies entry by
// entry and stops at the first that faults: the entries before it are
// returned (and the position is after them), EFAULT when it is the first.
// So the host is asked for no more than the accessible part of the buffer;
// when the first entry does not fit there, the host is asked again with the
// whole count to tell EINVAL (too small anyway) from EFAULT, and the
// position is put back.
namespace {
int64_t do_getdents(SyscallContext& ctx, const SyscallArgs& a, long nr) {
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  size_t count = std::min<uint64_t>(arg_uint(a.a[2]), 1u << 20);
  const size_t room = accessible_prefix(ctx.mm, a.a[1], count, PROT_WRITE);
  const size_t ask = room < count ? std::max<size_t>(room, 1) : count;
  std::unique_ptr<char[]> buf(new char[count ? count : 1]);
  long r;
  // elfuse's own fds and threads are left out of /proc listings; a batch
  // that held only those is followed by the next one, so that 0 still
  // means the end.
  do {
    r = ::syscall(nr, *fd, buf.get(), ask);
    if (r <= 0) break;
    size_t name_at = nr == SYS_getdents64 ? 19 : 18;
    r = static_cast<long>(
        filter_proc_listing(ctx.proc, *fd, buf.get(), static_cast<size_t>(r), name_at));
  } while (r == 0);
  if (r < 0 && errno == EINVAL && room < count) {
    off_t pos = ::lseek(*fd, 0, SEEK_CUR);
    long full = ::syscall(nr, *fd, buf.get(), count);
    if (full < 0) return -static_cast<int64_t>(errno);
    if (full > 0 && pos >= 0) ::lseek(*fd, pos, SEEK_SET);
    return -EFAULT;
  }
  if (r < 0) return -static_cast<int64_t>(errno);
  auto c = ctx.mm.copy_out(a.a[1], buf.get(), static_cast<uint64_t>(r));
  if (!c) return -c.error();
  return r;
}
}  // namespace

int64_t sys_getdents64(SyscallContext& ctx, const SyscallArgs& a) {
  return do_getdents(ctx, a, SYS_getdents64);
}
// The old getdents has struct linux_dirent, the same on host and guest.
int64_t sys_getdents(SyscallContext& ctx, const SyscallArgs& a) {
  return do_getdents(ctx, a, SYS_getdents);
}

int64_t sys_truncate(SyscallContext& ctx, Path path_arg, Off length) {
  auto path = path_arg.get(ctx.mm);
  if (!path) return -path.error();
  if (hidden_proc_entry(ctx.proc, AT_FDCWD, *path)) return -ENOENT;
  std::string host = followed_host_path(ctx.proc, *path);
  if (ctx.proc.sysroot) {
    auto fd = root_lookup(ctx.proc, AT_FDCWD, *path, true);
    if (!fd) return -fd.error();
    host = proc_fd_path(fd->get());
    return host_rax(::syscall(SYS_truncate, host.c_str(), length.v));
  }
  return host_rax(::syscall(SYS_truncate, host.c_str(), length.v));
}

int64_t sys_ftruncate(SyscallContext& ctx, Fd fd_arg, Off length) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  return host_rax(::syscall(SYS_ftruncate, *fd, length.v));
}

int64_t sys_fsync(SyscallContext& ctx, Fd fd_arg) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  return host_rax(::syscall(SYS_fsync, *fd));
}

int64_t sys_fdatasync(SyscallContext& ctx, Fd fd_arg) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  return host_rax(::syscall(SYS_fdatasync, *fd));
}

int64_t sys_syncfs(SyscallContext& ctx, Fd fd_arg) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  return host_rax(::syscall(SYS_syncfs, *fd));
}

int64_t sys_flock(SyscallContext& ctx, Fd fd_arg, UIntFlags op) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  return host_rax(::syscall(SYS_flock, *fd, op.v));
}

int64_t sys_fallocate(SyscallContext& ctx, Fd fd_arg, IntFlags mode, Off offset, Off len) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  return host_rax(::syscall(SYS_fallocate, *fd, mode.v, offset.v, len.v));
}

int64_t sys_fadvise64(SyscallContext& ctx, Fd fd_arg, Off offset, Size len, Int advice) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  return host_rax(::syscall(SYS_fadvise64, *fd, offset.v, len.v, advice.v));
}

// readahead(fd, offset, count): the host's page cache is the guest's.
int64_t sys_readahead(SyscallContext& ctx, Fd fd_arg, Off offset, Size count) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  return host_rax(::syscall(SYS_readahead, *fd, offset.v, count.v));
}

// sync_file_range(fd, offset, nbytes, flags): the host's writeback.
int64_t sys_sync_file_range(SyscallContext& ctx, Fd fd_arg, Off offset, Off nbytes,
                            UIntFlags flags) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  return host_rax(::syscall(SYS_sync_file_range, *fd, offset.v, nbytes.v, flags.v));
}

int64_t sys_statfs(SyscallContext& ctx, Path path_arg, Out<KernelStatfs> buf) {
  auto path = path_arg.get(ctx.mm);
  if (!path) return -path.error();
  if (hidden_proc_entry(ctx.proc, AT_FDCWD, *path)) return -ENOENT;
  std::string host = followed_host_path(ctx.proc, *path);
  KernelStatfs sf{};
  UniqueFd hold;
  if (ctx.proc.sysroot) {
    auto fd = root_lookup(ctx.proc, AT_FDCWD, *path, true);
    if (!fd) return -fd.error();
    hold = std::move(*fd);
    host = proc_fd_path(hold.get());
  }
  long r = ::syscall(SYS_statfs, host.c_str(), &sf);
  return out_struct(ctx, r, buf, sf);
}

int64_t sys_fstatfs(SyscallContext& ctx, Fd fd_arg, Out<KernelStatfs> buf) {
  auto fd = guest_fd(ctx.proc, fd_arg);
  if (!fd) return -fd.error();
  KernelStatfs sf{};
  long r = ::syscall(SYS_fstatfs, *fd, &sf);
  return out_struct(ctx, r, buf, sf);
}

// sendfile(2), fs/read_write.c: the offset is read before and written back
// after the transfer, even when the transfer failed.
int64_t sys_sendfile(SyscallContext& ctx, Fd out_arg, Fd in_arg, InOut<int64_t> offset,
                     Size count_arg) {
  auto out_fd = guest_fd(ctx.proc, out_arg);
  if (!out_fd) return -out_fd.error();
  auto in_fd = guest_fd(ctx.proc, in_arg);
  if (!in_fd) return -in_fd.error();
  uint64_t count_reg = count_arg;
  auto mem_in = proc_mem_find(ctx.proc, *in_fd);
  if (mem_in || proc_mem_find(ctx.proc, *out_fd)) {
    // The guest's own mem file (kernel/proc_mem.h): fs/read_write.c
    // do_sendfile's checks (modes EBADF; the offset against proc's
    // s_maxbytes, MAX_NON_LFS: EOVERFLOW), then EINVAL: the kernel's mem
    // has neither splice_read nor splice_write.
    if (!mode_allows(*in_fd, false) || !mode_allows(*out_fd, true)) return -EBADF;
    uint64_t pos = 0;
    if (!offset.null()) {
      auto c = offset.get(ctx.mm);
      if (!c) return -c.error();
      pos = static_cast<uint64_t>(*c);
    } else {
      off_t cur = ::lseek(*in_fd, 0, SEEK_CUR);
      pos = cur < 0 ? 0 : static_cast<uint64_t>(cur);
    }
    constexpr uint64_t kMaxNonLfs = 0x7fffffff;
    uint64_t count = std::min(count_reg, kMaxRwCount);
    if (pos > kMaxNonLfs || count > kMaxNonLfs - pos) return -EOVERFLOW;
    return -EINVAL;
  }
  if (offset.null()) return host_rax(::syscall(SYS_sendfile, *out_fd, *in_fd, nullptr, count_reg));
  auto c = offset.get(ctx.mm);
  if (!c) return -c.error();
  int64_t off = *c;
  long r = ::syscall(SYS_sendfile, *out_fd, *in_fd, &off, count_reg);
  int64_t ret = host_rax(r);
  auto w = offset.put(ctx.mm, off);
  if (!w) return -w.error();
  return ret;
}

}  // namespace elfuse
