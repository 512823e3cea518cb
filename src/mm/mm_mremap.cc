// The memory manager's mremap (mm/mremap.c).
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

// ---------------------------------------------------------------- mremap

Result<void> MemoryManager::grow_vma(Vma v, uint64_t new_end, PhysAllocator::Placement where) {
  const uint64_t delta = new_end - v.end;
  // An overlay cannot grow in place: the memory after its run is the
  // anonymous reservation. It moves to a new run (below).
  if (!v.overlay() && phys_.try_grow(v.phys, v.len(), v.len() + delta)) {
    Vma ext = v.clipped(v.start, v.end);
    ext.start = v.end;
    ext.end = new_end;
    ext.phys = v.phys + v.len();
    ext.file_offset = v.file_offset + v.len();
    if (!as_.insert(ext).ok()) fatal("mm: growing over a mapped range");
    write_ptes(ext.start, ext.phys, delta, ext.prot);
    host_lock(ext);
    return Ok();
  }
  // The run cannot grow: move the whole VMA to a new run at the same
  // virtual address, so it stays one VMA as on Linux.
  const uint64_t new_len = new_end - v.start;
  auto pa = phys_.alloc_run(new_len, v.start, where);
  if (!pa) return Errno{ENOMEM};
  Vma nv = v;
  host_unlock(v);  // the host moves or discards only unlocked memory
  if (v.overlay()) {
    clear_ptes(v.start, v.len());
    if (auto r = move_overlay(v, *pa, new_len); !r.ok()) {
      write_ptes(v.start, v.phys, v.len(), v.prot);
      phys_.free_run(*pa, new_len);
      host_lock(v);
      return r;
    }
  } else {
    move_contents(*pa, v.phys, v.len());
  }
  as_.remove(v.start, v.end);
  nv.end = new_end;
  nv.phys = *pa;
  if (!as_.insert(nv).ok()) fatal("mm: regrowing over a mapped range");
  write_ptes(nv.start, nv.phys, new_len, nv.prot);
  release_run(v.phys, v.len());  // anonymous again (move_overlay)
  host_lock(nv);
  return Ok();
}

// mm/mremap.c move_vma: [addr, addr+old_len) inside v moves to dest with
// new_len (>= old_len). The physical run is kept when it can (the affine
// va -> pa map just moves); otherwise the pages move to a new run.
Result<uint64_t> MemoryManager::move_vma(const Vma& v, uint64_t addr, uint64_t old_len,
                                         uint64_t new_len, uint64_t dest, bool keep_old) {
  assert_locked();
  const Vma src = v.clipped(addr, addr + old_len);
  uint64_t pa = src.phys;
  bool same_run = true;
  host_unlock(src);  // the host moves or discards only unlocked memory
  if (new_len > old_len) {
    // An overlay grows only by moving (grow_vma): the host extends the file
    // mapping at its new run.
    bool at_run_end = src.end == v.end && !src.overlay();
    if (!at_run_end || !phys_.try_grow(src.phys, old_len, new_len)) {
      auto r = phys_.alloc_run(new_len, dest);
      if (!r) {
        host_lock(src);
        return Errno{ENOMEM};
      }
      pa = *r;
      same_run = false;
      if (src.overlay()) {
        clear_ptes(src.start, old_len);
        if (auto m = move_overlay(src, pa, new_len); !m.ok()) {
          write_ptes(src.start, src.phys, old_len, src.prot);
          phys_.free_run(pa, new_len);
          host_lock(src);
          return Errno{m.error()};
        }
      } else {
        move_contents(pa, src.phys, old_len);
      }
    }
  }
  as_.remove(src.start, src.end);
  clear_ptes(src.start, old_len);
  Vma nv = src;
  nv.start = dest;
  nv.end = dest + new_len;
  nv.phys = pa;
  if (!as_.insert(nv).ok()) fatal("mm: moving over a mapped range");
  write_ptes(nv.start, pa, new_len, nv.prot);
  if (same_run) {
    invalidate_live(src);  // the frames stay, their old translations go
  } else {
    release_run(src.phys, old_len);
  }
  host_lock(nv);
  if (keep_old) {
    // MREMAP_DONTUNMAP: the old range stays mapped, empty (private anon).
    NewMapping m;
    m.addr = src.start;
    m.len = old_len;
    m.prot = src.prot;
    m.max_prot = src.max_prot;
    m.flags = src.flags;
    m.backing = src.backing;
    m.name = src.name;
    TRY(install(m, /*replace=*/false));
  }
  return dest;
}

