// Signal delivery into the guest (docs/internals.md, "Faults and signals").
//
// Signals travel as real host signals. For every signal the guest catches,
// elfuse installs a host handler that records it, with its siginfo, in the
// receiving thread's ThreadSignals and makes KVM_RUN return; the run loop
// then builds the kernel's rt_sigframe on the guest stack before the guest
// runs again (arch/x86/kernel/signal.c, signal_64.c). Synchronous faults
// take the same path. Blocked signals stay pending in the host kernel,
// because the guest mask is mirrored to the host thread.
//
// SIGURG is also elfuse's vCPU kick (a tgkill from elfuse's own pid,
// SI_TKILL), so it is never blocked on the host: the guest's SIGURG is kept
// by elfuse, pending per thread (ThreadSignals) or for the process, and the
// guest's own sends that would look like a kick are relayed in an encoding
// only elfuse can make (docs/internals.md, "SIGURG").
#pragma once

#include <signal.h>

#include <atomic>
#include <cstdint>

#include "hv/hypervisor.h"
#include "kernel/syscall_context.h"

namespace elfuse {

class Process;
class Thread;
struct GuestSigaction;

constexpr uint64_t sigbit(int sig) {
  return uint64_t{1} << (sig - 1);
}
constexpr uint64_t kUnblockableSignals = sigbit(SIGKILL) | sigbit(SIGSTOP);

// The signal state of one guest thread that is not in Thread itself.
struct ThreadSignals {
  // Signals the host delivered to this thread, unblocked when they came,
  // not yet delivered into the guest (bit sig-1). Written by the host
  // signal handler: the info slot first, then the bit (release).
  std::atomic<uint64_t> pending{0};
  siginfo_t info[64];
  // The mask last set on the host thread (the handler adds to it).
  std::atomic<uint64_t> host_mask{~uint64_t{0}};
  // set_restore_sigmask() (include/linux/sched/signal.h): rt_sigsuspend,
  // ppoll, pselect6 run with a temporary mask; the frame of the signal that
  // ends them saves the old one, which is restored if none is delivered.
  bool restore_mask = false;
  uint64_t saved_mask = 0;
  // thread.trap_nr, error_code, cr2 of the last fault that raised a
  // signal: the sigcontext's trapno, err and cr2.
  uint64_t trapno = 0, err = 0, cr2 = 0;
  // Set when the thread must leave the guest (another thread's execve):
  // waits in signals_wait end early.
  std::atomic<bool> stop{false};
  // The guest mask as last mirrored (signals_sync_host_mask), for the
  // SIGURG handler, which keeps the guest's SIGURG itself.
  std::atomic<uint64_t> guest_mask{0};
  // The thread's slot in the table of guest threads the SIGURG handler
  // looks a process-directed SIGURG's taker up in, or -1.
  int slot = -1;
};

// The dispositions elfuse was started with: the signals it inherited as
// SIG_IGN (an execve keeps those, kernel/signal.c flush_signal_handlers;
// `nohup` and shells' `trap ''` rely on it). Call first thing in main, before
// elfuse installs handlers of its own (the vCPU kick) or a thread starts.
void signals_record_inherited();
// The first program starts with what signals_record_inherited saw.
void signals_inherit(Process& proc);
// Installs the host handler of SIGURG (kicks and the guest's SIGURG). Call
// once, after signals_record_inherited, before any vCPU exists.
void signals_install_kick_handler();

// The guest sends SIGURG to its own process (`tid` 0) or to its thread
// `tid` with `info`: relayed so that the receiving handler can never take
// it for a kick (a raw tgkill to itself would be one). Returns the host
// call's result (-1 and errno).
long signals_relay_urg(int tid, const siginfo_t& info);

// Binds the calling host thread to a guest thread (the host handler
// records into its ThreadSignals). Called by run_thread.
void signals_attach_thread(Thread& thread);
// The reverse, before the Thread goes away (its host thread ends or parks):
// every host signal blocked on the calling host thread, nothing recorded
// there any more. Process-directed signals then go to other threads.
void signals_detach_thread();

// Around the host fork (kernel/fork.c copy_process, init_sigpending): the
// parent blocks every host signal before it forks (signals_block_for_fork)
// and restores its mask after (signals_unblock_after_fork); the child
// drops the parent's recorded signals, which are not its own, then
// unblocks, so that one sent to the child at once (kill right after fork),
// which the host kept pending for it meanwhile, is recorded and delivered.
uint64_t signals_block_for_fork();
void signals_unblock_after_fork(uint64_t saved_host_mask);
void signals_on_fork_child(Thread& thread);

// rt_sigaction: makes the host disposition match the guest's (a host
// handler for a caught signal, SIG_IGN, SIG_DFL) and drops a pending
// signal that is now ignored (kernel/signal.c do_sigaction).
void signals_set_host_disposition(Thread& thread, int sig, const GuestSigaction& act);
// Whether setting `act` for `sig` discards a pending `sig` (and so resets
// the calling host thread's mask).
bool signals_disposition_discards(int sig, const GuestSigaction& act);

// Mirrors the guest mask (plus signals recorded but not delivered yet) to
// the host thread. Unblocking there makes the host deliver what it held.
void signals_sync_host_mask(Thread& thread);

// For syscalls that wait with a temporary mask (rt_sigsuspend, ppoll,
// pselect6, epoll_pwait): the kernel's set_restore_sigmask().
void signals_set_temporary_mask(Thread& thread, uint64_t mask);

// The exit paths of the run loop. Each delivers the pending unblocked
// signals into the guest before it runs again.
// After a syscall whose result is already in RAX (finish_syscall):
// includes the restart of an interrupted syscall (-EINTR from the host) as
// arch/x86/kernel/signal.c handle_signal/arch_do_signal_or_restart do.
void signals_on_syscall_return(Process& proc, Thread& thread, const SyscallArgs& args,
                               int64_t result);
// After any other exit that returns to the guest (kInterrupted, a syscall
// that replaced the registers).
void signals_on_resume(Process& proc, Thread& thread);
// A synchronous fault (kFault): delivered to the guest's handler when it
// has one and the signal is not blocked; otherwise the default action
// (the process dies by that signal, die_of_fault). Returns only when the
// guest continues.
void signals_on_fault(Process& proc, Thread& thread, const GuestFault& fault);

// force_sig (kernel/signal.c force_sig_info_to_task) from a syscall
// handler, with si_code SI_KERNEL: a handler runs when the guest has one
// and does not block the signal (delivered on the syscall's return);
// otherwise the default action, which kills.
void signals_force(Process& proc, Thread& thread, int sig);
// The same with the caller's siginfo (seccomp's SIGSYS), and without a
// word on stderr when the signal kills (force_sig_seccomp).
void signals_force_info(Process& proc, Thread& thread, const siginfo_t& info);

// execve (fs/exec.c): caught signals go back to SIG_DFL (on the host too),
// ignored ones stay ignored; mask and pending signals are kept; the
// alternate signal stack is cleared.
void signals_on_exec(Process& proc);

// The guest's rt_sigreturn: restores registers, FPU state, mask and
// alternate stack from the frame at RSP - 8 (signal_64.c). A bad frame is
// SIGSEGV. Sets ctx.outcome = kNoReturn.
int64_t signals_sigreturn(SyscallContext& ctx);

// rt_sigreturn's segment rules (signal_64.c restore_sigcontext and the
// IRET after it): the selector the return to user mode would fault on
// (RPL 3 forced), or 0 when CS is the 64-bit user code selector and SS,
// after force_valid_ss (only without UC_STRICT_RESTORE_SS in uc_flags),
// the user data selector.
uint16_t sigreturn_bad_selector(uint16_t frame_cs, uint16_t frame_ss, uint64_t uc_flags);

// Blocks until a signal is recorded that the current guest mask does not
// block (pause, rt_sigsuspend): the host's rt_sigsuspend with the mask
// mirrored, entered with caught signals blocked so none is missed.
void signals_wait(Process& proc, Thread& thread);

// rt_sigtimedwait's core: dequeues a signal of `set` (recorded here or
// pending in the host), waiting up to *timeout (nullptr: forever). Returns
// the signal number and its info, or a negated errno (EAGAIN, EINTR).
int64_t signals_timed_wait(Process& proc, Thread& thread, uint64_t set,
                           const struct timespec* timeout, siginfo_t* info);

// Pending signals that are blocked (rt_sigpending): recorded and host.
uint64_t signals_pending_blocked(Thread& thread);

// Recorded signals (the thread's own and the process's SIGURG) that the
// thread's mask does not block: what the next delivery would take.
uint64_t signals_deliverable(Thread& thread);

// The guest's SIGURG kept by elfuse for the thread or the process (a host
// signalfd never sees it): whether there is one, and taking it (the
// thread's own first, as dequeue_signal).
bool signals_kept_urg(Thread& thread);
bool signals_take_kept_urg(Thread& thread, siginfo_t* info);

// A forked child, once its tid is known: the parent's process-directed
// SIGURG is not its own, nor are the parent's other threads (the SIGURG
// routing table).
void signals_urg_on_fork_child(Thread& thread);

}  // namespace elfuse
