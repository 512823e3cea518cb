// Private to the memory manager's files (src/mm/memory_manager.cc and
// src/mm/mm_*.cc): constants and small helpers they share.
#pragma once

#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "mm/address_space.h"

// include/uapi/linux/mman.h, for hosts whose libc headers lack them.
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

namespace elfuse::mm_internal {

// include/uapi/linux/mman.h
constexpr int kMapTypeMask = 0x0f;
constexpr int kMapSharedValidate = 0x03;
constexpr int kMapDroppable = 0x08;
constexpr int kMap32Bit = 0x40;
constexpr int kProtSem = 0x8;  // include/uapi/asm-generic/mman-common.h
// The MAP_* bits a VMA keeps (VM_SHARED / VM_GROWSDOWN / VM_NORESERVE).
constexpr int kKeptFlags = MAP_PRIVATE | MAP_SHARED | MAP_GROWSDOWN | MAP_NORESERVE;
// mm/mmap.c stack_guard_gap default: 256 pages below a MAP_GROWSDOWN VMA.
constexpr uint64_t kStackGuardGap = 256 * kPageSize;
// MAP_32BIT window, arch/x86/kernel/sys_x86_64.c find_start_end.
constexpr uint64_t k32BitBegin = 0x40000000, k32BitEnd = 0x80000000;

// x86 has no write-only or exec-only pages: a present PTE is readable, and
// the kernel's copy_from_user reads PROT_WRITE-only or PROT_EXEC-only memory
// (without protection keys). Writing needs PROT_WRITE.
inline bool prot_allows(int vma_prot, int want) {
  if ((want & PROT_WRITE) && !(vma_prot & PROT_WRITE)) return false;
  if ((want & PROT_READ) && !(vma_prot & kProtRWX)) return false;
  return true;
}

// Bits the leaf loses when going from old to new: those need a shadow
// invalidation (docs/pvm/README.md 7.5).
inline bool narrows(int old_prot, int new_prot) {
  return (old_prot & ~new_prot & kProtRWX) != 0;
}

// The host protection of an overlay for a guest protection: what the guest
// can read (x86: any access implies read) and write, nothing more. KVM only
// needs read to execute; the host never executes guest code.
inline int host_prot(int guest_prot) {
  if (!(guest_prot & kProtRWX)) return PROT_NONE;
  return PROT_READ | (guest_prot & PROT_WRITE);
}

// The host protection of a VMA's overlay. A System V segment's also carries
// PROT_EXEC: every host VMA of a segment counts in shm_nattch, so the host
// VMAs must split wherever the guest's do (an mprotect that only adds or
// drops PROT_EXEC splits the guest VMA too). The host never executes it.
inline int overlay_prot(const Vma& v, int guest_prot) {
  int hp = host_prot(guest_prot);
  if (v.backing == Vma::kShm && hp != PROT_NONE) hp |= guest_prot & PROT_EXEC;
  return hp;
}

// mm/mlock.c can_do_mlock and capable(CAP_IPC_LOCK), from the host thread's
// own credentials (the guest's are the host's: capget/capset pass through).
inline bool capable_ipc_lock() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32));
}
inline uint64_t host_memlock_limit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_MEMLOCK, &rl) != 0) return 0;
  return rl.rlim_cur;
}

// Drops host pages; for the private anonymous reservation they read as
// zero afterwards.
inline void host_discard(void* p, uint64_t len) {
  ::madvise(p, len, MADV_DONTNEED);
}

inline bool all_zero(const uint8_t* p, uint64_t len) {
  static const uint8_t kZero[kPageSize] = {};
  return std::memcmp(p, kZero, len) == 0;
}

}  // namespace elfuse::mm_internal
