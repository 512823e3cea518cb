// The memory manager's madvise (mm/madvise.c), msync (mm/msync.c),
// remap_file_pages (mm/mmap.c) and the fork-time effects of MADV_DONTFORK
// and MADV_WIPEONFORK in a child (kernel/fork.c dup_mmap).
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

// ---------------------------------------------------------------- madvise

// Per-VMA part of madvise_vma_behavior (mm/madvise.c).
Result<void> MemoryManager::madvise_vma(const Vma& piece, int advice) {
  assert_locked();
  // can_madvise_modify: on a sealed VMA, the advice that discards data is
  // refused for private anonymous memory the caller cannot write (file and
  // shared memory keep their data; special mappings are not anonymous).
  if (piece.sealed && piece.backing == Vma::kAnon && !piece.special && !(piece.prot & PROT_WRITE)) {
    switch (advice) {
      case MADV_FREE:
      case MADV_DONTNEED:
      case MADV_DONTNEED_LOCKED:
      case MADV_REMOVE:
      case MADV_DONTFORK:
      case MADV_WIPEONFORK:
        return Errno{EPERM};
      default:
        break;
    }
  }
  if (advice == MADV_WIPEONFORK || advice == MADV_KEEPONFORK || advice == MADV_DONTFORK ||
      advice == MADV_DOFORK)
    return fork_advice(piece, advice);
  if (piece.special) {
    // Special mappings are VM_DONTEXPAND, [vvar]'s also VM_PFNMAP|VM_IO
    // and without a page the kernel could drop or fault in for madvise.
    const bool pfnmap = piece.backing == Vma::kHost;
    switch (advice) {
      case MADV_DODUMP:  // VM_SPECIAL
      case MADV_REMOVE:  // no vm_file
        return Errno{EINVAL};
      case MADV_DONTNEED:
      case MADV_DONTNEED_LOCKED:
      case MADV_FREE:
      case MADV_COLD:
      case MADV_PAGEOUT:
        if (pfnmap) return Errno{EINVAL};
        break;
      case MADV_POPULATE_READ:
      case MADV_POPULATE_WRITE:
        if (pfnmap) return Errno{EFAULT};  // GUP refuses VM_IO|VM_PFNMAP
        break;
      default:
        break;
    }
  }
  switch (advice) {
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED:
      // madvise_dontneed_free_valid_vma: only MADV_DONTNEED_LOCKED may drop
      // locked pages.
      if (piece.lock && advice == MADV_DONTNEED) return Errno{EINVAL};
      // zap_page_range_single on the host does exactly the guest's: private
      // anonymous pages read as zero afterwards, private file pages read
      // the file again (their copies are dropped), shared file and shmem
      // pages keep their data in the page cache. It also drops KVM's
      // shadow entries of those frames.
      if (piece.lock)
        ::madvise(host_phys(piece.phys), piece.len(), MADV_DONTNEED_LOCKED);
      else
        host_discard(host_phys(piece.phys), piece.len());
      return Ok();
    case MADV_FREE:
      if (piece.backing != Vma::kAnon || piece.lock) return Errno{EINVAL};  // vma_is_anonymous
      // Freeing at once is one of the behaviours MADV_FREE allows.
      host_discard(host_phys(piece.phys), piece.len());
      return Ok();
    case MADV_REMOVE:
      // madvise_remove: a file, mapped shared and may-write
      // (vma_is_shared_maywrite), then a hole punched in the file.
      if (piece.lock || piece.backing == Vma::kAnon) return Errno{EINVAL};
      if (!(piece.flags & MAP_SHARED) || !(piece.max_prot & PROT_WRITE)) return Errno{EACCES};
      if (::madvise(host_phys(piece.phys), piece.len(), MADV_REMOVE) != 0) return Errno{errno};
      return Ok();
    default:
      return Ok();
  }
}

