// The signal syscalls: dispositions, masks, the alternate stack, waiting
// for signals, sending them, and rt_sigreturn. Delivery itself lives in
// src/kernel/signal.cc (docs/internals.md, "Faults and signals"): a caught
// signal has elfuse's host handler, an ignored or default one the same
// disposition on the host, and the guest mask is the host thread's mask.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

#include "abi/linux.h"
#include "kernel/process.h"
#include "kernel/signal.h"
#include "syscalls/table.h"

namespace elfuse {
namespace {

constexpr uint64_t kSigsetSize = 8;
constexpr uint64_t kMinSigStkSz = 2048;  // MINSIGSTKSZ, include/uapi/asm-generic/signal.h

bool on_altstack(const Thread& t, uint64_t sp) {
  if (t.altstack_flags & SS_AUTODISARM) return false;
  return sp > t.altstack_sp && sp - t.altstack_sp <= t.altstack_size;
}

// Whether `tid` is one of the guest's threads.
bool own_thread(Process& proc, int64_t tid) {
  std::lock_guard lock(proc.threads_mu);
  for (const auto& t : proc.threads)
    if (t->tid == tid) return true;
  return false;
}

// A tgkill of SIGURG to one of the guest's own threads (which the host
// handler would take for elfuse's kick), relayed with the siginfo tgkill
// gives: SI_TKILL, the sender's pid and real uid.
int64_t tkill_own_urg(Process& proc, int64_t tid) {
  if (!own_thread(proc, tid)) return -ESRCH;
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = SIGURG;
  info.si_code = SI_TKILL;
  info.si_pid = getpid();
  info.si_uid = static_cast<uid_t>(syscall(SYS_getuid));
  return host_rax(signals_relay_urg(static_cast<int>(tid), info));
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
    act.mask &= ~kUnblockableSignals;
    // UAPI_SA_FLAGS (x86: with SA_RESTORER): unknown bits are dropped, so
    // a program can detect them (SA_UNSUPPORTED).
    act.flags &= SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER |
                 SA_RESETHAND | 0x800 /* SA_EXPOSE_TAGBITS */ | 0x04000000 /* SA_RESTORER */;
  }
  // Discarding a pending signal resets the calling host thread's mask
  // (signals_set_host_disposition): not from the exitless worker.
  if (act_addr && ctx.on_worker && signals_disposition_discards(sig, act)) {
    ctx.refuse = true;
    return 0;
  }
  GuestSigaction old = ctx.proc.sigactions[sig - 1];
  if (act_addr) {
    ctx.proc.sigactions[sig - 1] = act;
    signals_set_host_disposition(ctx.thread, sig, act);
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
      case SIG_BLOCK:
        next = old | set;
        break;
      case SIG_UNBLOCK:
        next = old & ~set;
        break;
      case SIG_SETMASK:
        next = set;
        break;
      default:
        return -EINVAL;
    }
    ctx.thread.sigmask = next & ~kUnblockableSignals;
  }
  if (old_addr) {
    if (auto r = ctx.mm.copy_out(old_addr, &old, sizeof old); !r.ok()) return -r.error();
  }
  // Unblocking makes the host hand over what it kept pending; it is
  // delivered on the way back to the guest.
  if (set_addr) signals_sync_host_mask(ctx.thread);
  return 0;
}

// kernel/signal.c do_sigaltstack. The current state comes back with
// SS_ONSTACK while the thread runs on the stack, which then cannot change.
int64_t sys_sigaltstack(SyscallContext& ctx, const SyscallArgs& a) {
  Thread& t = ctx.thread;
  uint64_t sp = t.vcpu->regs().rsp;
  GuestStack ss{};
  if (a.a[0]) {
    if (auto r = ctx.mm.copy_in(&ss, a.a[0], sizeof ss); !r.ok()) return -r.error();
  }
  GuestStack old{t.altstack_sp, 0, 0, t.altstack_size};
  old.flags = (t.altstack_size == 0 ? SS_DISABLE
               : on_altstack(t, sp) ? SS_ONSTACK
                                    : 0) |
              (t.altstack_flags & static_cast<int>(SS_AUTODISARM));
  if (a.a[0]) {
    if (on_altstack(t, sp)) return -EPERM;
    int mode = ss.flags & ~static_cast<int>(SS_AUTODISARM);
    if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0) return -EINVAL;
    if (mode == SS_DISABLE) {
      t.altstack_sp = 0;
      t.altstack_size = 0;
      t.altstack_flags = SS_DISABLE;
    } else {
      if (ss.size < kMinSigStkSz) return -ENOMEM;
      t.altstack_sp = ss.sp;
      t.altstack_size = ss.size;
      t.altstack_flags = ss.flags;
    }
  }
  if (a.a[1]) return to_rax(ctx.mm.copy_out(a.a[1], &old, sizeof old));
  return 0;
}

// arch/x86/kernel/signal_64.c: registers, FPU state, mask and alternate
// stack from the frame the handler returns through.
int64_t sys_rt_sigreturn(SyscallContext& ctx, const SyscallArgs&) {
  return signals_sigreturn(ctx);
}

// kernel/signal.c sys_rt_sigpending: pending and blocked. A smaller size
// copies part of the set.
int64_t sys_rt_sigpending(SyscallContext& ctx, const SyscallArgs& a) {
  if (a.a[1] > kSigsetSize) return -EINVAL;
  uint64_t set = signals_pending_blocked(ctx.thread);
  return to_rax(ctx.mm.copy_out(a.a[0], &set, a.a[1]));
}

