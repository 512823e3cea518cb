// Synchronous guest faults: which signal Linux would send, and, until guest
// signal handlers exist, the kernel's default action (death by that signal).
#pragma once

#include "hv/hypervisor.h"

namespace elfuse {

class Process;

struct FaultSignal {
  int signo;
  int code;          // si_code (SEGV_MAPERR, ILL_ILLOPN...)
  uint64_t address;  // si_addr
};

// arch/x86/kernel/traps.c and arch/x86/mm/fault.c: the signal a user-mode
// exception raises. `mapped` says whether the #PF address lies in a VMA.
FaultSignal signal_for_fault(const GuestFault& fault, bool mapped);

// Prints one line (signal, address, RIP, the mapping hit) and kills the
// host process by the same signal, so the shell sees 128 + signo.
[[noreturn]] void die_of_fault(Process& proc, const GuestFault& fault);

// Kills the host process by signo with the default action (no core file
// settings are changed).
[[noreturn]] void die_by_signal(int signo);

}  // namespace elfuse
