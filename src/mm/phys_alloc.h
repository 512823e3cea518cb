// PhysAllocator: hands out guest-physical memory in [0, size).
//   [table_start, table_end)  4 KiB page-table frames
//   [data_start, size)        contiguous data runs backing VMAs
// The data pool is a free list of ranges that coalesce on free. Runs carry no
// allocation record: any page-aligned sub-range of allocated memory may be
// freed (a VMA split by munmap frees only the middle of its run).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace elfuse {

class PhysAllocator {
 public:
  // Where alloc_run places a run inside the free range it picks.
  enum class Placement {
    kHigh,  // top of the highest range that fits (default: mmap runs)
    kLow,   // bottom of the lowest range that fits, leaving room to grow
            // upward in place (the heap)
  };

  PhysAllocator() = default;
  // All bounds page aligned, table_end <= data_start <= size.
  PhysAllocator(uint64_t size, uint64_t table_start, uint64_t table_end, uint64_t data_start);

  // One 4 KiB frame for a page table: from the table pool, or from the
  // data pool once that is used up; nullopt when neither has one.
  std::optional<uint64_t> alloc_table();
  void free_table(uint64_t pa);

  // A run of len bytes (page multiple, > 0). When len >= 2 MiB the run
  // satisfies pa % 2 MiB == va % 2 MiB if any free range allows it (page
  // tables with 2 MiB pages would need it; on PVM they use 4 KiB pages
  // only, see page_tables.h). nullopt when nothing fits.
  std::optional<uint64_t> alloc_run(uint64_t len, uint64_t va, Placement where = Placement::kHigh);
  // Takes exactly [pa, pa+len) if it is entirely free.
  bool alloc_at(uint64_t pa, uint64_t len);
  // Returns [pa, pa+len) (page aligned, inside the data pool, allocated).
  void free_run(uint64_t pa, uint64_t len);
  // Extends the allocated run [pa, pa+old_len) to new_len in place when
  // [pa+old_len, pa+new_len) is free.
  bool try_grow(uint64_t pa, uint64_t old_len, uint64_t new_len);

  // The data pool may grow past size() up to `limit`, to the next multiple
  // of `step` that holds what an allocation needs, when `grow(old_end,
  // new_end)` succeeds (the VM registers that guest-physical memory).
  // Allocation tries the current pool first.
  void set_growth(uint64_t limit, uint64_t step,
                  std::function<bool(uint64_t old_end, uint64_t new_end)> grow);

  uint64_t size() const { return size_; }
  uint64_t data_start() const { return data_start_; }
  uint64_t free_data_bytes() const;
  bool is_free(uint64_t pa, uint64_t len) const;
  // Free ranges [start, end) in address order (for tests).
  std::vector<std::pair<uint64_t, uint64_t>> free_ranges() const;

 private:
  std::optional<uint64_t> fit_in(uint64_t s, uint64_t e, uint64_t len, uint64_t va, bool aligned,
                                 Placement where) const;
  void take(uint64_t pa, uint64_t len);  // [pa, pa+len) must be inside one free range
  bool extend(uint64_t min_end);         // grows the pool to at least min_end
  std::optional<uint64_t> alloc_run_in_pool(uint64_t len, uint64_t va, Placement where);

  uint64_t size_ = 0;
  uint64_t table_next_ = 0, table_end_ = 0;
  std::vector<uint64_t> free_tables_;
  uint64_t data_start_ = 0;
  std::map<uint64_t, uint64_t> free_;
  uint64_t growth_limit_ = 0, growth_step_ = 0;
  std::function<bool(uint64_t, uint64_t)> grow_;  // start -> end, disjoint, never adjacent
};

}  // namespace elfuse
