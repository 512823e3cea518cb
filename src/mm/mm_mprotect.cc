// The memory manager's mprotect (mm/mprotect.c) and mseal (mm/mseal.c).
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>

#include "base/checked.h"
#include "base/log.h"
#include "base/private_fd.h"
#include "base/safe_copy.h"
#include "base/unique_fd.h"
#include "mm/memory_manager.h"
#include "mm/mm_internal.h"

namespace elfuse {

using namespace mm_internal;

// ---------------------------------------------------------------- mprotect

// mm/mprotect.c do_mprotect_pkey.
Result<void> MemoryManager::mprotect(uint64_t addr, uint64_t len, int prot) {
  std::lock_guard lock(mu_);
  const int grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~grows;
  if (grows == (PROT_GROWSDOWN | PROT_GROWSUP)) return Errno{EINVAL};
  if (!page_aligned(addr)) return Errno{EINVAL};
  if (len == 0) return Ok();
  auto rounded = page_round_up(len);
  if (!rounded) return Errno{ENOMEM};
  auto end = checked_add(addr, *rounded);
  if (!end || *end <= addr) return Errno{ENOMEM};
  // arch_validate_prot (generic): only PROT_READ|WRITE|EXEC|SEM.
  if (prot & ~(kProtRWX | kProtSem)) return Errno{EINVAL};
  prot &= kProtRWX;
  uint64_t start = addr;
  const Vma* first = as_.find_next(start);
  if (!first || first->start >= *end) return Errno{ENOMEM};
  if (grows & PROT_GROWSDOWN) {
    // Extends down to the start of a MAP_GROWSDOWN VMA.
    if (first->start > start) return Errno{ENOMEM};
    if (!(first->flags & MAP_GROWSDOWN)) return Errno{EINVAL};
    start = first->start;
  } else if (grows & PROT_GROWSUP) {
    return Errno{EINVAL};  // no VM_GROWSUP VMAs on x86
  }
  // do_mprotect_pkey walks the VMAs in order: a hole is ENOMEM, a VMA
  // whose VM_MAY* bits refuse prot is EACCES, then mprotect_fixup refuses a
  // sealed VMA (EPERM, even for its own protection). The first of these
  // ends the call; as_.protect reports the first two below.
  for (uint64_t cur = start; const Vma& p : as_.pieces(start, *end)) {
    if (p.start > cur || (prot & ~p.max_prot)) break;
    if (p.sealed) return Errno{EPERM};
    cur = p.end;
  }
  // mprotect_fixup splits a VMA whose flags change at the edges of the
  // range, after the VM_MAY* check of that VMA: a special mapping refuses
  // the split.
  if (const Vma* sp = special_split(start, *end); sp && sp->prot != prot)
    return Errno{(prot & ~sp->max_prot) ? EACCES : EINVAL};
  // mprotect_fixup, VMA by VMA: memory that turns into data must fit
  // RLIMIT_DATA (only that limit: the address space does not grow).
  if (limits_ && (prot & PROT_WRITE) && limits_->cur(RLIMIT_DATA) != kRlimInfinity) {
    uint64_t turned = 0;
    for (const Vma& p : as_.pieces(start, *end)) {
      const uint64_t n = p.len() / kPageSize;
      if (!is_data_mapping(p.prot, p.flags) && is_data_mapping(prot, p.flags)) {
        if (!may_expand(prot, p.flags, turned + n) && may_expand(p.prot, p.flags, turned + n))
          return Errno{ENOMEM};
        turned += n;
      }
    }
  }
  std::vector<Vma> old = TRY(as_.protect(start, *end, prot));
  // Overlays: the host protection must equal the guest's at every moment a
  // vCPU could use it. Widening: the host first, then the guest PTEs (a
  // guest store must never find a read-only host page). Narrowing: the
  // guest PTEs, the shadow invalidation, then the host.
  for (const Vma& v : old) {
    const int hp = overlay_prot(v, prot);
    if (!v.overlay() || (hp & ~overlay_prot(v, v.prot)) == 0) continue;
    if (::mprotect(host_phys(v.phys), v.len(), hp) != 0) {
      // Cannot happen within max_prot (the host mapping was made with the
      // fd that decided max_prot) short of host memory: put the guest's
      // protection back and report it.
      int e = errno;
      for (const Vma& o : old) {
        (void)as_.protect(o.start, o.end, o.prot);
        if (o.overlay()) ::mprotect(host_phys(o.phys), o.len(), overlay_prot(o, o.prot));
      }
      return Errno{e == EACCES ? EACCES : ENOMEM};
    }
  }
  for (const Vma& v : old) write_ptes(v.start, v.phys, v.len(), prot);
  // mprotect_fixup: private locked memory that becomes writable is
  // populated (populate_vma_page_range breaks COW); the host mlock2 of the
  // run with its new protection does that (host_lock).
  for (const Vma& v : old) {
    if (v.lock != Vma::kLocked || (v.prot & PROT_WRITE) || (v.flags & MAP_SHARED) ||
        !(prot & PROT_WRITE))
      continue;
    Vma now = v;
    now.prot = prot;
    host_lock(now);
  }
  for (const Vma& v : old) {
    const int hp = overlay_prot(v, prot), old_hp = overlay_prot(v, v.prot);
    if (!narrows(v.prot, prot)) continue;
    Vma now = v;
    now.prot = prot;
    if (v.overlay() && (old_hp & ~hp & (PROT_READ | PROT_WRITE)) != 0) {
      // The host narrowing is itself an MMU notifier on these frames
      // (mm/mprotect.c change_protection), after the PTE stores.
      ::mprotect(host_phys(v.phys), v.len(), hp);
    } else {
      // Only PROT_EXEC left a segment's host VMA (overlay_prot): follow it,
      // then the notifier proper.
      if (v.overlay() && old_hp != hp) ::mprotect(host_phys(v.phys), v.len(), hp);
      invalidate_live(now);
    }
  }
  return Ok();
}
// ---------------------------------------------------------------- mseal

bool MemoryManager::range_sealed(uint64_t start, uint64_t end) const {
  for (const Vma& p : as_.pieces(start, end))
    if (p.sealed) return true;
  return false;
}

// mm/mseal.c do_mseal: flags 0, start page aligned, len rounded up to pages
// (a length that rounds to 0 or a wrapping end is EINVAL), an empty range
// is 0; the range must be mapped without a hole (ENOMEM, nothing sealed);
// then each VMA piece gets VM_SEALED (split at the edges, merged). Splitting
// a special mapping fails as vma_modify_flags does (EINVAL).
Result<void> MemoryManager::mseal(uint64_t start, uint64_t len, uint64_t flags) {
  if (flags) return Errno{EINVAL};
  if (!page_aligned(start)) return Errno{EINVAL};
  const uint64_t rounded = page_round_up(len).value_or(0);
  if (len && !rounded) return Errno{EINVAL};
  auto end = checked_add(start, rounded);
  if (!end) return Errno{EINVAL};
  if (*end == start) return Ok();
  std::lock_guard lock(mu_);
  if (!as_.range_fully_mapped(start, *end)) return Errno{ENOMEM};
  if (const Vma* sp = special_split(start, *end); sp && !sp->sealed) return Errno{EINVAL};
  as_.set_flag(start, *end, &Vma::sealed, true);
  return Ok();
}

}  // namespace elfuse
