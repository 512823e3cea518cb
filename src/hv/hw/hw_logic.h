// The hardware backend's decisions that need no vCPU: how the guest goes
// back to user mode, what the registers show after a stop in the shim, and
// whether a #PF is stale. Pure functions over plain data, so that unit tests
// (tests/unit/test_hw_logic.cc) cover them on a machine without VMX or SVM.
#pragma once

#include <cstdint>

#include "hv/hypervisor.h"

namespace elfuse::hw {

// Flags user code may hold (CF PF AF ZF SF TF DF OF NT RF AC ID); IF and the
// reserved bit 1 always set; IOPL, VM, VIF, VIP never.
inline constexpr uint64_t kUserFlagsMask = 0xdd5 | 0x4000 | 0x10000 | 0x40000 | 0x200000;
inline uint64_t user_flags(uint64_t f) {
  return (f & kUserFlagsMask) | 0x202;
}

// The lower half of the 48-bit address space: where a user RIP can be.
inline constexpr uint64_t kUserVaEnd = 1ull << 47;

enum class Return { kSysret, kIret, kIretFlush };

// SYSRET when it gives exactly the view (RIP = RCX, RFLAGS = R11's flags as
// SYSRET loads them, no RF, a canonical RIP) and no flush is due; else
// IRETQ, through the CR3 reload when one is.
Return choose_return(const GuestRegs& view, bool flush);

// Where a stopped vCPU's RIP is, relative to the shim's hardware entries
// (addresses of shim_hw_syscall, shim_hw_sysret, shim_hw_iret_flush,
// shim_hw_iret, shim_hw_iretq).
struct ShimEntries {
  uint64_t syscall, sysret, iret_flush, iret, iretq;
};
enum class StopPlace {
  kUser,           // below the supervisor half
  kSyscallEntry,   // `syscall` done, its `out` not yet
  kSysret,         // about to SYSRET
  kIretBeforePop,  // in shim_hw_iret_flush or at shim_hw_iret: RAX in the frame
  kIretq,          // RAX popped, the frame at RSP
  kOther,          // an exception stub
};
StopPlace stop_place(uint64_t rip, uint64_t super_base, const ShimEntries& e);

// The user view of a vCPU stopped at `place` (regs: the CPU's registers;
// frame: the six words [rax, rip, cs, rflags, rsp, ss] the host wrote for
// the IRETQ). Returns false for kOther, whose registers are the CPU's.
bool user_view(StopPlace place, const uint64_t frame[6], GuestRegs& regs);

// Walks 4-level page tables in guest-physical memory [mem, mem + size):
// true when the access a #PF error code describes (W, U, I/D) is allowed at
// va now, i.e. the fault came from a translation cached before the tables
// were widened. Reserved-bit faults and addresses outside the user half are
// never stale.
bool page_fault_is_stale(const uint8_t* mem, uint64_t size, uint64_t cr3, uint64_t va,
                         uint64_t error_code);

}  // namespace elfuse::hw
