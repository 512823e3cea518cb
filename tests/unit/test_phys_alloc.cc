#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "base/checked.h"
#include "mm/phys_alloc.h"

namespace elfuse {
namespace {

constexpr uint64_t P = kPageSize;
constexpr uint64_t M2 = kHugePageSize;

TEST(PhysAllocator, TableFrames) {
  PhysAllocator pa(64 * M2, 0, 3 * P, M2);
  EXPECT_EQ(pa.alloc_table(), 0u);
  EXPECT_EQ(pa.alloc_table(), P);
  EXPECT_EQ(pa.alloc_table(), 2 * P);
  // The table pool is used up: frames of the data pool, from its bottom.
  EXPECT_EQ(pa.alloc_table(), M2);
  EXPECT_FALSE(pa.is_free(M2, P));
  pa.free_table(P);
  EXPECT_EQ(pa.alloc_table(), P);
  // Nothing left anywhere.
  PhysAllocator full(M2 + P, 0, P, M2);
  EXPECT_EQ(full.alloc_table(), 0u);
  EXPECT_EQ(full.alloc_table(), M2);
  EXPECT_EQ(full.alloc_table(), std::nullopt);
}

TEST(PhysAllocator, PoolGrowsToStepBoundaries) {
  // Data pool [2M, 5M), growing in 8 MiB steps up to 32 MiB.
  constexpr uint64_t M = 1ull << 20;
  PhysAllocator pa(5 * M, 0, P, 2 * M);
  std::vector<std::pair<uint64_t, uint64_t>> grown;
  bool allow = true;
  pa.set_growth(32 * M, 8 * M, [&](uint64_t old_end, uint64_t new_end) {
    if (allow) grown.push_back({old_end, new_end});
    return allow;
  });
  EXPECT_TRUE(pa.alloc_run(2 * M, 0));  // fits: no growth
  EXPECT_TRUE(grown.empty());
  // Does not fit: the pool grows to the first step boundary that holds the
  // run and 2 MiB of alignment slack past the old end (5 + 4 + 2 -> 16).
  auto a = pa.alloc_run(4 * M, 0);
  ASSERT_TRUE(a);
  ASSERT_EQ(grown.size(), 1u);
  EXPECT_EQ(grown[0], std::make_pair(5 * M, 16 * M));
  EXPECT_EQ(pa.size(), 16 * M);
  EXPECT_LE(*a + 4 * M, 16 * M);
  // A refused growth changes nothing.
  allow = false;
  EXPECT_FALSE(pa.alloc_run(12 * M, 0));
  EXPECT_EQ(pa.size(), 16 * M);
  allow = true;
  auto b = pa.alloc_run(12 * M, 0);
  ASSERT_TRUE(b);
  EXPECT_EQ(grown.back(), std::make_pair(16 * M, 32 * M));
  // Not past the limit.
  EXPECT_FALSE(pa.alloc_run(16 * M, 0));
  EXPECT_EQ(pa.size(), 32 * M);
  EXPECT_EQ(grown.size(), 2u);
  pa.free_run(*b, 12 * M);
  EXPECT_TRUE(pa.alloc_run(12 * M, 0));
}

TEST(PhysAllocator, SmallRunsComeFromTheTopOrBottom) {
  PhysAllocator pa(16 * M2, 0, P, M2);
  EXPECT_EQ(pa.alloc_run(P, 0), 16 * M2 - P);
  EXPECT_EQ(pa.alloc_run(2 * P, 0, PhysAllocator::Placement::kLow), M2);
  EXPECT_EQ(pa.alloc_run(0, 0), std::nullopt);
  EXPECT_EQ(pa.alloc_run(P + 1, 0), std::nullopt);
}

TEST(PhysAllocator, LargeRunsAreCongruentModulo2M) {
  PhysAllocator pa(64 * M2, 0, P, M2);
  for (uint64_t va : {0x7f0000000000ull, 0x7f0000001000ull, 0x40123000ull}) {
    auto r = pa.alloc_run(3 * M2, va);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r % M2, va % M2);
  }
  // Below 2 MiB no alignment is attempted.
  auto r = pa.alloc_run(M2 - P, 0x1000);
  ASSERT_TRUE(r);
}

TEST(PhysAllocator, FallsBackToUnalignedWhenNeeded) {
  // Data pool [2M+4K, 6M-4K): no 2 MiB-aligned run of 2 MiB fits, so a
  // run congruent to va 0 does not either; an unaligned one does.
  PhysAllocator pa(3 * M2 - P, 0, P, M2 + P);
  auto r = pa.alloc_run(M2, 0);
  ASSERT_TRUE(r);
  EXPECT_NE(*r % M2, 0u);
  EXPECT_FALSE(pa.alloc_run(M2, 0));
}

TEST(PhysAllocator, FreeCoalesces) {
  PhysAllocator pa(8 * M2, 0, P, M2);
  const uint64_t total = pa.free_data_bytes();
  auto a = pa.alloc_run(4 * P, 0, PhysAllocator::Placement::kLow);
  auto b = pa.alloc_run(4 * P, 0, PhysAllocator::Placement::kLow);
  auto c = pa.alloc_run(4 * P, 0, PhysAllocator::Placement::kLow);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*b, *a + 4 * P);
  pa.free_run(*a, 4 * P);
  pa.free_run(*c, 4 * P);
  EXPECT_EQ(pa.free_ranges().size(), 2u);
  // Freeing the middle of b, then the rest: everything is one range again.
  pa.free_run(*b + P, 2 * P);
  pa.free_run(*b, P);
  pa.free_run(*b + 3 * P, P);
  EXPECT_EQ(pa.free_ranges().size(), 1u);
  EXPECT_EQ(pa.free_data_bytes(), total);
}

