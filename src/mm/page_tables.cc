#include "mm/page_tables.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "base/checked.h"
#include "base/log.h"

namespace elfuse {
namespace {

constexpr uint64_t kEntries = 512;
constexpr uint64_t k1G = 1ull << 30;

unsigned index_at(uint64_t va, int shift) {
  return (va >> shift) & (kEntries - 1);
}

}  // namespace

PageTables::PageTables(TableMemory* mem) : mem_(mem) {
  auto r = new_table();
  if (!r.ok()) fatal("no frame for the guest PML4");
  root_ = r.value();
}

uint64_t PageTables::leaf_flags(int prot, bool user) {
  if (prot == PROT_NONE) return 0;
  uint64_t f = pte::kPresent;
  if (prot & PROT_WRITE) f |= pte::kWrite;
  if (user) f |= pte::kUser;
  if (!(prot & PROT_EXEC)) f |= pte::kNx;
  return f;
}

uint64_t* PageTables::table(uint64_t pa) const {
  return reinterpret_cast<uint64_t*>(mem_->host(pa));
}

// One aligned 64-bit store: KVM may walk the entry concurrently and must see
// either the old or the new value, never a torn one.
void PageTables::store(uint64_t* slot, uint64_t value) {
  std::atomic_ref<uint64_t>(*slot).store(value, std::memory_order_release);
}

uint64_t PageTables::load(const uint64_t* slot) {
  return std::atomic_ref<uint64_t>(*const_cast<uint64_t*>(slot)).load(std::memory_order_relaxed);
}

Result<uint64_t> PageTables::new_table() {
  auto pa = mem_->alloc_table();
  if (!pa) return Errno{ENOMEM};
  // Not yet reachable from any entry, so a plain memset is fine.
  std::memset(mem_->host(*pa), 0, kPageSize);
  return *pa;
}

// Intermediate entries: P|RW, plus US for user ranges (the leaf decides the
// real permission; x86 ANDs the levels, so upper levels stay permissive).
static uint64_t dir_flags(bool user) {
  return pte::kPresent | pte::kWrite | (user ? pte::kUser : 0);
}

Result<uint64_t*> PageTables::pd_for(uint64_t va, bool create, bool user) {
  uint64_t* t = table(root_);
  for (int shift : {39, 30}) {
    uint64_t* slot = &t[index_at(va, shift)];
    uint64_t e = load(slot);
    if (!(e & pte::kPresent)) {
      if (!create) return static_cast<uint64_t*>(nullptr);
      uint64_t pa = TRY(new_table());
      e = pa | dir_flags(user);
      store(slot, e);
    } else if (create && user && !(e & pte::kUser)) {
      e |= pte::kUser;
      store(slot, e);
    }
    t = table(e & pte::kAddrMask);
  }
  return t;
}

Result<uint64_t*> PageTables::pt_for(uint64_t* pde, bool create, bool user) {
  uint64_t e = load(pde);
  if (e & pte::kPresent) {
    if (create && user && !(e & pte::kUser)) store(pde, e | pte::kUser);
    return table(e & pte::kAddrMask);
  }
  if (!create) return static_cast<uint64_t*>(nullptr);
  uint64_t pa = TRY(new_table());
  store(pde, pa | dir_flags(user));
  return table(pa);
}

// 4 KiB leaves only, and directory entries are only ever added, for KVM's
// shadow paging (PVM): KVM links its shadow of a directory entry to a shadow
// page found by guest frame, and it never sees a host store into the
// directory. A 2 MiB leaf shadows as a link to a page shared by every
// mapping of that 2 MiB of guest-physical memory; once the host removed or
// replaced the leaf, the stale link made a new mapping at that address use
// the translations another address filled in (docs/internals.md, "Page
// tables and shadow invalidation"). Leaf PTEs are safe: the MMU notifier on
// the old frame (ShadowSync) drops their shadow entries.
Result<void> PageTables::set_range(uint64_t va, uint64_t pa, uint64_t len, uint64_t leaf,
                                   bool user) {
  const bool mapping = leaf != 0;
  while (len > 0) {
    uint64_t* pd = TRY(pd_for(va, mapping, user));
    if (!pd) {  // nothing mapped in this 1 GiB: skip it
      uint64_t step = std::min(len, align_down(va, k1G) + k1G - va);
      va += step, pa += step, len -= step;
      continue;
    }
    const uint64_t block_end = align_down(va, kHugePageSize) + kHugePageSize;
    const uint64_t chunk = std::min(len, block_end - va);
    uint64_t* pt = TRY(pt_for(&pd[index_at(va, 21)], mapping, user));
    if (pt) {
      for (uint64_t off = 0; off < chunk; off += kPageSize)
        store(&pt[index_at(va + off, 12)], mapping ? (pa + off) | leaf : 0);
    }
    va += chunk, pa += chunk, len -= chunk;
  }
  return Ok();
}

Result<void> PageTables::map(uint64_t va, uint64_t pa, uint64_t len, int prot, bool user) {
  if (prot == PROT_NONE) return unmap(va, len);
  return set_range(va, pa, len, leaf_flags(prot, user), user);
}

Result<void> PageTables::unmap(uint64_t va, uint64_t len) {
  return set_range(va, 0, len, 0, false);
}

std::optional<PageTables::Translation> PageTables::translate(uint64_t va) const {
  const uint64_t* t = table(root_);
  for (int shift : {39, 30}) {
    uint64_t e = load(&t[index_at(va, shift)]);
    if (!(e & pte::kPresent)) return std::nullopt;
    t = table(e & pte::kAddrMask);
  }
  uint64_t pde = load(&t[index_at(va, 21)]);
  if (!(pde & pte::kPresent)) return std::nullopt;
  uint64_t e = load(&table(pde & pte::kAddrMask)[index_at(va, 12)]);
  if (!(e & pte::kPresent)) return std::nullopt;
  return Translation{(e & pte::kAddrMask) + (va & kPageMask), e & ~pte::kAddrMask};
}

}  // namespace elfuse
