// The memory manager's memory locks (mm/mlock.c).
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

// ---------------------------------------------------------------- mlock

void MemoryManager::host_lock(const Vma& v) {
  if (v.lock == Vma::kUnlocked) return;
  // Linux does not populate memory the guest cannot access; neither may
  // the host (a PROT_NONE reservation of gigabytes would be faulted in).
  const bool on_fault = v.lock == Vma::kLockedOnFault || !(v.prot & kProtRWX);
  ::syscall(SYS_mlock2, host_phys(v.phys), v.len(), on_fault ? MLOCK_ONFAULT : 0);
}

void MemoryManager::host_unlock(const Vma& v) {
  if (v.lock != Vma::kUnlocked) ::munlock(host_phys(v.phys), v.len());
}

uint64_t MemoryManager::locked_bytes_locked() const {
  uint64_t n = 0;
  for (const Vma& v : as_)
    if (v.lock != Vma::kUnlocked) n += v.len();
  return n;
}

uint64_t MemoryManager::locked_bytes() const {
  std::lock_guard lock(mu_);
  return locked_bytes_locked();
}

bool MemoryManager::lock_future_ok(Vma::Lock lock, uint64_t len) const {
  if (lock == Vma::kUnlocked || capable_ipc_lock()) return true;
  const uint64_t limit = memlock_limit_bytes() / kPageSize;
  return (locked_bytes_locked() + len) / kPageSize <= limit;
}

// mm/mlock.c apply_vma_lock_flags: VMA by VMA from start; a hole ends the
// walk with ENOMEM, the VMAs before it keep their new state.
Result<void> MemoryManager::apply_lock(uint64_t start, uint64_t end, Vma::Lock kind) {
  assert_locked();
  if (end < start) return Errno{EINVAL};
  if (end == start) return Ok();
  if (!as_.find(start)) return Errno{ENOMEM};
  uint64_t cur = start;
  while (cur < end) {
    const Vma* v = as_.find(cur);
    if (!v) return Errno{ENOMEM};
    const uint64_t piece_end = std::min(v->end, end);
    // mlock_fixup leaves VM_SPECIAL mappings (the vDSO's) unlocked.
    if (v->special) {
      cur = piece_end;
      continue;
    }
    for (const Vma& old : as_.set_lock(cur, piece_end, kind)) {
      if (old.lock == kind) continue;
      Vma now = old;
      now.lock = kind;
      host_unlock(old);
      host_lock(now);
    }
    cur = piece_end;
  }
  return Ok();
}

// mm/mlock.c do_mlock.
Result<void> MemoryManager::mlock(uint64_t start, uint64_t len, Vma::Lock kind) {
  std::lock_guard lock(mu_);
  if (memlock_limit_bytes() == 0 && !capable_ipc_lock()) return Errno{EPERM};
  // len = PAGE_ALIGN(len + offset_in_page(start)), wrapping as the kernel's.
  len = (len + (start & kPageMask) + kPageMask) & ~kPageMask;
  start &= ~kPageMask;
  const bool capable = capable_ipc_lock();
  const uint64_t limit = memlock_limit_bytes() / kPageSize;
  uint64_t locked = len / kPageSize + locked_bytes_locked() / kPageSize;
  if (locked > limit && !capable) {
    // Pages already locked in the range are not counted twice
    // (count_mm_mlocked_page_nr).
    uint64_t already = 0;
    for (const Vma& p : as_.pieces(start, start + len < start ? ~0ull : start + len))
      if (p.lock != Vma::kUnlocked) already += p.len();
    locked -= std::min(locked, already / kPageSize);
  }
  if (locked > limit && !capable) return Errno{ENOMEM};
  TRY(apply_lock(start, start + len, kind));
  // __mm_populate (the host mlock2 did the populating): a VMA the guest
  // cannot access fails get_user_pages with EFAULT, which mlock reports
  // as ENOMEM (__mlock_posix_error_return); MLOCK_ONFAULT populates nothing.
  if (kind == Vma::kLocked)
    for (const Vma& p : as_.pieces(start, start + len))
      if (!p.special && !(p.prot & kProtRWX)) return Errno{ENOMEM};
  return Ok();
}

Result<void> MemoryManager::munlock(uint64_t start, uint64_t len) {
  std::lock_guard lock(mu_);
  len = (len + (start & kPageMask) + kPageMask) & ~kPageMask;
  start &= ~kPageMask;
  return apply_lock(start, start + len, Vma::kUnlocked);
}

// mm/mlock.c mlockall and apply_mlockall_flags.
Result<void> MemoryManager::mlockall(int flags) {
  std::lock_guard lock(mu_);
  if (!flags || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || flags == MCL_ONFAULT)
    return Errno{EINVAL};
  if (memlock_limit_bytes() == 0 && !capable_ipc_lock()) return Errno{EPERM};
  if (flags & MCL_CURRENT) {
    uint64_t total = 0;
    for (const Vma& v : as_) total += v.len();
    if (total / kPageSize > memlock_limit_bytes() / kPageSize && !capable_ipc_lock())
      return Errno{ENOMEM};
  }
  const Vma::Lock kind = (flags & MCL_ONFAULT) ? Vma::kLockedOnFault : Vma::kLocked;
  def_lock_ = (flags & MCL_FUTURE) ? kind : Vma::kUnlocked;
  if (!(flags & MCL_CURRENT)) return Ok();
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Vma& v : as_) ranges.emplace_back(v.start, v.end);
  for (auto [s, e] : ranges) (void)apply_lock(s, e, kind);
  return Ok();
}

Result<void> MemoryManager::munlockall() {
  std::lock_guard lock(mu_);
  def_lock_ = Vma::kUnlocked;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Vma& v : as_) ranges.emplace_back(v.start, v.end);
  for (auto [s, e] : ranges) (void)apply_lock(s, e, Vma::kUnlocked);
  return Ok();
}

void MemoryManager::drop_locks_in_child() {
  std::lock_guard lock(mu_);
  def_lock_ = Vma::kUnlocked;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Vma& v : as_)
    if (v.lock != Vma::kUnlocked) ranges.emplace_back(v.start, v.end);
  for (auto [s, e] : ranges) as_.set_lock(s, e, Vma::kUnlocked, /*merge=*/false);
}

uint64_t MemoryManager::memlock_limit_bytes() const {
  return limits_ ? limits_->cur(RLIMIT_MEMLOCK) : host_memlock_limit();
}

}  // namespace elfuse