// The fork advice of madvise_vma_behavior: VM_WIPEONFORK only on a VMA
// without a file that is not shared (a special mapping has no file),
// VM_DONTCOPY on any, cleared again except on a VM_IO one ([vvar]).
// madvise_update_vma changes nothing when the flag is already as asked;
// otherwise it splits at the range's edges, which a special mapping
// refuses (EINVAL), and merges where it can.
Result<void> MemoryManager::fork_advice(const Vma& piece, int advice) {
  const bool wipe = advice == MADV_WIPEONFORK || advice == MADV_KEEPONFORK;
  bool Vma::*flag = wipe ? &Vma::wipe_on_fork : &Vma::dont_fork;
  const bool value = advice == MADV_WIPEONFORK || advice == MADV_DONTFORK;
  if (advice == MADV_WIPEONFORK && !piece.special && piece.backing != Vma::kAnon)
    return Errno{EINVAL};
  if (advice == MADV_DOFORK && piece.backing == Vma::kHost) return Errno{EINVAL};
  if (piece.*flag == value) return Ok();
  if (piece.special) {
    const Vma* whole = as_.find(piece.start);
    if (!whole || whole->start != piece.start || whole->end != piece.end) return Errno{EINVAL};
  }
  as_.set_flag(piece.start, piece.end, flag, value);
  return Ok();
}

// mm/madvise.c do_madvise / madvise_walk_vmas.
// ------------------------------------------------------- remap_file_pages

// mm/mmap.c remap_file_pages: prot must be 0; start and size are truncated
// to pages; an empty or wrapping range, or a wrapping pgoff, is EINVAL; the
// range must start in a shared file mapping and continue through VMAs of
// the same file and flags without a hole (EINVAL). Linux then maps the file
// again at [start, start+size) from pgoff (MAP_SHARED | MAP_FIXED |
// MAP_POPULATE, the VMA's prot, MAP_LOCKED if locked). The host does exactly
// that to each piece's overlay (its own remap_file_pages on the host
// mapping, which is shared and has the guest's prot), and the VMAs record
// the new offsets. Pieces whose runs are not contiguous stay separate VMAs
// where Linux's new mapping is one.
Result<void> MemoryManager::remap_file_pages(uint64_t start, uint64_t size, uint64_t prot,
                                             uint64_t pgoff, uint64_t flags) {
  if (prot) return Errno{EINVAL};
  start &= ~(kPageSize - 1);
  size &= ~(kPageSize - 1);
  if (start + size <= start) return Errno{EINVAL};
  if (pgoff + (size / kPageSize) < pgoff) return Errno{EINVAL};
  std::lock_guard lock(mu_);
  const uint64_t end = start + size;
  const Vma* first = as_.find(start);
  if (!first || !(first->flags & MAP_SHARED) ||
      (first->backing != Vma::kFile && first->backing != Vma::kSharedAnon))
    return Errno{EINVAL};
  for (const Vma* v = first; v->end < end;) {
    const Vma* next = as_.find_next(v->end);
    if (!next || next->start != v->end) return Errno{EINVAL};
    if (next->backing != first->backing || next->file_dev != first->file_dev ||
        next->file_ino != first->file_ino || next->prot != first->prot ||
        next->max_prot != first->max_prot || next->flags != first->flags ||
        next->lock != first->lock)
      return Errno{EINVAL};
    v = next;
  }
  if (pgoff > (UINT64_MAX / kPageSize)) return Errno{EINVAL};
  // Linux's do_mmap(MAP_FIXED) over the range refuses a sealed VMA.
  if (range_sealed(start, end)) return Errno{EPERM};
  const uint64_t offset = pgoff * kPageSize;
  for (const Vma& piece : as_.pieces(start, end)) {
    uint64_t piece_pgoff = (offset + (piece.start - start)) / kPageSize;
    if (::syscall(SYS_remap_file_pages, host_phys(piece.phys), piece.len(), 0, piece_pgoff,
                  flags & MAP_NONBLOCK) != 0)
      return Errno{errno};
  }
  as_.set_file_offset(start, end, offset);
  return Ok();
}

