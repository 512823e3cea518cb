// Memory syscalls with Linux's semantics. The order of checks, and so which
// errno wins when several apply, follows the kernel functions named in the
// comments (mm/mmap.c, mm/mremap.c, mm/mprotect.c, mm/madvise.c, mm/vma.c,
// arch/x86/kernel/sys_x86_64.c) as of Linux 6.x.
//
// Physical memory: each VMA maps one contiguous run of guest-physical memory.
// The reservation is private anonymous host memory (docs/design.md "Memory"),
// so MADV_DONTNEED on a released run zeroes it: a run handed out again is
// always zero-filled.
//
// File mappings (and shared anonymous memory) overlay their run with a host
// mmap(MAP_FIXED) of the same file at the same offset (a host memfd for
// shared anonymous memory), so the host page cache holds the only copy:
// MAP_SHARED is coherent with read/write and every other mapping, and
// MAP_PRIVATE is copy-on-write by the host kernel, across host fork too. The
// host protection of an overlay always equals the guest's (host_prot): a
// guest store to a host read-only page is a KVM_RUN EFAULT, not a guest
// fault. When an overlay goes away its run becomes anonymous memory again.
//
// The memory manager is one class in several files, along Linux's mm/:
// this file holds the constructor and the helpers the others share (runs,
// overlays, PTEs, special-mapping windows, limits); mm_mmap.cc (mmap,
// munmap, brk, get_unmapped_area, the loader's mappings), mm_mprotect.cc
// (mprotect, mseal), mm_mremap.cc, mm_madvise.cc (madvise, msync,
// remap_file_pages, fork advice), mm_uaccess.cc (copy_in / copy_out and the
// other checked accesses, SIGBUS pages), mm_shm.cc (shmat, shmdt) and
// mm_mlock.cc. mm_internal.h has their shared constants and helpers.
#include "mm/memory_manager.h"

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
#include "mm/mm_internal.h"