TEST(PhysAllocator, GrowInPlaceAndAllocAt) {
  PhysAllocator pa(8 * M2, 0, P, M2);
  auto a = pa.alloc_run(2 * P, 0, PhysAllocator::Placement::kLow);
  ASSERT_TRUE(a);
  EXPECT_TRUE(pa.try_grow(*a, 2 * P, 10 * P));
  auto b = pa.alloc_run(P, 0, PhysAllocator::Placement::kLow);
  EXPECT_EQ(*b, *a + 10 * P);
  EXPECT_FALSE(pa.try_grow(*a, 10 * P, 11 * P));
  EXPECT_FALSE(pa.try_grow(*b, P, 16 * M2));  // past the end
  EXPECT_FALSE(pa.alloc_at(*a, P));
  pa.free_run(*a + 4 * P, 2 * P);
  EXPECT_TRUE(pa.alloc_at(*a + 4 * P, 2 * P));
  EXPECT_FALSE(pa.alloc_at(*a + 4 * P, P));
}

TEST(PhysAllocator, RandomizedAgainstPageBitmap) {
  constexpr uint64_t kPages = 2048;  // 8 MiB data pool
  const uint64_t base = M2;
  PhysAllocator pa(base + kPages * P, 0, P, base);
  std::vector<bool> used(kPages, false);
  struct Run {
    uint64_t pa, len;
  };
  std::vector<Run> runs;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 5000; ++step) {
    int op = rng() % 3;
    if (op == 0 || runs.empty()) {
      uint64_t len = (1 + rng() % (rng() % 8 == 0 ? 1024 : 16)) * P;
      uint64_t va = (rng() % 4096) * P;
      auto where = rng() % 2 ? PhysAllocator::Placement::kLow : PhysAllocator::Placement::kHigh;
      auto r = pa.alloc_run(len, va, where);
      // Model: does any free range of len pages exist?
      bool fits = false;
      for (uint64_t i = 0, run = 0; i < kPages && !fits; ++i) {
        run = used[i] ? 0 : run + 1;
        fits = run * P >= len;
      }
      ASSERT_EQ(r.has_value(), fits) << "step " << step;
      if (!r) continue;
      for (uint64_t p = (*r - base) / P; p < (*r - base + len) / P; ++p) {
        ASSERT_FALSE(used[p]);
        used[p] = true;
      }
      runs.push_back({*r, len});
    } else if (op == 1) {
      // Free a random sub-range of a random run.
      size_t k = rng() % runs.size();
      Run r = runs[k];
      uint64_t pages = r.len / P;
      uint64_t first = rng() % pages;
      uint64_t n = 1 + rng() % (pages - first);
      pa.free_run(r.pa + first * P, n * P);
      for (uint64_t p = 0; p < n; ++p) used[(r.pa - base) / P + first + p] = false;
      runs.erase(runs.begin() + k);
      if (first > 0) runs.push_back({r.pa, first * P});
      if (first + n < pages) runs.push_back({r.pa + (first + n) * P, (pages - first - n) * P});
    } else {
      size_t k = rng() % runs.size();
      Run& r = runs[k];
      uint64_t extra = (1 + rng() % 8) * P;
      bool room = (r.pa - base + r.len + extra) / P <= kPages;
      for (uint64_t p = (r.pa - base + r.len) / P; room && p < (r.pa - base + r.len + extra) / P;
           ++p)
        room = !used[p];
      ASSERT_EQ(pa.try_grow(r.pa, r.len, r.len + extra), room);
      if (room) {
        for (uint64_t p = (r.pa - base + r.len) / P; p < (r.pa - base + r.len + extra) / P; ++p)
          used[p] = true;
        r.len += extra;
      }
    }
    // Free list equals the bitmap.
    uint64_t free_pages = 0;
    for (bool u : used) free_pages += !u;
    ASSERT_EQ(pa.free_data_bytes(), free_pages * P);
    auto ranges = pa.free_ranges();
    for (size_t i = 1; i < ranges.size(); ++i) ASSERT_LT(ranges[i - 1].second, ranges[i].first);
    for (auto [s, e] : ranges)
      for (uint64_t p = (s - base) / P; p < (e - base) / P; ++p) ASSERT_FALSE(used[p]);
  }
}

}  // namespace
}  // namespace elfuse
