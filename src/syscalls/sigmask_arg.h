// A signal mask passed to a waiting call (ppoll, pselect6, epoll_pwait,
// epoll_pwait2), as the kernel's set_user_sigmask() reads it.
#pragma once

#include <signal.h>

#include <cstdint>

#include "mm/memory_manager.h"

namespace elfuse {

// The kernel's sigset_t (include/uapi/asm-generic/signal.h): 64 bits.
inline constexpr uint64_t kKernelSigsetSize = 8;

constexpr uint64_t sigmask_bit(int sig) {
  return 1ull << (sig - 1);
}

// Signals elfuse keeps unblocked on its host threads whatever the guest asks
// (src/syscalls/sys_signal.cc, rt_sigprocmask): its own faults and SIGURG,
// the vCPU kick. A guest mask handed to a host wait goes without them.
inline constexpr uint64_t kHostKeepsUnblocked = sigmask_bit(SIGSEGV) | sigmask_bit(SIGBUS) |
                                                sigmask_bit(SIGILL) | sigmask_bit(SIGFPE) |
                                                sigmask_bit(SIGTRAP) | sigmask_bit(SIGURG);

// set_user_sigmask(): NULL is no change (*given stays false); otherwise the
// size must be the kernel's sigset_t (EINVAL) and the mask readable (EFAULT).
// *out is the mask for the host.
inline Result<void> read_user_sigmask(const MemoryManager& mm, uint64_t guest, uint64_t size,
                                      uint64_t* out, bool* given) {
  *given = false;
  if (guest == 0) return Ok();
  if (size != kKernelSigsetSize) return Errno{EINVAL};
  uint64_t mask = 0;
  TRY(mm.copy_in(&mask, guest, sizeof mask));
  *out = mask & ~kHostKeepsUnblocked;
  *given = true;
  return Ok();
}

}  // namespace elfuse