// mm/mremap.c move_vma with old_len 0 (only a shared mapping gets there):
// copy_vma makes a VMA over the same pages at addr's file offset, and
// nothing is unmapped. The host does the same to the run's overlay.
Result<uint64_t> MemoryManager::dup_shared(const Vma& v, uint64_t addr, uint64_t new_len,
                                           uint64_t dest) {
  // A System V attach is counted per shmat (shm_attach): not provided.
  if (v.backing != Vma::kFile && v.backing != Vma::kSharedAnon) return Errno{EINVAL};
  auto pa = phys_.alloc_run(new_len, dest, PhysAllocator::Placement::kHigh);
  if (!pa) return Errno{ENOMEM};
  void* r = ::mremap(host_phys(v.phys_of(addr)), 0, new_len, MREMAP_MAYMOVE | MREMAP_FIXED,
                     host_phys(*pa));
  if (r == MAP_FAILED) {
    int e = errno;
    restore_anon(*pa, new_len);  // a failed MREMAP_FIXED may have unmapped the run
    release_run(*pa, new_len);
    return Errno{e == EINVAL ? EINVAL : ENOMEM};
  }
  Vma nv = v;
  nv.start = dest;
  nv.end = dest + new_len;
  nv.phys = *pa;
  nv.file_offset = v.file_offset + (addr - v.start);
  if (!as_.insert(nv).ok()) fatal("mm: duplicating over a mapped range");
  write_ptes(nv.start, nv.phys, new_len, nv.prot);
  host_lock(nv);
  return dest;
}

// mm/mremap.c mremap_to.
Result<uint64_t> MemoryManager::mremap_to(uint64_t addr, uint64_t old_len, uint64_t new_len,
                                          int flags, uint64_t new_addr) {
  if (flags & MREMAP_FIXED) TRY(munmap_locked(new_addr, new_len));
  if (old_len > new_len) {
    TRY(munmap_locked(addr + new_len, old_len - new_len));
    old_len = new_len;
  }
  const Vma* v = as_.find(addr);
  if (!v) return Errno{EFAULT};
  // remap_is_valid
  // vma_to_resize: old_len 0 duplicates a shared mapping only (EINVAL for
  // a private one, Linux 4.14+).
  if (old_len == 0 && !(v->flags & MAP_SHARED)) return Errno{EINVAL};
  const bool dontunmap = flags & MREMAP_DONTUNMAP;
  if (dontunmap && v->special) return Errno{EINVAL};  // VM_DONTEXPAND
  if (old_len > v->end - addr) return Errno{EFAULT};
  if (new_len > old_len && v->special) return Errno{EFAULT};  // VM_DONTEXPAND
  // vma_to_resize: growing locked memory must fit RLIMIT_MEMLOCK.
  if (new_len > old_len && !lock_future_ok(v->lock, new_len - old_len)) return Errno{EAGAIN};
  if (new_len > old_len && !may_expand(v->prot, v->flags, (new_len - old_len) / kPageSize))
    return Errno{ENOMEM};
  if (dontunmap && !may_expand(v->prot, v->flags, old_len / kPageSize)) return Errno{ENOMEM};
  if (dontunmap && !(v->backing == Vma::kAnon && (v->flags & MAP_PRIVATE)))
    return Errno{EINVAL};  // only private anonymous (Linux before 5.13)
  // prep_move_vma: the moved range must be the whole special mapping.
  if (special_split(addr, addr + old_len)) return Errno{EINVAL};
  uint64_t dest = new_addr;
  if (!(flags & MREMAP_FIXED)) {
    int mflags = (v->flags & MAP_SHARED) ? MAP_SHARED : 0;
    dest = TRY(unmapped_area(new_addr, new_len, mflags, v->phys_of(addr)));
  } else {
    dest = TRY(unmapped_area(new_addr, new_len, MAP_FIXED));
  }
  Vma copy = *v;
  if (old_len == 0) return dup_shared(copy, addr, new_len, dest);
  return move_vma(copy, addr, old_len, new_len, dest, dontunmap);
}

