// The kernel-side rules of the rows of syscalls.def (kernel/syscall_policy.h):
// the restart class and the exitless worker's eligibility, each a column of
// the row, with the rules that look at arguments as small functions here.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <cstring>

#include "kernel/process.h"
#include "kernel/syscall_policy.h"
#include "mm/memory_manager.h"
#include "syscalls/table.h"

namespace elfuse {
namespace {

// ---- restart rules

// kernel/futex: FUTEX_LOCK_PI restarts without a word (-ERESTARTNOINTR); a
// timed FUTEX_WAIT(_BITSET) sets up a restart block; the rest -ERESTARTSYS.
Restart restart_futex(const SyscallArgs& a) {
  int op = static_cast<int>(a.a[1]) & 127;
  if (op == 6 /* FUTEX_LOCK_PI */) return Restart::kNoIntr;
  if ((op == 0 || op == 9) && a.a[3]) return Restart::kBlock;  // FUTEX_WAIT(_BITSET) timed
  return Restart::kSys;
}

// fs/select.c do_restart_poll: a negative timeout waits for ever.
Restart restart_poll(const SyscallArgs& a) {
  return static_cast<int>(a.a[2]) < 0 ? Restart::kNoHand : Restart::kBlock;
}

// kernel/time/hrtimer.c: an absolute sleep is simply redone.
Restart restart_clock_sleep(const SyscallArgs& a) {
  return (a.a[1] & TIMER_ABSTIME) ? Restart::kNoHand : Restart::kBlock;
}

// ---- exitless worker rules

// A file whose reads and writes behave the same from any thread: not a tty
// (job control looks at the caller's signal mask: SIGTTIN/SIGTTOU or EIO)
// and not an anonymous-inode file (signalfd). Memory character devices
// (/dev/null, zero, full, random, urandom: major 1) are fine. Unknown
// descriptors go to the worker, whose handler gives the error.
bool worker_plain_fd(const Process& proc, uint64_t reg, const dev_t* anon_dev) {
  int64_t fd = static_cast<int64_t>(static_cast<int32_t>(reg));
  if (!proc.fds.guest_fd(fd)) return true;
  struct stat st;
  if (fstat(static_cast<int>(fd), &st) < 0) return true;
  if (anon_dev && st.st_dev == *anon_dev) return false;
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
    case S_IFDIR:
    case S_IFIFO:
    case S_IFSOCK:
    case S_IFBLK:
      return true;
    case S_IFCHR:
      return major(st.st_rdev) == 1;
    default:
      return false;
  }
}

// /proc/thread-self and /proc/self/task/<tid> name the calling host thread:
// absolute /proc paths stay with the thread. (A relative path from a
// directory inside /proc, or a symlink to one, still reaches the worker:
// documented.)
bool worker_path(Process& proc, uint64_t addr) {
  if (addr == 0) return true;
  // Unreadable: the handler answers EFAULT.
  char head[6] = {};
  for (int i = 0; i < 6; i++) {
    if (!proc.mm().copy_in(&head[i], addr + i, 1).ok()) break;
    if (head[i] == 0) break;
  }
  return !(memcmp(head, "/proc", 5) == 0 && (head[5] == '/' || head[5] == 0));
}

// No locks (F_SETLKW blocks with the caller's signals), no owners.
bool worker_fcntl(const SyscallArgs& a) {
  switch (static_cast<int>(a.a[1])) {
    case F_GETFD:
    case F_SETFD:
    case F_GETFL:
    case F_SETFL:
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
      return true;
    default:
      return false;
  }
}

bool worker_ioctl(const SyscallArgs& a) {
  switch (static_cast<uint32_t>(a.a[1])) {
    case TCGETS:
    case TIOCGWINSZ:
    case FIONREAD:
      return true;
    default:
      return false;
  }
}

}  // namespace

Restart syscall_restart_class(const SyscallArgs& a) {
  const SyscallInfo* info = syscall_info(a.nr);
  if (!info) return Restart::kNone;
  switch (info->restart) {
    case RestartRule::rNone:
      return Restart::kNone;
    case RestartRule::rSys:
      return Restart::kSys;
    case RestartRule::rNoHand:
      return Restart::kNoHand;
    case RestartRule::rBlock:
      return Restart::kBlock;
    case RestartRule::rFutex:
      return restart_futex(a);
    case RestartRule::rPoll:
      return restart_poll(a);
    case RestartRule::rClockSleep:
      return restart_clock_sleep(a);
  }
  return Restart::kNone;
}

bool syscall_worker_allowed(uint64_t nr) {
  const SyscallInfo* info = syscall_info(nr);
  return info && info->worker != WorkerRule::wNo;
}

bool syscall_worker_may_serve(Process& proc, const SyscallArgs& a, const dev_t* anon_dev) {
  const SyscallInfo* info = syscall_info(a.nr);
  if (!info) return false;
  switch (info->worker) {
    case WorkerRule::wNo:
      return false;
    case WorkerRule::wYes:
      return true;
    case WorkerRule::wFd:
      return worker_plain_fd(proc, a.a[0], anon_dev);
    case WorkerRule::wFcntl:
      return worker_fcntl(a);
    case WorkerRule::wIoctl:
      return worker_ioctl(a);
    case WorkerRule::wPath0:
      return worker_path(proc, a.a[0]);
    case WorkerRule::wPath1:
      return worker_path(proc, a.a[1]);
  }
  return false;
}

}  // namespace elfuse
