#include "mm/address_space.h"

#include <iterator>

namespace elfuse {

Vma Vma::clipped(uint64_t s, uint64_t e) const {
  Vma v = *this;
  v.start = s > start ? s : start;
  v.end = e < end ? e : end;
  v.phys = phys + (v.start - start);
  v.file_offset = file_offset + (v.start - start);
  return v;
}

bool vmas_mergeable(const Vma& a, const Vma& b) {
  if (a.end != b.start) return false;
  // A special mapping never merges with another mapping (mm/vma.c: its
  // vm_ops differ); two pieces of one (split here for a moment by a
  // protect() that changed nothing) do.
  if (a.special != b.special) return false;
  if (a.prot != b.prot || a.max_prot != b.max_prot || a.flags != b.flags ||
      a.backing != b.backing || a.name != b.name || a.file_dev != b.file_dev ||
      a.file_ino != b.file_ino || a.lock != b.lock || a.wipe_on_fork != b.wipe_on_fork ||
      a.dont_fork != b.dont_fork || a.sealed != b.sealed)
    return false;
  // A System V shm VMA has vm_ops->close (shm_close), and such VMAs never
  // merge (mm/vma.c is_mergeable_vma): each piece counts in shm_nattch.
  if (a.backing == Vma::kShm) return false;
  if (a.phys + a.len() != b.phys) return false;
  // Private anonymous VMAs have no meaningful offset; file and shared
  // anonymous VMAs must continue the same file (mm/vma.c
  // can_vma_merge_after checks vm_file and vm_pgoff the same way).
  if (a.overlay() && a.file_offset + a.len() != b.file_offset) return false;
  return true;
}

const Vma* AddressSpace::find(uint64_t addr) const {
  const Vma* v = find_next(addr);
  return v && v->start <= addr ? v : nullptr;
}

const Vma* AddressSpace::find_next(uint64_t addr) const {
  auto it = vmas_.upper_bound(addr);
  if (it != vmas_.begin()) {
    auto p = std::prev(it);
    if (p->second.end > addr) return &p->second;
  }
  return it == vmas_.end() ? nullptr : &it->second;
}

const Vma* AddressSpace::find_prev(uint64_t addr) const {
  auto it = vmas_.lower_bound(addr);
  if (it == vmas_.begin()) return nullptr;
  return &std::prev(it)->second;
}

bool AddressSpace::range_free(uint64_t start, uint64_t end) const {
  const Vma* v = find_next(start);
  return !v || v->start >= end;
}

bool AddressSpace::range_fully_mapped(uint64_t start, uint64_t end) const {
  uint64_t cur = start;
  while (cur < end) {
    const Vma* v = find(cur);
    if (!v) return false;
    cur = v->end;
  }
  return true;
}

std::vector<Vma> AddressSpace::pieces(uint64_t start, uint64_t end) const {
  std::vector<Vma> out;
  auto it = vmas_.upper_bound(start);
  if (it != vmas_.begin() && std::prev(it)->second.end > start) --it;
  for (; it != vmas_.end() && it->second.start < end; ++it)
    out.push_back(it->second.clipped(start, end));
  return out;
}

void AddressSpace::split_at(uint64_t addr) {
  auto it = vmas_.upper_bound(addr);
  if (it == vmas_.begin()) return;
  --it;
  Vma& v = it->second;
  if (v.start == addr || v.end <= addr) return;
  Vma tail = v.clipped(addr, v.end);
  v.end = addr;
  vmas_.emplace(addr, std::move(tail));
}

void AddressSpace::merge_around(uint64_t start, uint64_t end) {
  auto it = vmas_.lower_bound(start);
  if (it != vmas_.begin()) --it;
  while (it != vmas_.end() && it->second.start <= end) {
    auto next = std::next(it);
    if (next != vmas_.end() && vmas_mergeable(it->second, next->second)) {
      it->second.end = next->second.end;
      vmas_.erase(next);
      continue;  // try the new neighbour too
    }
    it = next;
  }
}

Result<void> AddressSpace::insert(Vma v) {
  if (v.start >= v.end || !page_aligned(v.start) || !page_aligned(v.end)) return Errno{EINVAL};
  if (!range_free(v.start, v.end)) return Errno{EEXIST};
  uint64_t s = v.start, e = v.end;
  vmas_.emplace(s, std::move(v));
  merge_around(s, e);
  return Ok();
}

std::vector<Vma> AddressSpace::remove(uint64_t start, uint64_t end) {
  std::vector<Vma> out;
  if (start >= end) return out;
  split_at(start);
  split_at(end);
  auto it = vmas_.lower_bound(start);
  while (it != vmas_.end() && it->second.start < end) {
    out.push_back(std::move(it->second));
    it = vmas_.erase(it);
  }
  return out;
}

Result<std::vector<Vma>> AddressSpace::protect(uint64_t start, uint64_t end, int prot) {
  if (start >= end || !range_fully_mapped(start, end)) return Errno{ENOMEM};
  std::vector<Vma> old = pieces(start, end);
  for (const Vma& v : old)
    if (prot & ~v.max_prot) return Errno{EACCES};
  split_at(start);
  split_at(end);
  for (auto it = vmas_.lower_bound(start); it != vmas_.end() && it->second.start < end; ++it)
    it->second.prot = prot;
  merge_around(start, end);
  return old;
}

std::vector<Vma> AddressSpace::set_lock(uint64_t start, uint64_t end, Vma::Lock lock, bool merge) {
  std::vector<Vma> old = pieces(start, end);
  split_at(start);
  split_at(end);
  for (auto it = vmas_.lower_bound(start); it != vmas_.end() && it->second.start < end; ++it)
    it->second.lock = lock;
  if (merge) merge_around(start, end);
  return old;
}

void AddressSpace::set_flag(uint64_t start, uint64_t end, bool Vma::*flag, bool value) {
  split_at(start);
  split_at(end);
  for (auto it = vmas_.lower_bound(start); it != vmas_.end() && it->second.start < end; ++it)
    it->second.*flag = value;
  merge_around(start, end);
}

void AddressSpace::set_file_offset(uint64_t start, uint64_t end, uint64_t offset) {
  split_at(start);
  split_at(end);
  for (auto it = vmas_.lower_bound(start); it != vmas_.end() && it->second.start < end; ++it)
    it->second.file_offset = offset + (it->second.start - start);
  merge_around(start, end);
}

std::optional<uint64_t> AddressSpace::find_gap_top_down(uint64_t len, uint64_t low, uint64_t high,
                                                        uint64_t align, uint64_t offset) const {
  if (len == 0 || high < low || high - low < len) return std::nullopt;
  offset &= align - 1;
  // Highest aligned candidate whose end fits below `limit`, or nullopt.
  auto best_below = [&](uint64_t limit, uint64_t floor) -> std::optional<uint64_t> {
    if (limit < floor || limit - floor < len) return std::nullopt;
    uint64_t x = limit - len;
    if (x < offset) return std::nullopt;
    uint64_t a = offset + align_down(x - offset, align);
    if (a < floor) return std::nullopt;
    return a;
  };
  // Walk the gaps from the top: [prev.end, next.start) clipped to [low, high).
  uint64_t gap_end = high;
  auto it = vmas_.lower_bound(high);
  // A VMA straddling `high` caps the first gap.
  if (it != vmas_.begin() && std::prev(it)->second.end > high) {
    --it;
    gap_end = it->second.start;
  }
  while (true) {
    uint64_t gap_start = low;
    auto prev = it;
    bool have_prev = prev != vmas_.begin();
    if (have_prev) {
      --prev;
      if (prev->second.end > gap_start) gap_start = prev->second.end;
    }
    if (gap_end > gap_start) {
      if (auto a = best_below(gap_end, gap_start)) return a;
    }
    if (!have_prev || prev->second.start <= low) return std::nullopt;
    gap_end = prev->second.start;
    it = prev;
  }
}

}  // namespace elfuse
