// Calls that name a process by a pidfd or compare processes: pidfd_open,
// pidfd_send_signal, pidfd_getfd, process_mrelease, process_madvise, kcmp.
// Guest pids and tids are host pids and tids, and a pidfd is a host fd, so
// the host answers for processes; elfuse steps in where a descriptor number
// (its own fds above the floor stay invisible) or guest memory is involved.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <vector>

#include "abi/linux.h"
#include "kernel/proc_mem.h"
#include "kernel/signal.h"
#include "syscalls/fs_common.h"
#include "syscalls/table.h"
#include "syscalls/uio_common.h"

namespace elfuse {

using namespace fs;

namespace {

// include/uapi/linux/pidfd.h: the sentinels that name the caller.
constexpr int kPidfdSelfThread = -10000;
constexpr int kPidfdSelfThreadGroup = -20000;
// pidfd_send_signal's scope flags (pidfd_open's PIDFD_THREAD: abi/linux.h).
constexpr uint64_t kPidfdSignalThread = 1, kPidfdSignalThreadGroup = 2;

// A pidfd argument: one of elfuse's fds is a closed one. The sentinels
// (negative) go to the host, which knows them or answers EBADF.
int pidfd_arg(const Process& p, uint64_t reg) {
  int fd = arg_int(reg);
  return fd >= p.fds.floor ? -1 : fd;
}

// An fd number in another process's table (pidfd_getfd, kcmp): one at or
// above the floor is elfuse's in an elfuse process, so it is treated as not
// open (a number no fd table reaches).
uint64_t foreign_fd(const Process& p, uint64_t fd) {
  return fd >= static_cast<uint64_t>(p.fds.floor) ? uint64_t{INT_MAX} : fd;
}

// The pid a host pidfd refers to (fs/pidfs.c fdinfo "Pid:"), or -1.
int pidfd_pid(int fd) {
  if (fd == kPidfdSelfThread || fd == kPidfdSelfThreadGroup) return ::getpid();
  char path[64];
  snprintf(path, sizeof path, "/proc/thread-self/fdinfo/%d", fd);
  FILE* f = fopen(path, "re");
  if (!f) return -1;
  char line[256];
  int pid = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Pid:\t%d", &pid) == 1) break;
  fclose(f);
  return pid;
}

// True when pid is the calling process or one of its threads: the memory
// of such a target is the guest's own.
bool own_process(int pid) {
  if (pid <= 0) return false;
  if (pid == ::getpid()) return true;
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d", pid);
  return ::access(path, F_OK) == 0;
}

}  // namespace

// pidfd_open(pid, flags): the host's pidfd for a host (= guest) pid or,
// with PIDFD_THREAD, tid.
int64_t sys_pidfd_open(SyscallContext& ctx, const SyscallArgs& a) {
  return new_fd_result(ctx.proc,
                       ::syscall(SYS_pidfd_open, static_cast<pid_t>(a.a[0]), arg_uint(a.a[1])));
}

// pidfd_send_signal(pidfd, sig, info, flags), kernel/signal.c: flags, the
// pidfd and the target are checked before the siginfo is read (EFAULT), so
// an unreadable one reaches the host as a faulting pointer. A signal to the
// guest itself is a host signal to elfuse, delivered as kill(2)'s are.
//
// SIGURG to the guest itself as a thread (a thread pidfd or
// PIDFD_SIGNAL_THREAD without a siginfo: SI_TKILL), or with a made-up
// SI_TKILL siginfo, would look like elfuse's kick: relayed
// (signals_relay_urg), with the kernel's EPERM check made here.
// Whether the host kernel knows pidfd_send_signal's scope flags (6.9): its
// flags check comes before the pidfd's, so an older kernel says EINVAL to
// them and a newer one EBADF to the fd -1. The relay below then answers as
// the host would.
static bool host_knows_signal_scope() {
  static const bool knows =
      ::syscall(SYS_pidfd_send_signal, -1, 0, nullptr, kPidfdSignalThread) < 0 && errno != EINVAL;
  return knows;
}

int64_t sys_pidfd_send_signal(SyscallContext& ctx, const SyscallArgs& a) {
  siginfo_t info;
  const void* host_info = nullptr;
  if (a.a[2] != 0) {
    host_info = ctx.mm.copy_in(&info, a.a[2], sizeof info) ? &info : uio::fault_ptr();
  }
  int sig = arg_int(a.a[1]);
  uint64_t flags = a.a[3];
  if (sig == SIGURG && flags <= kPidfdSignalThreadGroup &&
      (flags == 0 || host_knows_signal_scope()) && host_info != uio::fault_ptr() &&
      (!host_info || info.si_signo == sig)) {
    int fd = pidfd_arg(ctx.proc, a.a[0]);
    int target = fd == kPidfdSelfThread ? ctx.thread.tid : pidfd_pid(fd);
    if (target > 0 && own_process(target)) {
      bool thread = fd == kPidfdSelfThread;
      if (fd >= 0) {
        int fl = fcntl(fd, F_GETFL);
        thread = fl >= 0 && (fl & kPidfdThread);
      }
      if (flags == kPidfdSignalThread) thread = true;
      if (flags == kPidfdSignalThreadGroup) thread = false;
      if (host_info && info.si_code == SI_TKILL) {
        if (target != ctx.thread.tid) return -EPERM;
        return host_rax(signals_relay_urg(thread ? target : 0, info));
      }
      if (!host_info && thread) {
        memset(&info, 0, sizeof info);
        info.si_signo = SIGURG;
        info.si_code = SI_TKILL;
        info.si_pid = ::getpid();
        info.si_uid = static_cast<uid_t>(::syscall(SYS_getuid));
        return host_rax(signals_relay_urg(target, info));
      }
    }
  }
  return host_rax(::syscall(SYS_pidfd_send_signal, pidfd_arg(ctx.proc, a.a[0]), arg_int(a.a[1]),
                            host_info, arg_uint(a.a[3])));
}

// pidfd_getfd(pidfd, targetfd, flags): a dup of another (or this)
// process's fd, with the kernel's checks (flags EINVAL, the pidfd EBADF,
// ptrace access EPERM, the target fd EBADF) made by the host. elfuse's own
// fds in the target (at or above the floor) count as closed.
int64_t sys_pidfd_getfd(SyscallContext& ctx, const SyscallArgs& a) {
  int target = arg_int(a.a[1]);
  if (target >= ctx.proc.fds.floor) target = -1;
  long r = ::syscall(SYS_pidfd_getfd, pidfd_arg(ctx.proc, a.a[0]), target, arg_uint(a.a[2]));
  // Another process's mem file reaches memory elfuse cannot
  // (kernel/proc_mem.h).
  if (r >= 0) proc_mem_adopt(ctx.proc, static_cast<int>(r));
  return new_fd_result(ctx.proc, r);
}

// process_mrelease(pidfd, flags): reaps the memory of a process that is
// already being killed; the host's call on the host process.
int64_t sys_process_mrelease(SyscallContext& ctx, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_process_mrelease, pidfd_arg(ctx.proc, a.a[0]), arg_uint(a.a[1])));
}