// kernel/signal.c sys_rt_sigsuspend: waits with a temporary mask; the
// handler's frame saves the old mask (returns -ERESTARTNOHAND, which is
// EINTR once a handler ran).
int64_t sys_rt_sigsuspend(SyscallContext& ctx, const SyscallArgs& a) {
  if (a.a[1] != kSigsetSize) return -EINVAL;
  uint64_t mask;
  if (auto r = ctx.mm.copy_in(&mask, a.a[0], sizeof mask); !r.ok()) return -r.error();
  signals_set_temporary_mask(ctx.thread, mask);
  signals_wait(ctx.proc, ctx.thread);
  return -EINTR;
}

// kernel/signal.c sys_pause: -ERESTARTNOHAND after a signal.
int64_t sys_pause(SyscallContext& ctx, const SyscallArgs&) {
  signals_wait(ctx.proc, ctx.thread);
  return -EINTR;
}

// kernel/signal.c sys_rt_sigtimedwait / do_sigtimedwait: size, set and
// timeout are checked before waiting; the signal is consumed even when the
// info cannot be stored (EFAULT).
int64_t sys_rt_sigtimedwait(SyscallContext& ctx, const SyscallArgs& a) {
  if (a.a[3] != kSigsetSize) return -EINVAL;
  uint64_t set;
  if (auto r = ctx.mm.copy_in(&set, a.a[0], sizeof set); !r.ok()) return -r.error();
  struct timespec ts {};
  if (a.a[2]) {
    if (auto r = ctx.mm.copy_in(&ts, a.a[2], sizeof ts); !r.ok()) return -r.error();
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L) return -EINVAL;
  }
  siginfo_t info;
  memset(&info, 0, sizeof info);
  int64_t r = signals_timed_wait(ctx.proc, ctx.thread, set, a.a[2] ? &ts : nullptr, &info);
  if (r > 0 && a.a[1]) {
    if (auto c = ctx.mm.copy_out(a.a[1], &info, sizeof info); !c.ok()) return -c.error();
  }
  return r;
}

// rt_sigqueueinfo / rt_tgsigqueueinfo: the host makes the kernel's checks
// (a positive si_code or SI_TKILL only to oneself: EPERM), since guest pids
// are host pids and elfuse is the sender. A made-up SI_TKILL SIGURG to
// oneself would look like elfuse's kick: elfuse makes the EPERM check
// (the calling thread only) and relays it.
int64_t sys_rt_sigqueueinfo(SyscallContext& ctx, const SyscallArgs& a) {
  siginfo_t info;
  if (auto r = ctx.mm.copy_in(&info, a.a[2], sizeof info); !r.ok()) return -r.error();
  pid_t pid = static_cast<pid_t>(a.a[0]);
  int sig = static_cast<int>(a.a[1]);
  if (sig == SIGURG && info.si_code == SI_TKILL && pid == ctx.proc.pid) {
    if (ctx.thread.tid != pid) return -EPERM;
    return host_rax(signals_relay_urg(0, info));
  }
  return host_rax(syscall(SYS_rt_sigqueueinfo, pid, sig, &info));
}

int64_t sys_rt_tgsigqueueinfo(SyscallContext& ctx, const SyscallArgs& a) {
  siginfo_t info;
  if (auto r = ctx.mm.copy_in(&info, a.a[3], sizeof info); !r.ok()) return -r.error();
  pid_t tgid = static_cast<pid_t>(a.a[0]), tid = static_cast<pid_t>(a.a[1]);
  int sig = static_cast<int>(a.a[2]);
  if (sig == SIGURG && info.si_code == SI_TKILL && tgid == ctx.proc.pid && tid > 0) {
    if (ctx.thread.tid != tid) return -EPERM;
    return host_rax(signals_relay_urg(tid, info));
  }
  return host_rax(syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, &info));
}

// elfuse never sets up a restart block (a timed sleep interrupted without a
// handler returns EINTR instead), so this is the kernel's
// do_no_restart_syscall.
int64_t sys_restart_syscall(SyscallContext&, const SyscallArgs&) {
  return -EINTR;
}

// Guest pids are host pids: sending is the host's kill. A signal to
// oneself reaches elfuse's host handler before the host call returns, and
// is delivered to the guest on the way back (kernel/signal.h).
int64_t sys_kill(SyscallContext&, const SyscallArgs& a) {
  return host_rax(kill(static_cast<pid_t>(a.a[0]), static_cast<int>(a.a[1])));
}

// tgkill and tkill of SIGURG to one of the guest's own threads are
// relayed (tkill_own_urg): from elfuse's pid they would be its kick.
int64_t sys_tgkill(SyscallContext& ctx, const SyscallArgs& a) {
  pid_t tgid = static_cast<pid_t>(a.a[0]), tid = static_cast<pid_t>(a.a[1]);
  int sig = static_cast<int>(a.a[2]);
  if (sig == SIGURG && tgid == ctx.proc.pid && tid > 0) return tkill_own_urg(ctx.proc, tid);
  return host_rax(syscall(SYS_tgkill, tgid, tid, sig));
}

int64_t sys_tkill(SyscallContext& ctx, const SyscallArgs& a) {
  pid_t tid = static_cast<pid_t>(a.a[0]);
  int sig = static_cast<int>(a.a[1]);
  if (sig == SIGURG && tid > 0 && own_thread(ctx.proc, tid)) return tkill_own_urg(ctx.proc, tid);
  return host_rax(syscall(SYS_tkill, tid, sig));
}

}  // namespace elfuse
