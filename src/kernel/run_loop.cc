#include "kernel/run_loop.h"

#include <unistd.h>

#include "base/log.h"
#include "base/timing.h"
#include "hv/hypervisor.h"
#include "kernel/exitless.h"
#include "kernel/fault.h"
#include "kernel/peer.h"
#include "kernel/process.h"
#include "kernel/signal.h"
#include "kernel/syscall_entry.h"
#include "kernel/thread.h"

namespace elfuse {
namespace {

// A syscall that is complete, result in hand: back to the user, where Linux
// delivers signals and restarts an interrupted syscall (kernel/signal.h).
void return_to_user(Process& proc, Thread& thread, const SyscallArgs& args, int64_t result) {
  thread.vcpu->finish_syscall(result);
  signals_on_syscall_return(proc, thread, args, result);
}

// False when the thread left the process (it is gone).
bool handle_syscall(Process& proc, Thread& thread, SyscallForm form) {
  const GuestRegs& r = thread.vcpu->regs();
  SyscallArgs args{r.rax, {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9}};
  if (form == SyscallForm::kAnswered) {
    // The guest's entry answered it; it only needed the host for a signal.
    // No syscall number: nothing to restart.
    int64_t result = static_cast<int64_t>(r.rax);
    return_to_user(proc, thread, SyscallArgs{~uint64_t{0}, {}}, result);
    return true;
  }
  if (form == SyscallForm::kClaimed) {
    // The worker has it: its answer, as if this thread had made the call.
    int64_t result;
    if (exitless_claimed(proc, thread, &args, &result)) {
      return_to_user(proc, thread, args, result);
      return true;
    }
    // Refused: the call is this thread's to run.
  }
  if (form == SyscallForm::kTakenBack) exitless_taken_back(thread);
  SyscallContext ctx{proc, thread, proc.mm()};
  int64_t result = dispatch_syscall(ctx, args);
  switch (ctx.outcome) {
    case Outcome::kReturn:
      // The vCPU may be a new one now (the child of a fork).
      exitless_after_trap(proc, thread, args.nr);
      return_to_user(proc, thread, args, result);
      return true;
    case Outcome::kNoReturn:
      signals_on_resume(proc, thread);
      return true;
    case Outcome::kExitThread:
      exit_thread(proc, thread, ctx.exit_code);
      return false;
    case Outcome::kThreadGone:
      return false;
    case Outcome::kExitGroup:
      // kernel/exit.c do_group_exit: the host's exit_group ends every host
      // thread at once, wherever it is (KVM_RUN, a blocking host call);
      // nothing of elfuse's needs to run first (the vfork pipe closes
      // with the process).
      exitless_print_stats();
      timing_mark("exit_group");
      timing_print_exits();
      peer::leaving();
      _exit(ctx.exit_code);
  }
  return true;
}

// False when the thread left the process (it is gone).
bool handle_exit(Process& proc, Thread& thread, const VcpuExit& exit) {
  exitless_on_exit(proc);
  switch (exit.kind) {
    case ExitKind::kSyscall:
      return handle_syscall(proc, thread, exit.form);
    case ExitKind::kFault:
      // The guest's handler, or death by the signal (kernel/signal.h).
      signals_on_fault(proc, thread, exit.fault);
      return true;
    case ExitKind::kInterrupted:
      // A host signal stopped KVM_RUN: deliver what it recorded.
      signals_on_resume(proc, thread);
      return true;
    case ExitKind::kFatal:
      fatal("the guest cannot continue: %s", exit.detail.c_str());
  }
  return true;
}

}  // namespace

void run_thread(Process& proc, Thread& thread) {
  signals_attach_thread(thread);
  exitless_thread_start(proc, thread);
  for (;;) {
    // Another thread's execve (de_thread) stops this one at its next exit.
    if (__builtin_expect(thread.signals.stop.load(std::memory_order_relaxed), 0)) {
      leave_thread(proc, thread);
      return;
    }
    if (__builtin_expect(timing_enabled(), 0)) {
      int64_t t0 = timing_now_ns();
      VcpuExit exit = thread.vcpu->run();
      int64_t t1 = timing_now_ns();
      if (!thread.timing_first_exit_seen) {
        thread.timing_first_exit_seen = true;
        timing_mark_slow("first exit from the guest");
      }
      TimingExit kind = exit.kind == ExitKind::kFault          ? TimingExit::kFault
                        : exit.kind != ExitKind::kSyscall      ? TimingExit::kInterrupted
                        : exit.form == SyscallForm::kTrap      ? TimingExit::kTrap
                        : exit.form == SyscallForm::kTakenBack ? TimingExit::kTakenBack
                        : exit.form == SyscallForm::kClaimed   ? TimingExit::kClaimed
                                                               : TimingExit::kAnswered;
      uint64_t nr = thread.vcpu->regs().rax;
      timing_count_exit(kind, nr, t1 - t0,
                        thread.timing_last_run_end ? t0 - thread.timing_last_run_end : 0);
      thread.timing_last_run_end = t1;
      if (!handle_exit(proc, thread, exit)) return;
      continue;
    }
    VcpuExit exit = thread.vcpu->run();
    if (!handle_exit(proc, thread, exit)) return;
  }
}

}  // namespace elfuse