Result<void> MemoryManager::madvise(uint64_t addr, uint64_t len, int advice) {
  std::lock_guard lock(mu_);
  switch (advice) {
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_DONTNEED:
    case MADV_FREE:
    case MADV_REMOVE:
    case MADV_DONTFORK:
    case MADV_DOFORK:
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
    case MADV_WIPEONFORK:
    case MADV_KEEPONFORK:
    case MADV_COLD:
    case MADV_PAGEOUT:
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
    case MADV_DONTNEED_LOCKED:
    case 25 /* MADV_COLLAPSE */:
      break;
    default:
      // MADV_HWPOISON / MADV_SOFT_OFFLINE need CAP_SYS_ADMIN; guard pages
      // (MADV_GUARD_*) are not implemented.
      if (advice == MADV_HWPOISON || advice == 101 /* MADV_SOFT_OFFLINE */) return Errno{EPERM};
      return Errno{EINVAL};
  }
  if (!page_aligned(addr)) return Errno{EINVAL};
  auto rounded = page_round_up(len);
  if (len && (!rounded || *rounded == 0)) return Errno{EINVAL};
  auto end = checked_add(addr, rounded.value_or(0));
  if (!end) return Errno{EINVAL};
  if (*end == addr) return Ok();
  bool hole = false;
  uint64_t cur = addr;
  for (const Vma& piece : as_.pieces(addr, *end)) {
    if (piece.start > cur) hole = true;
    if (advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE) {
      // Populating PROT_NONE or (for WRITE) read-only memory faults.
      int need = advice == MADV_POPULATE_WRITE ? PROT_WRITE : PROT_READ;
      if (hole) return Errno{ENOMEM};
      if (!prot_allows(piece.prot, need)) return Errno{EFAULT};
    }
    TRY(madvise_vma(piece, advice));
    cur = piece.end;
  }
  if (cur < *end) hole = true;
  return hole ? Result<void>(Errno{ENOMEM}) : Ok();
}
// ---------------------------------------------------------------- msync

// mm/msync.c SYSCALL_DEFINE3(msync). Dirty shared pages live in the host
// page cache already (the overlay), so MS_ASYNC has nothing to start and
// MS_INVALIDATE nothing to drop; MS_SYNC is the host's msync on the overlay,
// which is vfs_fsync_range on the same file range. MS_INVALIDATE on locked
// memory is EBUSY.
Result<void> MemoryManager::msync(uint64_t addr, uint64_t len, int flags) {
  std::lock_guard lock(mu_);
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return Errno{EINVAL};
  if (!page_aligned(addr)) return Errno{EINVAL};
  if ((flags & MS_ASYNC) && (flags & MS_SYNC)) return Errno{EINVAL};
  // len = PAGE_ALIGN(len); end < start is ENOMEM (wrapped).
  auto rounded = page_round_up(len);
  if (!rounded) return Errno{ENOMEM};
  auto end = checked_add(addr, *rounded);
  if (!end) return Errno{ENOMEM};
  if (*end == addr) return Ok();
  // Holes are skipped but reported as ENOMEM at the end; with plain
  // MS_ASYNC the first hole ends the walk with ENOMEM.
  bool unmapped = false;
  uint64_t start = addr;
  for (;;) {
    const Vma* v = as_.find_next(start);
    if (!v) return Errno{ENOMEM};
    if (start < v->start) {
      if (flags == MS_ASYNC) return Errno{ENOMEM};
      start = v->start;
      if (start >= *end) return Errno{ENOMEM};
      unmapped = true;
    }
    // Locked memory cannot be invalidated.
    if ((flags & MS_INVALIDATE) && v->lock != Vma::kUnlocked) return Errno{EBUSY};
    const Vma piece = v->clipped(start, *end);
    start = v->end;
    // Only VM_SHARED file mappings are written back: a shared mapping of a
    // file not open for writing has no VM_SHARED (do_mmap).
    if ((flags & MS_SYNC) && piece.overlay() && (piece.flags & MAP_SHARED) &&
        (piece.max_prot & PROT_WRITE)) {
      if (::msync(host_phys(piece.phys), piece.len(), MS_SYNC) != 0) return Errno{errno};
    }
    if (start >= *end) break;
  }
  return unmapped ? Result<void>(Errno{ENOMEM}) : Ok();
}
void MemoryManager::fork_advice_in_child() {
  std::lock_guard lock(mu_);
  std::vector<std::pair<uint64_t, uint64_t>> gone;
  for (const Vma& v : as_) {
    if (v.dont_fork) {
      gone.emplace_back(v.start, v.end);
    } else if (v.wipe_on_fork && v.backing == Vma::kAnon && !v.special) {
      // dup_mmap copies no page of it: the child's host copy of the run
      // is dropped, and the private anonymous reservation reads as zeros.
      host_discard(host_phys(v.phys), v.len());
      if (sync_) sync_->narrowed(v.phys, v.len());
    }
  }
  // Not copied at all: as munmap in the child, before it runs.
  for (auto [s, e] : gone) unmap_range(s, e);
}

}  // namespace elfuse
