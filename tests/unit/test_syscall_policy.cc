// The restart class and exitless-worker columns of syscalls.def
// (kernel/syscall_policy.h) against the tables they replaced: the switch of
// kernel/signal.cc restart_class and exitless.cc's allowlist and argument
// rules, kept here as the reference, for every number and representative
// arguments.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>

#include <initializer_list>

#include "kernel/process.h"
#include "kernel/syscall_policy.h"
#include "syscalls/table.h"

namespace elfuse {
namespace {

// kernel/signal.cc restart_class before the rows carried it.
Restart old_restart_class(const SyscallArgs& a) {
  switch (a.nr) {
    case SYS_read:
    case SYS_write:
    case SYS_readv:
    case SYS_writev:
    case SYS_pread64:
    case SYS_pwrite64:
    case SYS_preadv:
    case SYS_pwritev:
    case SYS_preadv2:
    case SYS_pwritev2:
    case SYS_open:
    case SYS_openat:
    case SYS_openat2:
    case SYS_creat:
    case SYS_wait4:
    case SYS_waitid:
    case SYS_accept:
    case SYS_accept4:
    case SYS_connect:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_recvmmsg:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_sendmmsg:
    case SYS_flock:
    case SYS_fcntl:
    case SYS_ioctl:
    case SYS_sendfile:
    case SYS_splice:
    case SYS_tee:
    case SYS_vmsplice:
    case SYS_copy_file_range:
    case SYS_getrandom:
    case SYS_mq_timedsend:
    case SYS_mq_timedreceive:
    case SYS_futex_waitv:
    case 455:
      return Restart::kSys;
    case SYS_futex: {
      int op = static_cast<int>(a.a[1]) & 127;
      if (op == 6) return Restart::kNoIntr;
      if ((op == 0 || op == 9) && a.a[3]) return Restart::kBlock;
      return Restart::kSys;
    }
    case SYS_pause:
    case SYS_rt_sigsuspend:
    case SYS_select:
    case SYS_pselect6:
    case SYS_ppoll:
    case SYS_msgrcv:
    case SYS_msgsnd:
      return Restart::kNoHand;
    case SYS_poll:
      return static_cast<int>(a.a[2]) < 0 ? Restart::kNoHand : Restart::kBlock;
    case SYS_nanosleep:
      return Restart::kBlock;
    case SYS_clock_nanosleep:
      return (a.a[1] & TIMER_ABSTIME) ? Restart::kNoHand : Restart::kBlock;
    default:
      return Restart::kNone;
  }
}

// kernel/exitless.cc set_allowlist before the rows carried it.
bool old_allowed(uint64_t nr) {
  for (long n : {SYS_read,      SYS_write,        SYS_pread64,
                 SYS_pwrite64,  SYS_readv,        SYS_writev,
                 SYS_lseek,     SYS_close,        SYS_fstat,
                 SYS_stat,      SYS_lstat,        SYS_newfstatat,
                 SYS_statx,     SYS_open,         SYS_openat,
                 SYS_access,    SYS_faccessat,    SYS_faccessat2,
                 SYS_readlink,  SYS_readlinkat,   SYS_getdents64,
                 SYS_getcwd,    SYS_fcntl,        SYS_ioctl,
                 SYS_getrandom, SYS_uname,        SYS_mmap,
                 SYS_munmap,    SYS_mprotect,     SYS_madvise,
                 SYS_brk,       SYS_rt_sigaction, SYS_sched_getaffinity})
    if (nr == static_cast<uint64_t>(n)) return true;
  return false;
}

// The argument-free part of exitless.cc worker_may_run (fcntl, ioctl).
bool old_args_ok(const SyscallArgs& a) {
  switch (a.nr) {
    case SYS_fcntl:
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
    case SYS_ioctl:
      switch (static_cast<uint32_t>(a.a[1])) {
        case TCGETS:
        case TIOCGWINSZ:
        case FIONREAD:
          return true;
        default:
          return false;
      }
    default:
      return true;
  }
}

constexpr uint64_t kNeg = ~uint64_t{0};

TEST(SyscallPolicy, RestartClassOfEveryRowIsTheOldTables) {
  const std::initializer_list<uint64_t> a1s = {0,   1, 6,    9,           128,           128 | 6,
                                               137, 7, kNeg, 0x100000006, TIMER_ABSTIME, 3};
  const std::initializer_list<uint64_t> a2s = {0, 1, 1000, kNeg, 0xffffffff, 0x1ffffffff};
  const std::initializer_list<uint64_t> a3s = {0, 0x1000};
  int checked = 0;
  for (uint64_t nr = 0; nr < 600; nr++)
    for (uint64_t a1 : a1s)
      for (uint64_t a2 : a2s)
        for (uint64_t a3 : a3s) {
          SyscallArgs a{nr, {3, a1, a2, a3, 0, 0}};
          ASSERT_EQ(syscall_restart_class(a), old_restart_class(a))
              << "nr " << nr << " a1 " << a1 << " a2 " << a2 << " a3 " << a3;
          checked++;
        }
  EXPECT_GT(checked, 0);
}

TEST(SyscallPolicy, WorkerAllowlistIsTheOldOne) {
  for (uint64_t nr = 0; nr < 600; nr++)
    EXPECT_EQ(syscall_worker_allowed(nr), old_allowed(nr)) << nr;
}

TEST(SyscallPolicy, WorkerArgumentRulesAreTheOldOnes) {
  Process proc(nullptr, 0);
  // fcntl and ioctl look only at the command.
  for (uint64_t nr : {uint64_t{SYS_fcntl}, uint64_t{SYS_ioctl}}) {
    for (uint64_t cmd = 0; cmd < 1100; cmd++) {
      SyscallArgs a{nr, {0, cmd, 0, 0, 0, 0}};
      EXPECT_EQ(syscall_worker_may_serve(proc, a, nullptr), old_args_ok(a)) << nr << " " << cmd;
    }
    const std::initializer_list<uint64_t> cmds = {
        TCGETS, TIOCGWINSZ, FIONREAD, TCGETS | (uint64_t{1} << 32), F_GETFL | (uint64_t{1} << 32),
        TCSETS, FIONBIO};
    for (uint64_t cmd : cmds) {
      SyscallArgs a{nr, {0, cmd, 0, 0, 0, 0}};
      EXPECT_EQ(syscall_worker_may_serve(proc, a, nullptr), old_args_ok(a)) << nr << " " << cmd;
    }
  }
  // The rows whose rule looks at an fd or a path.
  for (long nr : {SYS_read, SYS_write, SYS_pread64, SYS_pwrite64, SYS_readv, SYS_writev})
    EXPECT_EQ(syscall_info(nr)->worker, WorkerRule::wFd) << nr;
  for (long nr : {SYS_open, SYS_stat, SYS_lstat, SYS_access, SYS_readlink})
    EXPECT_EQ(syscall_info(nr)->worker, WorkerRule::wPath0) << nr;
  for (long nr :
       {SYS_openat, SYS_newfstatat, SYS_statx, SYS_faccessat, SYS_faccessat2, SYS_readlinkat})
    EXPECT_EQ(syscall_info(nr)->worker, WorkerRule::wPath1) << nr;
}

}  // namespace
}  // namespace elfuse
