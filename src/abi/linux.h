// The Linux x86_64 ABI constants and structures elfuse defines itself: the
// ones the host's headers do not give as the guest's kernel sees them, or
// not at all. One definition each; every file that needs one includes this.
// Sizes and values are Linux's (the file a constant comes from is named
// next to it).
#pragma once

#include <signal.h>

#include <cstdint>

namespace elfuse {

// ------------------------------------------------------------ memory

// arch/x86/include/asm/page_types.h PAGE_SIZE.
inline constexpr uint64_t kPageSize = 4096;
// arch/x86/include/asm/page_64_types.h TASK_SIZE_MAX with 4-level paging:
// (1 << 47) - PAGE_SIZE. The end of the user address range, and the limit
// access_ok() puts on a user range.
inline constexpr uint64_t kTaskSizeMax = (1ull << 47) - kPageSize;
static_assert(kTaskSizeMax == 0x7ffffffff000);

// ------------------------------------------------------------ files and I/O

// include/uapi/linux/limits.h PATH_MAX, counting the NUL.
inline constexpr uint64_t kPathMax = 4096;
// include/linux/fs.h MAX_RW_COUNT (INT_MAX & PAGE_MASK): read/write/readv...
// silently clamp their byte count to this.
inline constexpr uint64_t kMaxRwCount = 0x7ffff000;
// include/uapi/linux/uio.h UIO_MAXIOV.
inline constexpr uint64_t kIovMax = 1024;

// ------------------------------------------------------------ processes

// include/uapi/linux/binfmts.h MAX_ARG_STRLEN: one argv or envp string,
// NUL included.
inline constexpr uint64_t kMaxArgStrlen = 32 * kPageSize;
// include/uapi/linux/pidfd.h PIDFD_THREAD (Linux 6.9; glibc 2.36's headers
// do not name it).
inline constexpr unsigned kPidfdThread = 00000200;  // O_EXCL

// ------------------------------------------------------------ signals

// include/uapi/linux/signal.h SS_AUTODISARM (sigaltstack), for C libraries
// whose <signal.h> does not name it.
#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

// include/uapi/asm-generic/signal.h stack_t on x86_64, as the guest lays it
// out (sigaltstack's argument, the uc_stack of a signal frame).
struct GuestStack {
  uint64_t sp;
  int32_t flags;
  int32_t pad;
  uint64_t size;
};
static_assert(sizeof(GuestStack) == 24);

}  // namespace elfuse
