// The guest's resource limits (getrlimit/setrlimit/prlimit64). The guest's
// limits are elfuse's own bookkeeping, never the elfuse process's host
// limits, for every resource whose host value would limit elfuse itself
// (its memory, its descriptors, its threads' stacks): the memory manager
// enforces RLIMIT_AS, RLIMIT_DATA and RLIMIT_MEMLOCK against the guest's
// VMAs, fd allocation enforces RLIMIT_NOFILE (FdRules), exec uses
// RLIMIT_STACK. The pure helpers below are the kernel's rules
// (mm/mmap.c may_expand_vm, include/linux/mm.h check_data_rlimit), kept
// apart so that the unit tests can check them (docs/internals.md,
// "Resource limits").
#pragma once

#include <sys/mman.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <cstdint>

namespace elfuse {

inline constexpr int kRlimits = RLIM_NLIMITS;  // 16 on x86_64
inline constexpr uint64_t kRlimInfinity = ~0ull;

// Limits kept by elfuse for the guest (the host's stay what elfuse started
// with); the others are the host's own (passed through: the host kernel
// enforces them on the work elfuse forwards, and none of them is about
// elfuse's memory or descriptors).
constexpr bool rlimit_is_virtual(int resource) {
  return resource == RLIMIT_DATA || resource == RLIMIT_AS || resource == RLIMIT_STACK ||
         resource == RLIMIT_NOFILE || resource == RLIMIT_MEMLOCK || resource == RLIMIT_RSS ||
         resource == RLIMIT_LOCKS;
}

// One process's virtual limits. Read without a lock by the memory manager
// (one relaxed load each, no host call); prlimit updates a pair under the
// caller's lock (kernel/sys.c do_prlimit holds task_lock).
class GuestRlimits {
 public:
  GuestRlimits() {
    for (auto& v : cur_) v.store(kRlimInfinity, std::memory_order_relaxed);
    for (auto& v : max_) v.store(kRlimInfinity, std::memory_order_relaxed);
  }
  GuestRlimits(const GuestRlimits&) = delete;
  GuestRlimits& operator=(const GuestRlimits&) = delete;
  void assign(const GuestRlimits& o) {
    for (int r = 0; r < kRlimits; r++) set(r, o.cur(r), o.max(r));
  }
  uint64_t cur(int r) const { return cur_[r].load(std::memory_order_relaxed); }
  uint64_t max(int r) const { return max_[r].load(std::memory_order_relaxed); }
  void set(int r, uint64_t cur, uint64_t max) {
    cur_[r].store(cur, std::memory_order_relaxed);
    max_[r].store(max, std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<uint64_t>, kRlimits> cur_, max_;
};

// mm/internal.h is_data_mapping: private, writable, not a stack.
constexpr bool is_data_mapping(int prot, int flags) {
  return (prot & PROT_WRITE) && !(flags & MAP_SHARED) && !(flags & MAP_GROWSDOWN);
}

// mm/mmap.c may_expand_vm: may npages more pages with (prot, flags) be
// mapped, given the process's total_vm and data_vm (pages)? RLIMIT_AS
// bounds every mapping, RLIMIT_DATA the data mappings (a soft limit of 0
// with a larger hard limit lets data grow to the hard one: the kernel's
// workaround for valgrind).
constexpr bool may_expand_vm(uint64_t total_vm, uint64_t data_vm, int prot, int flags,
                             uint64_t npages, uint64_t as_cur, uint64_t data_cur,
                             uint64_t data_max) {
  constexpr int kShift = 12;
  if (total_vm + npages > (as_cur >> kShift)) return false;
  if (is_data_mapping(prot, flags) && data_vm + npages > (data_cur >> kShift)) {
    if (data_cur == 0 && data_vm + npages <= (data_max >> kShift)) return true;
    return false;
  }
  return true;
}

// include/linux/mm.h check_data_rlimit (sys_brk): the heap from its start
// to the new break plus the initialised data must fit RLIMIT_DATA.
constexpr bool brk_fits_data_rlimit(uint64_t data_cur, uint64_t new_brk, uint64_t start_brk,
                                    uint64_t end_data, uint64_t start_data) {
  if (data_cur == kRlimInfinity) return true;
  return (new_brk - start_brk) + (end_data - start_data) <= data_cur;
}

// How much guest-physical memory elfuse may reserve in one host mapping,
// given its host RLIMIT_AS and RLIMIT_DATA soft limits (bytes, infinity
// allowed) and what the process already uses (VmSize, VmData in bytes).
// `want` is the most it ever reserves; `room` what elfuse keeps for itself
// (its threads' stacks, malloc arenas, KVM's mappings, file overlays'
// transients). The reservation is private and writable, so it counts for
// both limits. Rounded down to 256 MiB; 0 when less than `min` is left.
constexpr uint64_t reservation_budget(uint64_t want, uint64_t min, uint64_t room, uint64_t as_cur,
                                      uint64_t data_cur, uint64_t vm_size, uint64_t vm_data) {
  uint64_t budget = want;
  auto bound = [&](uint64_t limit, uint64_t used) {
    if (limit == kRlimInfinity) return;
    uint64_t left = limit > used + room ? limit - used - room : 0;
    if (left < budget) budget = left;
  };
  bound(as_cur, vm_size);
  bound(data_cur, vm_data);
  budget &= ~((256ull << 20) - 1);
  return budget >= min ? budget : 0;
}

}  // namespace elfuse