// process_madvise(pidfd, iovec, vlen, advice, flags), mm/madvise.c: flags
// (EINVAL) and the iovec array (import_iovec: EINVAL, EFAULT) come first;
// then the pidfd, ptrace access, the advice a remote process may get and
// the capability, which the host checks when asked with no ranges. The
// caller's own memory is the guest's: each range is madvise(2) on it, and
// the call returns the bytes advised up to the first range that fails
// (unmapped: ENOMEM), or that range's error when it is the first
// (vector_madvise).
// Another process's guest addresses are not its host addresses: EPERM, as
// for a caller without CAP_SYS_NICE.
int64_t sys_process_madvise(SyscallContext& ctx, const SyscallArgs& a) {
  if (arg_uint(a.a[4]) != 0) return -EINVAL;
  uint64_t vlen = a.a[2];
  if (vlen > kIovMax) return -EINVAL;
  std::vector<iovec> iov(vlen);
  if (vlen > 0) {
    if (auto c = ctx.mm.copy_in(iov.data(), a.a[1], vlen * sizeof(iovec)); !c) return -c.error();
  }
  uint64_t total = 0;
  for (auto& v : iov) {
    if (static_cast<int64_t>(v.iov_len) < 0) return -EINVAL;
    if (!linux_access_ok(reinterpret_cast<uint64_t>(v.iov_base), v.iov_len)) return -EFAULT;
    v.iov_len = std::min<uint64_t>(v.iov_len, kMaxRwCount - total);
    total += v.iov_len;
  }
  int pidfd = pidfd_arg(ctx.proc, a.a[0]);
  int advice = arg_int(a.a[3]);
  static iovec none;
  if (::syscall(SYS_process_madvise, pidfd, &none, 0, advice, 0) < 0)
    return -static_cast<int64_t>(errno);
  if (!own_process(pidfd_pid(pidfd))) return -EPERM;
  uint64_t done = 0;
  int64_t err = 0;
  for (const auto& v : iov) {
    auto r = ctx.mm.madvise(reinterpret_cast<uint64_t>(v.iov_base), v.iov_len, advice);
    if (!r) {
      err = -r.error();
      break;
    }
    done += v.iov_len;
  }
  return done ? static_cast<int64_t>(done) : err;
}

// kcmp(pid1, pid2, type, idx1, idx2), kernel/kcmp.c: both tasks (ESRCH),
// ptrace access (EPERM), then the type. The host compares its own objects,
// which are the guest's: the processes' memory, fd tables, fs, signal
// handlers, I/O contexts and SysV undo lists are those of the host
// processes and threads. KCMP_FILE and KCMP_EPOLL_TFD name fds: elfuse's
// own count as not open; the epoll slot is read after the first fd is
// found (EFAULT), so an unreadable one reaches the host as a faulting
// pointer.
int64_t sys_kcmp(SyscallContext& ctx, const SyscallArgs& a) {
  constexpr int kKcmpFile = 0, kKcmpEpollTfd = 7;
  pid_t pid1 = static_cast<pid_t>(a.a[0]), pid2 = static_cast<pid_t>(a.a[1]);
  int type = arg_int(a.a[2]);
  uint64_t idx1 = a.a[3], idx2 = a.a[4];
  struct {
    uint32_t efd, tfd, toff;
  } slot{};
  if (type == kKcmpFile) {
    idx1 = foreign_fd(ctx.proc, idx1);
    idx2 = foreign_fd(ctx.proc, idx2);
  } else if (type == kKcmpEpollTfd) {
    idx1 = foreign_fd(ctx.proc, idx1);
    if (ctx.mm.copy_in(&slot, idx2, sizeof slot)) {
      slot.efd = static_cast<uint32_t>(foreign_fd(ctx.proc, slot.efd));
      idx2 = reinterpret_cast<uint64_t>(&slot);
    } else {
      idx2 = reinterpret_cast<uint64_t>(uio::fault_ptr());
    }
  }
  return host_rax(::syscall(SYS_kcmp, pid1, pid2, type, idx1, idx2));
}

}  // namespace elfuse