// mm/mremap.c SYSCALL_DEFINE5(mremap) and check_mremap_params.
Result<uint64_t> MemoryManager::mremap(uint64_t addr, uint64_t old_len_in, uint64_t new_len_in,
                                       int flags, uint64_t new_addr) {
  std::lock_guard lock(mu_);
  const uint64_t task = layout_.task_size;
  if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return Errno{EINVAL};
  if (!page_aligned(addr)) return Errno{EINVAL};
  // PAGE_ALIGN wraps to 0 on overflow, which the zero checks then catch.
  const uint64_t old_len = page_round_up(old_len_in).value_or(0);
  const uint64_t new_len = page_round_up(new_len_in).value_or(0);
  if (new_len == 0) return Errno{EINVAL};
  if (new_len > task) return Errno{EINVAL};
  const bool implies_new_addr = flags & (MREMAP_FIXED | MREMAP_DONTUNMAP);
  if (implies_new_addr) {
    if (new_addr > task - new_len) return Errno{EINVAL};
    if (!page_aligned(new_addr)) return Errno{EINVAL};
    if (!(flags & MREMAP_MAYMOVE)) return Errno{EINVAL};
    if ((flags & MREMAP_DONTUNMAP) && old_len != new_len) return Errno{EINVAL};
    // The ranges must not overlap.
    auto old_end = checked_add(addr, old_len);
    if (!old_end || (*old_end > new_addr && new_addr + new_len > addr)) return Errno{EINVAL};
  }
  // do_mremap, check_prep_vma: whatever the call does (shrinking too), a
  // VMA must start at or contain addr (EFAULT), and it must not be sealed
  // (EPERM).
  if (const Vma* v = as_.find(addr); !v) {
    return Errno{EFAULT};
  } else if (v->sealed) {
    return Errno{EPERM};
  }
  if (implies_new_addr) return mremap_to(addr, old_len, new_len, flags, new_addr);
  // Shrinking (or same size) always succeeds: it just unmaps the tail.
  if (old_len >= new_len) {
    if (old_len != new_len) TRY(munmap_locked(addr + new_len, old_len - new_len));
    return addr;
  }
  const Vma* v = as_.find(addr);
  if (!v) return Errno{EFAULT};
  // vma_to_resize: old_len 0 "duplicates" a mapping, refused for a private
  // one (EINVAL, Linux 4.14+).
  if (old_len == 0 && !(v->flags & MAP_SHARED)) return Errno{EINVAL};
  if (old_len > v->end - addr) return Errno{EFAULT};
  if (v->special) return Errno{EFAULT};  // remap_is_valid: VM_DONTEXPAND
  // vma_to_resize: growing locked memory must fit RLIMIT_MEMLOCK.
  if (new_len > old_len && !lock_future_ok(v->lock, new_len - old_len)) return Errno{EAGAIN};
  if (!may_expand(v->prot, v->flags, (new_len - old_len) / kPageSize)) return Errno{ENOMEM};
  const Vma copy = *v;
  // A shared one cannot grow in place from nothing (ENOMEM without
  // MREMAP_MAYMOVE); with it the same pages are mapped a second time.
  if (old_len == 0) {
    if (!(flags & MREMAP_MAYMOVE)) return Errno{ENOMEM};
    uint64_t dest = TRY(unmapped_area(0, new_len, MAP_SHARED));
    return dup_shared(copy, addr, new_len, dest);
  }
  // Expand in place when the range ends the VMA and the space after it is
  // free (vma_expandable).
  if (old_len == copy.end - addr) {
    const uint64_t delta = new_len - old_len;
    if (copy.end <= task && delta <= task - copy.end &&
        as_.range_free(copy.end, copy.end + delta)) {
      TRY(grow_vma(copy, copy.end + delta, PhysAllocator::Placement::kHigh));
      return addr;
    }
  }
  if (!(flags & MREMAP_MAYMOVE)) return Errno{ENOMEM};
  int mflags = (copy.flags & MAP_SHARED) ? MAP_SHARED : 0;
  uint64_t dest = TRY(unmapped_area(0, new_len, mflags, copy.phys_of(addr)));
  return move_vma(copy, addr, old_len, new_len, dest, false);
}

}  // namespace elfuse