namespace elfuse {

using namespace mm_internal;

MemoryManager::MemoryManager(uint8_t* reservation, uint64_t phys_size, PhysAllocator phys,
                             ShadowSync* sync, Layout layout)
    : reservation_(reservation),
      phys_size_(phys_size),
      phys_(std::move(phys)),
      sync_(sync),
      layout_(layout),
      page_tables_(&table_mem_) {
  // The pool grows to 1 GiB boundaries, up to the whole reservation.
  if (sync_)
    phys_.set_growth(phys_size_, 1ull << 30, [this](uint64_t old_end, uint64_t new_end) {
      return sync_->extend(old_end, new_end);
    });
}

void CheckedMutex::reentered() {
  fatal("a lock taken again by the thread that holds it (src/mm/lock_order.h)");
}

void MemoryManager::assert_locked() const {
  if (!mu_.held_by_me()) fatal("memory manager internals called without its lock");
}

MemoryManager::~MemoryManager() {
  std::lock_guard lock(mu_);
  for (const Vma& v : as_) {
    // execve unlocks (fs/exec.c: the old mm goes); the next image's runs
    // must be discardable again.
    host_unlock(v);
    if (v.overlay()) restore_anon(v.phys, v.len());
  }
}

// ---------------------------------------------------------------- helpers

void MemoryManager::restore_anon(uint64_t pa, uint64_t len) {
  // The reservation's own kind of memory (main.cc): the host merges it back
  // into the neighbouring reservation VMAs. Unmapping the overlay fires the
  // MMU notifier, so KVM drops its shadow entries of those frames.
  void* p = ::mmap(host_phys(pa), len, PROT_READ | PROT_WRITE,
                   MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) fatal("mm: cannot restore guest memory: %s", strerror(errno));
}

void MemoryManager::release_piece(const Vma& piece) {
  if (piece.backing == Vma::kHost) {
    // Not ours to discard or reuse: only the guest's translations go.
    if (sync_) sync_->narrowed(piece.phys, piece.len());
    return;
  }
  host_unlock(piece);
  if (piece.overlay()) restore_anon(piece.phys, piece.len());
  release_run(piece.phys, piece.len());
}

void MemoryManager::invalidate_live(const Vma& piece) {
  if (!piece.overlay()) {
    if (sync_) sync_->narrowed(piece.phys, piece.len());
    return;
  }
  uint8_t* h = host_phys(piece.phys);
  if (piece.flags & MAP_SHARED) {
    // Every page of a shared overlay lives in the page cache (file, memfd
    // or shm segment): dropping the host PTEs loses nothing and is the
    // cheap, safe notifier (pvm/README.md 7.5, 8). The host refuses plain
    // MADV_DONTNEED on locked memory.
    ::madvise(h, piece.len(), piece.lock ? MADV_DONTNEED_LOCKED : MADV_DONTNEED);
    return;
  }
  // A private overlay may hold copied-on-write pages that exist nowhere
  // else: an mprotect round trip fires the notifier without touching them.
  // Through PROT_NONE rather than the reservation's R/RW round trip, so the
  // host never allows more than the guest does (a read-only file overlay
  // must not become writable, even for a moment).
  const int hp = host_prot(piece.prot);
  if (sync_) sync_->reprotect_begin();  // other vCPUs retry an EFAULT meanwhile
  ::mprotect(h, piece.len(), PROT_NONE);
  ::mprotect(h, piece.len(), hp);
  if (sync_) sync_->reprotect_end();
}

Result<void> MemoryManager::move_overlay(const Vma& piece, uint64_t new_pa, uint64_t new_len) {
  // mm/mremap.c on the host does what the guest asked of us: the file
  // mapping (with its copied-on-write pages) moves to the new run and grows
  // there; the part past the file's end faults with SIGBUS as on Linux.
  void* r = ::mremap(host_phys(piece.phys), piece.len(), new_len, MREMAP_MAYMOVE | MREMAP_FIXED,
                     host_phys(new_pa));
  if (r == MAP_FAILED) return Errno{errno == EFAULT ? ENOMEM : errno};
  // The old run is now a hole in the host: make it reservation memory again.
  restore_anon(piece.phys, piece.len());
  return Ok();
}

Result<void> MemoryManager::overlay_copy(void* dst, const void* src, uint64_t len) {
  // A fault-tolerant copy (base/safe_copy.h): a page it cannot reach (SIGBUS
  // past EOF) stops it short, as the kernel's copy_from_user stops.
  safe_copy::FaultWindow window;
  if (safe_copy::copy(dst, src, len) != 0) return Errno{EFAULT};
  return Ok();
}

void MemoryManager::write_ptes(uint64_t va, uint64_t pa, uint64_t len, int prot) {
  if (pa >= phys_size_) {
    // Host pages (kHost): a page at a time, none for a SIGBUS page.
    for (const HostWindow& w : host_windows_) {
      if (pa < w.gpa || pa - w.gpa >= w.len) continue;
      for (uint64_t off = 0; off < len; off += kPageSize)
        if (!w.sigbus[(pa + off - w.gpa) / kPageSize])
          write_table_entries(va + off, pa + off, kPageSize, prot);
      return;
    }
    fatal("mm: no host memory at guest-physical 0x%llx", static_cast<unsigned long long>(pa));
  }
  write_table_entries(va, pa, len, prot);
}

void MemoryManager::write_table_entries(uint64_t va, uint64_t pa, uint64_t len, int prot) {
  // Only a new table can fail, and only when no guest-physical frame is
  // left for it: a sizing error of elfuse, not the guest's.
  if (!page_tables_.map(va, pa, len, prot, /*user=*/true).ok())
    fatal("out of guest page-table frames");
}

void MemoryManager::clear_ptes(uint64_t va, uint64_t len) {
  if (!page_tables_.unmap(va, len).ok()) fatal("out of guest page-table frames");
}

void MemoryManager::release_run(uint64_t pa, uint64_t len) {
  // Zeroes the frames (private anonymous reservation) and, through KVM's MMU
  // notifier, drops every shadow entry of them (pvm/README.md 7.5 point 3).
  host_discard(host_phys(pa), len);
  if (sync_) sync_->freed(pa, len);
  phys_.free_run(pa, len);
}

void MemoryManager::unmap_range(uint64_t start, uint64_t end) {
  assert_locked();
  std::vector<Vma> gone = as_.remove(start, end);
  for (const Vma& v : gone) clear_ptes(v.start, v.len());
  // Released only after every PTE store (ShadowSync contract). An overlay
  // is replaced by fresh anonymous memory first; that host munmap of the
  // file pages is itself the notifier for its frames.
  for (const Vma& v : gone) release_piece(v);
}

void MemoryManager::move_contents(uint64_t dst_pa, uint64_t src_pa, uint64_t len) {
  uint8_t* dst = host_phys(dst_pa);
  uint8_t* src = host_phys(src_pa);
  // Moving the host pages costs page-table work only; the source range stays
  // mapped (empty) so the KVM memslot keeps its backing. Needs Linux 5.7+
  // and both ranges in one host VMA each; otherwise copy.
  void* r = ::mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, dst);
  if (r == dst) return;
  // The destination run is zero: copy only pages that are not.
  for (uint64_t off = 0; off < len; off += kPageSize)
    if (!all_zero(src + off, kPageSize)) std::memcpy(dst + off, src + off, kPageSize);
  host_discard(src, len);
}

// ---------------------------------------------------------------- special mappings

uint8_t* MemoryManager::host_window(uint64_t pa) const {
  for (const HostWindow& w : host_windows_)
    if (pa >= w.gpa && pa - w.gpa < w.len) return w.host + (pa - w.gpa);
  fatal("mm: no host memory at guest-physical 0x%llx", static_cast<unsigned long long>(pa));
}

const Vma* MemoryManager::special_split(uint64_t start, uint64_t end) const {
  const Vma* a = as_.find(start);
  if (a && a->special && a->start < start) return a;
  const Vma* b = as_.find(end);
  if (b && b->special && b->start < end) return b;
  return nullptr;
}
// ---------------------------------------------------------------- limits

uint64_t MemoryManager::mapped_pages(uint64_t start, uint64_t end) const {
  uint64_t n = 0;
  for (const Vma& p : as_.pieces(start, end)) n += p.len() / kPageSize;
  return n;
}

bool MemoryManager::may_expand(int prot, int flags, uint64_t npages) const {
  if (!limits_) return true;
  const uint64_t as_cur = limits_->cur(RLIMIT_AS), data_cur = limits_->cur(RLIMIT_DATA);
  if (as_cur == kRlimInfinity && data_cur == kRlimInfinity) return true;
  uint64_t total = 0, data = 0;
  for (const Vma& v : as_) {
    const uint64_t n = v.len() / kPageSize;
    total += n;
    if (is_data_mapping(v.prot, v.flags)) data += n;
  }
  return may_expand_vm(total, data, prot, flags, npages, as_cur, data_cur,
                       limits_->max(RLIMIT_DATA));
}

}  // namespace elfuse
