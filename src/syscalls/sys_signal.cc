// Signal bookkeeping: rt_sigaction, rt_sigprocmask, sigaltstack, and sending
// signals. Delivery of caught signals into the guest comes with a later
// issue; until then the host process mirrors what it can (docs/internals.md,
// "Signals"): an ignored signal is ignored by the host too, so that e.g. a
// write to a closed pipe returns EPIPE instead of killing elfuse, and a
// blocked signal is blocked on the host thread.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)  // include/uapi/linux/signal.h
#endif

#include "kernel/process.h"
#include "syscalls/table.h"

namespace elfuse {
namespace {

constexpr uint64_t kSigsetSize = 8;
constexpr uint64_t bit(int sig) { return uint64_t{1} << (sig - 1); }
// Signals the host itself relies on: its own faults, and the vCPU kick.
constexpr uint64_t kHostOwned =
    bit(SIGSEGV) | bit(SIGBUS) | bit(SIGILL) | bit(SIGFPE) | bit(SIGTRAP) | bit(SIGURG);
constexpr uint64_t kUnblockable = bit(SIGKILL) | bit(SIGSTOP);
// Signals whose default action is to do nothing.
constexpr uint64_t kDefaultIgnored = bit(SIGCHLD) | bit(SIGURG) | bit(SIGWINCH) | bit(SIGCONT);

void mirror_disposition(int sig, const GuestSigaction& act) {
  if ((bit(sig) & (kHostOwned | kUnblockable)) || sig >= SIGRTMIN) return;
  struct sigaction host {};
  sigemptyset(&host.sa_mask);
  if (act.handler == reinterpret_cast<uint64_t>(SIG_IGN))
    host.sa_handler = SIG_IGN;
  else if (act.handler == reinterpret_cast<uint64_t>(SIG_DFL) || (bit(sig) & kDefaultIgnored))
    host.sa_handler = SIG_DFL;
  else
    host.sa_handler = SIG_IGN;  // caught: not delivered yet, but must not kill elfuse
  sigaction(sig, &host, nullptr);
}

void mirror_mask(uint64_t mask) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig = 1; sig <= 64; sig++) {
    if ((mask & bit(sig)) && !(bit(sig) & (kHostOwned | kUnblockable))) sigaddset(&set, sig);
  }
  pthread_sigmask(SIG_SETMASK, &set, nullptr);
}

}  // namespace

// kernel/signal.c do_sigaction.
int64_t sys_rt_sigaction(SyscallContext& ctx, const SyscallArgs& a) {
  int sig = static_cast<int>(a.a[0]);
  uint64_t act_addr = a.a[1], old_addr = a.a[2];
  if (a.a[3] != kSigsetSize) return -EINVAL;
  if (sig < 1 || sig > 64) return -EINVAL;
  if (act_addr && (sig == SIGKILL || sig == SIGSTOP)) return -EINVAL;
  GuestSigaction act;
  if (act_addr) {
    if (auto r = ctx.mm.copy_in(&act, act_addr, sizeof act); !r.ok()) return -r.error();
    act.mask &= ~kUnblockable;
  }
  GuestSigaction old = ctx.proc.sigactions[sig - 1];
  if (act_addr) {
    ctx.proc.sigactions[sig - 1] = act;
    mirror_disposition(sig, act);
  }
  if (old_addr) return to_rax(ctx.mm.copy_out(old_addr, &old, sizeof old));
  return 0;
}

// kernel/signal.c sigprocmask: SIGKILL and SIGSTOP can never be blocked.
int64_t sys_rt_sigprocmask(SyscallContext& ctx, const SyscallArgs& a) {
  int how = static_cast<int>(a.a[0]);
  uint64_t set_addr = a.a[1], old_addr = a.a[2];
  if (a.a[3] != kSigsetSize) return -EINVAL;
  uint64_t old = ctx.thread.sigmask;
  if (set_addr) {
    uint64_t set;
    if (auto r = ctx.mm.copy_in(&set, set_addr, sizeof set); !r.ok()) return -r.error();
    uint64_t next;
    switch (how) {
      case SIG_BLOCK: next = old | set; break;
      case SIG_UNBLOCK: next = old & ~set; break;
      case SIG_SETMASK: next = set; break;
      default: return -EINVAL;
    }
    ctx.thread.sigmask = next & ~kUnblockable;
  }
  if (old_addr) {
    if (auto r = ctx.mm.copy_out(old_addr, &old, sizeof old); !r.ok()) return -r.error();
  }
  if (set_addr) mirror_mask(ctx.thread.sigmask);
  return 0;
}

// kernel/signal.c do_sigaltstack.
int64_t sys_sigaltstack(SyscallContext& ctx, const SyscallArgs& a) {
  struct GuestStack {
    uint64_t sp;
    int32_t flags;
    int32_t pad;
    uint64_t size;
  };
  static_assert(sizeof(GuestStack) == 24);
  Thread& t = ctx.thread;
  GuestStack old{t.altstack_sp, t.altstack_flags, 0, t.altstack_size};
  if (a.a[0]) {
    GuestStack ss;
    if (auto r = ctx.mm.copy_in(&ss, a.a[0], sizeof ss); !r.ok()) return -r.error();
    int mode = ss.flags & ~SS_AUTODISARM;
    if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0) return -EINVAL;
    if (mode == SS_DISABLE) {
      t.altstack_sp = 0;
      t.altstack_size = 0;
      t.altstack_flags = SS_DISABLE;
    } else {
      if (ss.size < 2048) return -ENOMEM;  // MINSIGSTKSZ
      t.altstack_sp = ss.sp;
      t.altstack_size = ss.size;
      t.altstack_flags = ss.flags & SS_AUTODISARM;
    }
  }
  if (a.a[1]) return to_rax(ctx.mm.copy_out(a.a[1], &old, sizeof old));
  return 0;
}

// Guest pids are host pids: sending is the host's kill.
int64_t sys_kill(SyscallContext&, const SyscallArgs& a) {
  return host_rax(kill(static_cast<pid_t>(a.a[0]), static_cast<int>(a.a[1])));
}

int64_t sys_tgkill(SyscallContext&, const SyscallArgs& a) {
  return host_rax(syscall(SYS_tgkill, static_cast<pid_t>(a.a[0]), static_cast<pid_t>(a.a[1]),
                          static_cast<int>(a.a[2])));
}

int64_t sys_tkill(SyscallContext&, const SyscallArgs& a) {
  return host_rax(syscall(SYS_tkill, static_cast<pid_t>(a.a[0]), static_cast<int>(a.a[1])));
}

}  // namespace elfuse
