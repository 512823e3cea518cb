// Signal delivery into the guest: which signal a thread takes and when
// (kernel/signal.c get_signal, dequeue), its disposition's action, the
// masks, syscall restart (arch/x86/kernel/signal.c), faults turned into
// signals, and what execve resets. The host's handlers, the kick and the
// waits are signal_host.cc; the rt_sigframe and rt_sigreturn are
// signal_frame.cc. See docs/internals.md, "Faults and signals", for the
// design.
#include "kernel/signal.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "abi/linux.h"
#include "base/log.h"
#include "base/safe_copy.h"
#include "kernel/fault.h"
#include "kernel/process.h"
#include "kernel/signal_internal.h"
#include "kernel/syscall_policy.h"

namespace elfuse {

using namespace signal_internal;

namespace signal_internal {

[[noreturn]] void die_undeliverable(int sig, const char* why) {
  const char* abbrev = sigabbrev_np(sig);
  log_error("guest killed by SIG%s: %s", abbrev ? abbrev : "?", why);
  die_by_signal(sig);
}

}  // namespace signal_internal

namespace {

// ------------------------------------------------------------ delivery

void apply_host_action(int sig, const GuestSigaction& act) {
  // SIGURG keeps its host handler, which follows the guest's disposition.
  if (sig == SIGURG) g_urg_ignored.store(act.handler <= kSigIgn);
  if (sigbit(sig) & kHostKeeps) return;
  HostSigaction h{};
  // SIGCHLD's SA_NOCLDSTOP and SA_NOCLDWAIT act in the host kernel, which
  // owns the children.
  if (sig == SIGCHLD) h.flags = act.flags & (SA_NOCLDSTOP | SA_NOCLDWAIT);
  if (act.handler == kSigIgn) {
    h.handler = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(SIG_IGN);
  } else if (act.handler == kSigDfl && !(sigbit(sig) & kLibcInternal)) {
    h.handler = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(SIG_DFL);
  } else {
    // No SA_RESTART: a host syscall the signal interrupts returns EINTR, and
    // the guest's own SA_RESTART decides (signals_on_syscall_return). All
    // signals blocked while the (short) handler runs.
    h.handler = host_handler;
    h.flags |= SA_SIGINFO | kSaRestorer;
    h.restorer = elfuse_host_sigreturn;
    h.mask = kAllSignals & ~kHostKeeps;
  }
  // SIGSEGV and SIGBUS keep elfuse's fault handler (base/safe_copy.h), which
  // hands what is not a fault of its copy routines to this disposition.
  if (sig == SIGSEGV || sig == SIGBUS) {
    safe_copy::set_disposition(sig, h.handler, h.flags, h.mask);
    return;
  }
  raw_sigaction(sig, &h);
}

// The default action of a signal that was recorded while caught but whose
// handler is SIG_DFL or SIG_IGN by the time it is delivered.
void default_action(Thread& t, int sig) {
  uint64_t b = sigbit(sig);
  if (b & kDefaultIgnore) return;
  if (b & kDefaultStop) {
    signals_sync_host_mask(t);
    syscall(SYS_tgkill, getpid(), gettid(), sig);  // the host disposition is SIG_DFL
    return;
  }
  die_by_signal(sig);
}

// get_signal + handle_signal, repeated while signals are deliverable (each
// handler frame goes on top of the previous one, as the kernel's
// exit_to_user_mode loop does). `restart` is the interrupted syscall's
// restart class (kNone when not from a syscall). Returns true when at least
// one handler frame was set up.
bool deliver(Process& proc, Thread& t, UserView& u, Restart restart, uint64_t nr) {
  ThreadSignals& ts = t.signals;
  bool delivered = false;
  for (;;) {
    // dequeue_signal: the thread's own pending set, then the process's.
    int sig = next_signal(ts.pending.load(std::memory_order_acquire) & ~t.sigmask);
    siginfo_t info;
    if (sig)
      info = take_signal(ts, sig);
    else if (!(t.sigmask & kUrg) && shared_urg_take(&info))
      sig = SIGURG;
    else
      break;
    GuestSigaction& act = proc.sigactions[sig - 1];
    if (act.handler == kSigIgn) continue;
    if (act.handler == kSigDfl) {
      default_action(t, sig);
      continue;
    }
    GuestSigaction used = act;
    if (!delivered && restart != Restart::kNone) {
      // handle_signal: the syscall return value for a handler that runs.
      if (restart == Restart::kNoIntr || (restart == Restart::kSys && (act.flags & kSaRestart))) {
        u.r.rax = nr;
        u.r.rip -= 2;  // back onto the `syscall` instruction
      }
    }
    uint64_t saved = ts.restore_mask ? ts.saved_mask : t.sigmask;
    if (!setup_frame(proc, t, u, sig, info, used, saved)) {
      // force_sigsegv: SIGSEGV, with SIGSEGV's handler reset when it was
      // SIGSEGV that could not be delivered.
      GuestSigaction& segv = proc.sigactions[SIGSEGV - 1];
      if (sig == SIGSEGV || segv.handler <= kSigIgn || (t.sigmask & sigbit(SIGSEGV)))
        die_undeliverable(SIGSEGV, "cannot write the signal frame");
      record_signal(ts, SIGSEGV, kernel_info(SIGSEGV, SI_KERNEL, 0));
      continue;
    }
    delivered = true;
    // signal_delivered: the handler's mask; the saved mask is consumed.
    uint64_t blocked = t.sigmask | act.mask;
    if (!(act.flags & kSaNodefer)) blocked |= sigbit(sig);
    t.sigmask = blocked & ~kUnblockableSignals;
    ts.restore_mask = false;
    if (t.altstack_flags & SS_AUTODISARM) {
      t.altstack_sp = 0;
      t.altstack_size = 0;
      t.altstack_flags = SS_DISABLE;
    }
    if (act.flags & kSaResethand) {
      act.handler = kSigDfl;
      apply_host_action(sig, act);
    }
  }
  if (!delivered && restart != Restart::kNone) {
    // arch_do_signal_or_restart, no handler: restart. restart_syscall is
    // not implemented; a timed sleep returns EINTR (documented).
    if (restart != Restart::kBlock) {
      u.r.rax = nr;
      u.r.rip -= 2;
    }
  }
  if (ts.restore_mask) {  // restore_saved_sigmask
    t.sigmask = ts.saved_mask;
    ts.restore_mask = false;
  }
  signals_sync_host_mask(t);
  return delivered;
}

// Linux keeps the temporary mask of ppoll, pselect6 and epoll_pwait when
// they return EINTR, until the signal is delivered. sys_poll.cc passes the
// mask to the host call itself; take it from the arguments again here.
void adopt_wait_mask(Process& proc, Thread& t, const SyscallArgs& a) {
  uint64_t ptr = 0, size = 0;
  switch (a.nr) {
    case SYS_ppoll:
      ptr = a.a[3], size = a.a[4];
      break;
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
      ptr = a.a[4], size = a.a[5];
      break;
    case SYS_pselect6: {
      uint64_t pack[2];
      if (!a.a[5] || !proc.mm().copy_in(pack, a.a[5], sizeof pack).ok()) return;
      ptr = pack[0], size = pack[1];
      break;
    }
    default:
      return;
  }
  uint64_t mask;
  if (!ptr || size != 8 || !proc.mm().copy_in(&mask, ptr, 8).ok()) return;
  signals_set_temporary_mask(t, mask);
}

}  // namespace

// ------------------------------------------------------------ public

bool signals_disposition_discards(int sig, const GuestSigaction& act) {
  // do_sigaction: setting SIG_IGN, or SIG_DFL for a signal whose default is
  // to ignore, discards it if pending (the host does the same for its own).
  return act.handler == kSigIgn || (act.handler == kSigDfl && (sigbit(sig) & kDefaultIgnore));
}

void signals_set_host_disposition(Thread& thread, int sig, const GuestSigaction& act) {
  apply_host_action(sig, act);
  if (signals_disposition_discards(sig, act)) {
    thread.signals.pending.fetch_and(~sigbit(sig));
    if (sig == SIGURG) shared_urg_discard();
    signals_sync_host_mask(thread);
  }
}

void signals_set_temporary_mask(Thread& t, uint64_t mask) {
  if (!t.signals.restore_mask) t.signals.saved_mask = t.sigmask;
  t.signals.restore_mask = true;
  t.sigmask = mask & ~kUnblockableSignals;
  signals_sync_host_mask(t);
}

void signals_on_syscall_return(Process& proc, Thread& t, const SyscallArgs& args, int64_t result) {
  // A forked child's records were reset by signals_on_fork_child; what it
  // has now was sent to it and is delivered on its first return.
  ThreadSignals& ts = t.signals;
  Restart restart = result == -EINTR ? syscall_restart_class(args) : Restart::kNone;
  if (result == -EINTR && !ts.restore_mask) adopt_wait_mask(proc, t, args);
  if (!signals_deliverable(t) && restart == Restart::kNone && !ts.restore_mask) return;
  UserView u{t.vcpu->regs(), false};
  // The shim stub's `jmp *%rcx`, done here: the frame then shows the
  // program's own return address, as under Linux.
  u.r.rip = u.r.rcx;
  deliver(proc, t, u, restart, args.nr);
  store_user(t, u);
}

void signals_on_resume(Process& proc, Thread& t) {
  ThreadSignals& ts = t.signals;
  if (!signals_deliverable(t) && !ts.restore_mask) return;
  // Inside the shim's supervisor code the user registers are not at hand;
  // the signal waits for the next exit (see docs/internals.md).
  if (!t.vcpu->at_user_boundary()) return;
  UserView u{t.vcpu->regs(), false};
  deliver(proc, t, u, Restart::kNone, 0);
  store_user(t, u);
}

void signals_on_fault(Process& proc, Thread& t, const GuestFault& f) {
  FaultSignal fs;
  if (f.write_to_readonly_host) {
    // KVM_RUN EFAULT: the host could not fault a page in, and KVM does not
    // say which. A page of a file mapping wholly past the end of the file
    // is Linux's SIGBUS/BUS_ADRERR (mm/filemap.c filemap_fault); anything
    // else has no fault address to report: keep the default action.
    auto va = proc.mm().find_sigbus_page(~0ull);
    if (!va) die_of_fault(proc, f);
    fs = {SIGBUS, BUS_ADRERR, *va};
  } else {
    bool mapped = f.vector == 14 && proc.mm().with_vmas([&](const AddressSpace& as) {
      return as.find(f.address) != nullptr;
    });
    fs = signal_for_fault(f, mapped);
    // A read of a vDSO data page the host kernel has no page for: its
    // fault handler's VM_FAULT_SIGBUS. A write or an instruction fetch
    // there is an access error first (the VMA is read-only, not
    // executable): SIGSEGV.
    constexpr uint64_t kPfWrite = 2, kPfFetch = 16;
    if (mapped && !(f.error_code & (kPfWrite | kPfFetch)) && proc.mm().host_page_sigbus(f.address))
      fs = {SIGBUS, BUS_ADRERR, f.address};
  }
  const GuestSigaction& act = proc.sigactions[fs.signo - 1];
  // force_sig_info_to_task: a blocked or ignored fault signal is reset to
  // the default action, which kills.
  if (act.handler <= kSigIgn || (t.sigmask & sigbit(fs.signo))) {
    if (fs.signo == SIGBUS) {
      log_error("guest killed by SIGBUS: address 0x%llx (%s)",
                static_cast<unsigned long long>(fs.address),
                f.write_to_readonly_host ? "past the end of the mapped file" : "no page there");
      die_by_signal(SIGBUS);
    }
    die_of_fault(proc, f);
  }
  ThreadSignals& ts = t.signals;
  ts.trapno = f.vector;
  ts.err = f.error_code;
  if (f.vector == 14) {
    // arch/x86/mm/fault.c set_signal_archinfo.
    ts.err = f.error_code | 4;                   // X86_PF_USER
    if (f.address >= kTaskSizeMax) ts.err |= 1;  // X86_PF_PROT
    ts.cr2 = f.write_to_readonly_host ? fs.address : f.address;
  }
  siginfo_t info = kernel_info(fs.signo, fs.code, fs.address);
  record_signal(ts, fs.signo, info);
  UserView u{t.vcpu->regs(), true};
  u.r.rip = f.rip;
  u.r.rsp = f.rsp;
  u.r.rflags = f.rflags;
  deliver(proc, t, u, Restart::kNone, 0);
  store_user(t, u);
}

void signals_force(Process& proc, Thread& t, int sig) {
  const GuestSigaction& act = proc.sigactions[sig - 1];
  if (act.handler <= kSigIgn || (t.sigmask & sigbit(sig)))
    die_undeliverable(sig, "forced by the kernel (blocked, ignored or without a handler)");
  record_signal(t.signals, sig, kernel_info(sig, SI_KERNEL, 0));
}

void signals_force_info(Process& proc, Thread& t, const siginfo_t& info) {
  int sig = info.si_signo;
  const GuestSigaction& act = proc.sigactions[sig - 1];
  if (act.handler <= kSigIgn || (t.sigmask & sigbit(sig))) die_by_signal(sig);
  record_signal(t.signals, sig, info);
}

uint64_t signals_deliverable(Thread& t) {
  uint64_t pending = t.signals.pending.load(std::memory_order_acquire);
  if (shared_urg_pending()) pending |= kUrg;
  return pending & ~t.sigmask;
}

void signals_on_exec(Process& proc) {
  for (int sig = 1; sig <= 64; sig++) {
    GuestSigaction& act = proc.sigactions[sig - 1];
    if (act.handler > kSigIgn) {
      act = GuestSigaction{};
      apply_host_action(sig, act);
    } else {
      act.flags = 0;
      act.mask = 0;
      act.restorer = 0;
      // Also at the first exec: these never keep the host's SIG_DFL.
      if (act.handler == kSigDfl && (sigbit(sig) & kLibcInternal)) apply_host_action(sig, act);
    }
  }
  for (auto& t : proc.threads) {
    t->altstack_sp = 0;
    t->altstack_size = 0;
    t->altstack_flags = SS_DISABLE;
  }
}

}  // namespace elfuse
