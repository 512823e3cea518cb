// PageTables: x86-64 4-level page tables that live in guest-physical memory
// and are written by the host. Entries are derived from VMAs by the
// MemoryManager. Only 4 KiB leaves are written, and an entry that points to
// a table, once written, is never changed or removed: KVM's shadow paging
// cannot see a host store to a present directory entry, and a stale one
// aliases guest memory (docs/internals.md, "Page tables and shadow
// invalidation").
//
// KVM walks these tables while vCPUs run, so every entry is written with one
// aligned 64-bit store, and a table is fully initialised before the entry
// pointing to it is stored.
#pragma once

#include <cstdint>
#include <optional>

#include "base/result.h"

namespace elfuse {

// How PageTables reaches guest-physical memory. Tests implement it over a
// malloc'd buffer; the MemoryManager over its reservation and PhysAllocator.
class TableMemory {
 public:
  virtual ~TableMemory() = default;
  // Host pointer to guest-physical pa (8-byte aligned for table entries).
  virtual uint8_t* host(uint64_t pa) = 0;
  // A fresh 4 KiB frame for a table (contents arbitrary), or nullopt.
  virtual std::optional<uint64_t> alloc_table() = 0;
};

namespace pte {
inline constexpr uint64_t kPresent = 1ull << 0;
inline constexpr uint64_t kWrite = 1ull << 1;
inline constexpr uint64_t kUser = 1ull << 2;
inline constexpr uint64_t kNx = 1ull << 63;
inline constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;
}  // namespace pte

class PageTables {
 public:
  struct Translation {
    uint64_t pa;     // physical address of va itself
    uint64_t flags;  // leaf entry without its address bits
  };

  // Allocates the PML4; aborts (fatal) when no table frame is available,
  // which is a setup error, not a guest one.
  explicit PageTables(TableMemory* mem);
  PageTables(const PageTables&) = delete;
  PageTables& operator=(const PageTables&) = delete;

  uint64_t root() const { return root_; }

  // Maps [va, va+len) -> [pa, pa+len) with 4 KiB PTEs, replacing any
  // entries there. PTE: P, RW if PROT_WRITE, US if user, NX unless
  // PROT_EXEC. prot == PROT_NONE removes the entries instead. All page
  // aligned, va canonical lower half. ENOMEM when table frames run out
  // (entries written so far stay).
  Result<void> map(uint64_t va, uint64_t pa, uint64_t len, int prot, bool user);
  // Clears the PTEs of [va, va+len); the tables stay. Never fails.
  Result<void> unmap(uint64_t va, uint64_t len);
  std::optional<Translation> translate(uint64_t va) const;

  // Leaf flags PageTables writes for prot (without the address).
  static uint64_t leaf_flags(int prot, bool user);

 private:
  uint64_t* table(uint64_t pa) const;
  static void store(uint64_t* slot, uint64_t value);
  static uint64_t load(const uint64_t* slot);
  // The PD covering va, creating PML4E/PDPTE levels when create is set.
  Result<uint64_t*> pd_for(uint64_t va, bool create, bool user);
  // The PT under the PDE, creating it when create is set; nullptr when
  // absent and !create.
  Result<uint64_t*> pt_for(uint64_t* pde, bool create, bool user);
  Result<void> set_range(uint64_t va, uint64_t pa, uint64_t len, uint64_t leaf, bool user);
  Result<uint64_t> new_table();

  TableMemory* mem_;
  uint64_t root_ = 0;
};

}  // namespace elfuse
