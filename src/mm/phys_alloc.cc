#include "mm/phys_alloc.h"

#include <algorithm>
#include <cassert>
#include <iterator>

#include "base/checked.h"

namespace elfuse {

PhysAllocator::PhysAllocator(uint64_t size, uint64_t table_start, uint64_t table_end,
                             uint64_t data_start)
    : size_(size), table_next_(table_start), table_end_(table_end), data_start_(data_start) {
  assert(table_start <= table_end && table_end <= data_start && data_start <= size);
  if (data_start < size) free_[data_start] = size;
}

std::optional<uint64_t> PhysAllocator::alloc_table() {
  if (!free_tables_.empty()) {
    uint64_t pa = free_tables_.back();
    free_tables_.pop_back();
    return pa;
  }
  if (table_next_ < table_end_) {
    uint64_t pa = table_next_;
    table_next_ += kPageSize;
    return pa;
  }
  // The table pool is used up (PageTables never gives a table back): a
  // frame of the data pool becomes a table for good.
  return alloc_run(kPageSize, 0, Placement::kLow);
}

void PhysAllocator::free_table(uint64_t pa) {
  free_tables_.push_back(pa);
}

std::optional<uint64_t> PhysAllocator::fit_in(uint64_t s, uint64_t e, uint64_t len, uint64_t va,
                                              bool aligned, Placement where) const {
  if (e - s < len) return std::nullopt;
  if (!aligned) return where == Placement::kHigh ? e - len : s;
  const uint64_t want = va & (kHugePageSize - 1);
  if (where == Placement::kHigh) {
    // Highest pa <= e - len with pa % 2M == want.
    uint64_t x = e - len;
    if (x < want) return std::nullopt;
    uint64_t pa = want + align_down(x - want, kHugePageSize);
    if (pa < s) return std::nullopt;
    return pa;
  }
  // Lowest pa >= s with pa % 2M == want.
  uint64_t pa = align_down(s, kHugePageSize) + want;
  if (pa < s) pa += kHugePageSize;
  if (pa > e || e - pa < len) return std::nullopt;
  return pa;
}

void PhysAllocator::set_growth(uint64_t limit, uint64_t step,
                               std::function<bool(uint64_t, uint64_t)> grow) {
  growth_limit_ = limit;
  growth_step_ = step;
  grow_ = std::move(grow);
}

// Registering guest memory costs KVM per-page metadata (docs/internals.md),
// so the pool starts small and grows a step at a time, as needed.
// The new end is the first step boundary at or past min_end, so an initial
// pool that is not a whole step grows to one step, then by whole steps.
bool PhysAllocator::extend(uint64_t min_end) {
  if (!grow_ || min_end <= size_ || min_end > growth_limit_) return false;
  uint64_t new_end = std::min(growth_limit_, align_up(min_end, growth_step_));
  if (!grow_(size_, new_end)) return false;
  uint64_t old_end = size_;
  size_ = new_end;
  free_run(old_end, new_end - old_end);
  return true;
}

std::optional<uint64_t> PhysAllocator::alloc_run(uint64_t len, uint64_t va, Placement where) {
  if (len == 0 || !page_aligned(len)) return std::nullopt;
  // Fits in the current pool, else once more after growing it by enough for
  // len (plus 2 MiB of slack for the alignment of large runs).
  if (auto pa = alloc_run_in_pool(len, va, where)) return pa;
  auto need = checked_add(size_, len + kHugePageSize);
  if (!need || !extend(*need)) return std::nullopt;
  return alloc_run_in_pool(len, va, where);
}

std::optional<uint64_t> PhysAllocator::alloc_run_in_pool(uint64_t len, uint64_t va,
                                                         Placement where) {
  // Two passes: 2 MiB-congruent placement first (only worth it for runs that
  // can hold a 2 MiB page), then any placement.
  for (int pass = len >= kHugePageSize ? 0 : 1; pass < 2; ++pass) {
    const bool aligned = pass == 0;
    std::optional<uint64_t> pa;
    if (where == Placement::kHigh) {
      for (auto it = free_.rbegin(); it != free_.rend() && !pa; ++it)
        pa = fit_in(it->first, it->second, len, va, aligned, where);
    } else {
      for (auto it = free_.begin(); it != free_.end() && !pa; ++it)
        pa = fit_in(it->first, it->second, len, va, aligned, where);
    }
    if (pa) {
      take(*pa, len);
      return pa;
    }
  }
  return std::nullopt;
}

bool PhysAllocator::is_free(uint64_t pa, uint64_t len) const {
  auto it = free_.upper_bound(pa);
  if (it == free_.begin()) return false;
  --it;
  return it->first <= pa && pa + len <= it->second;
}

bool PhysAllocator::alloc_at(uint64_t pa, uint64_t len) {
  auto end = checked_add(pa, len);
  if (end && *end > size_) extend(*end);
  if (len == 0 || !is_free(pa, len)) return false;
  take(pa, len);
  return true;
}

void PhysAllocator::take(uint64_t pa, uint64_t len) {
  auto it = std::prev(free_.upper_bound(pa));
  uint64_t s = it->first, e = it->second;
  assert(s <= pa && pa + len <= e);
  free_.erase(it);
  if (s < pa) free_[s] = pa;
  if (pa + len < e) free_[pa + len] = e;
}

void PhysAllocator::free_run(uint64_t pa, uint64_t len) {
  if (len == 0) return;
  assert(pa >= data_start_ && pa + len <= size_);
  uint64_t s = pa, e = pa + len;
  auto next = free_.lower_bound(s);
  assert(next == free_.end() || next->first >= e);  // not already free
  if (next != free_.end() && next->first == e) {
    e = next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    assert(prev->second <= s);
    if (prev->second == s) {
      prev->second = e;
      return;
    }
  }
  free_[s] = e;
}

bool PhysAllocator::try_grow(uint64_t pa, uint64_t old_len, uint64_t new_len) {
  if (new_len <= old_len) return true;
  auto end = checked_add(pa, new_len);
  if (!end) return false;
  if (*end > size_ && !extend(*end)) return false;
  return alloc_at(pa + old_len, new_len - old_len);
}

uint64_t PhysAllocator::free_data_bytes() const {
  uint64_t n = 0;
  for (auto& [s, e] : free_) n += e - s;
  return n;
}

std::vector<std::pair<uint64_t, uint64_t>> PhysAllocator::free_ranges() const {
  return {free_.begin(), free_.end()};
}

}  // namespace elfuse
