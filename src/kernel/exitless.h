// Syscalls without an exit (docs/internals.md, "Syscalls without an exit").
//
// The guest's syscall entry (hv/guest_entry.h; PVM: src/shim/shim.S)
// answers getpid, getppid, gettid, get[e]uid, get[e]gid and a
// FUTEX_WAKE_PRIVATE nobody waits for from values this module keeps
// current, and hands the calls of an allowlist to a host worker thread
// through the vCPU's request page while the guest spins for the answer: no
// exit to the host process, whose round trip costs about 30 us here.
//
// Each guest thread T (its host thread runs KVM_RUN and the exit path, and
// keeps its identity: tid, signal mask, pending signals) gets at most one
// worker W, created by T (so it shares T's fd table, fs and credentials)
// the first time T traps on an allowlisted call. W serves only calls whose
// result does not depend on which host thread makes them, checked again on
// every request; anything else it refuses and the entry takes the exit.
// A call that blocks in W: the entry gives up spinning and exits, and T
// waits for W's answer, interruptibly: a signal for T makes W's host call
// return EINTR, so T's normal restart logic runs as if T had made it.
//
// Off with --trace (every call is then seen by the host) and with
// ELFUSE_EXITLESS=0 (the worker only; the in-guest answers stay).
#pragma once

#include <cstdint>

#include "hv/hypervisor.h"
#include "kernel/syscall_context.h"

namespace elfuse {

class Process;
class Thread;

// Once, before the first program starts. `observed`: every syscall must
// reach the host (--trace): nothing is answered in the guest.
void exitless_configure(bool observed);

// A thread starts running the guest (run_thread): its vCPU's ids.
void exitless_thread_start(Process& proc, Thread& thread);
// After commit_exec: a new VM and vCPU.
void exitless_on_exec(Process& proc, Thread& thread);
// In a forked child (the parent's workers do not exist here).
void exitless_on_fork_child(Process& proc, Thread& thread);

// At every exit of the vCPU, before anything else sees the guest.
void exitless_on_exit(Process& proc);
// After the host ran a trapped syscall `nr` for the thread (kTrap).
void exitless_after_trap(Process& proc, Thread& thread, uint64_t nr);
// A kTakenBack exit: the entry posted the call and the worker did not take
// it in time (it is not running): the entry stops posting for a while.
void exitless_taken_back(Thread& thread);
// A kClaimed exit: waits (interruptibly) for the worker's answer. True with
// the call as the worker ran it and its result; false when the worker
// refused it (or had none): then the host runs the call from the registers.
bool exitless_claimed(Process& proc, Thread& thread, SyscallArgs* args, int64_t* result);

// seccomp's strict mode for `thread` (set by the caller): its calls must
// all reach dispatch_syscall, which kills for most of them, so none is
// answered in the guest or served by a worker from now on, and the process
// page answers nothing for any thread of the process.
void exitless_seccomp_strict(Process& proc, Thread& thread);
// The same for the first filter of `thread` (seccomp's filter mode), which
// the caller calls exitless_seccomp_strict for; another thread of the
// process that a TSYNC gave filters: its entry answers and posts nothing
// (its worker, which is not stopped from here, refuses every call of a
// thread with filters: dispatch_syscall).
void exitless_seccomp_synced(Thread& thread);

// The thread's worker ends (joined) before the thread leaves, its vCPU or
// VM goes away, or its host thread's credentials change.
void exitless_stop_worker(Thread& thread);

// ELFUSE_EXITLESS_STATS=1: one line on stderr with the workers' counts
// (called at exit_group).
void exitless_print_stats();

// Async-signal-safe, from elfuse's host signal handler: a thread waiting
// for its worker's answer looks at its signals again.
void exitless_wake_from_signal_handler();

// Around a host futex wait of a guest thread: the count the entry's
// FUTEX_WAKE_PRIVATE answer relies on.
class FutexWaitScope {
 public:
  explicit FutexWaitScope(Process& proc);
  ~FutexWaitScope();
  FutexWaitScope(const FutexWaitScope&) = delete;
  FutexWaitScope& operator=(const FutexWaitScope&) = delete;

 private:
  GuestProcessPage* page_;
};

}  // namespace elfuse
