// Fault-tolerant access to memory that may not be there: elfuse's own
// copy_from_user. A guest page that is a host file mapping (an overlay,
// docs/internals.md "File mappings") can lie wholly past the end of its file,
// where a load or store by elfuse raises SIGBUS; an address can also be
// unmapped (SIGSEGV). The routines here (safe_copy.S) do the access with
// instructions listed in a fixup table, as the kernel's uaccess routines are
// listed in its exception table (arch/x86/mm/extable.c): elfuse's SIGSEGV
// and SIGBUS handler finds a fault's instruction in the table and resumes at
// the entry's fixup, which returns what was not done. A fault anywhere else
// goes on to the disposition the signal had before (the guest's, through
// elfuse's host handler, or the default), so a real crash of elfuse still
// kills it by that signal.
//
// The kernel kills a process whose fault signal is blocked or ignored
// (force_sig_fault), so SIGSEGV and SIGBUS must be unblocked while a routine
// runs: a FaultWindow unblocks them on the calling thread (elfuse's host
// masks follow the guest's, and the exitless workers block everything).
#pragma once

#include <signal.h>

#include <cstddef>
#include <cstdint>

namespace elfuse::safe_copy {

// Installs the process-wide SIGSEGV and SIGBUS handler (SA_SIGINFO |
// SA_ONSTACK), keeping the dispositions found as what other faults and
// signals sent by kill() go on to. Idempotent; every function below installs
// it first if needed. Threads created later and forked children share or
// inherit it.
void install();

// The guest-facing disposition of SIGSEGV or SIGBUS (signal.cc
// apply_host_action): what the handler does with a signal that is not a
// fault of a routine here. handler is SIG_DFL, SIG_IGN or a function (with
// SA_SIGINFO in flags: void(int, siginfo_t*, void*)); flags and mask as for
// the kernel's sigaction (SA_RESTART, SA_NODEFER are kept; mask is the
// 64-bit set blocked while it runs).
void set_disposition(int sig, void (*handler)(int, siginfo_t*, void*), uint64_t flags,
                     uint64_t mask);

// While one lives, SIGSEGV and SIGBUS are unblocked on this thread (one
// rt_sigprocmask; a second only when they were blocked). A SIGSEGV or
// SIGBUS sent by kill() that the thread had blocked and that arrives
// meanwhile is queued again when the window closes, so it stays pending as
// it would have. Not for use in a signal handler.
class FaultWindow {
 public:
  FaultWindow();
  ~FaultWindow();
  FaultWindow(const FaultWindow&) = delete;
  FaultWindow& operator=(const FaultWindow&) = delete;

 private:
  uint64_t reblock_;
};

// Copies n bytes from src to dst; returns how many were not copied (0: all)
// because a load or store faulted. Inside a FaultWindow.
size_t copy(void* dst, const void* src, size_t n);

// A 32-bit atomic load: false on a fault. Inside a FaultWindow.
bool load32(const uint32_t* p, uint32_t* out);

// A 32-bit compare-and-exchange (lock cmpxchg): 1 when *p was *expected and
// is now desired, 0 when it was not (*expected is then what it was), -1 on a
// fault. Inside a FaultWindow.
int cmpxchg32(uint32_t* p, uint32_t* expected, uint32_t desired);

}  // namespace elfuse::safe_copy
