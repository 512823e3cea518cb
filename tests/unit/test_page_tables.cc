#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdlib>
#include <map>
#include <random>
#include <vector>

#include "base/checked.h"
#include "mm/page_tables.h"

namespace elfuse {
namespace {

constexpr uint64_t P = kPageSize;
constexpr uint64_t M2 = kHugePageSize;

// Guest-physical memory for tables only: a malloc'd buffer holding frames
// [0, frames*4K). Data addresses are just numbers here.
class BufferMemory : public TableMemory {
 public:
  explicit BufferMemory(size_t frames) : frames_(frames) {
    buf_ = static_cast<uint8_t*>(std::aligned_alloc(P, frames * P));
  }
  ~BufferMemory() override { std::free(buf_); }
  uint8_t* host(uint64_t pa) override {
    EXPECT_LT(pa, frames_ * P);
    return buf_ + pa;
  }
  std::optional<uint64_t> alloc_table() override {
    if (next_ >= frames_) return std::nullopt;
    return (next_++) * P;
  }
  size_t used() const { return next_; }

 private:
  uint8_t* buf_;
  size_t frames_, next_ = 0;
};

constexpr int RW = PROT_READ | PROT_WRITE;

TEST(PageTables, FourKilobytePagesAndFlags) {
  BufferMemory mem(64);
  PageTables pt(&mem);
  ASSERT_TRUE(pt.map(0x400000 + P, 0x1234000, 2 * P, RW, true).ok());
  auto t = pt.translate(0x400000 + P + 0x10);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->pa, 0x1234010u);
  EXPECT_EQ(t->flags, pte::kPresent | pte::kWrite | pte::kUser | pte::kNx);
  EXPECT_EQ(pt.translate(0x400000 + 2 * P)->pa, 0x1235000u);
  EXPECT_FALSE(pt.translate(0x400000));
  EXPECT_FALSE(pt.translate(0x400000 + 3 * P));

  ASSERT_TRUE(pt.map(0x400000 + P, 0x1234000, P, PROT_READ | PROT_EXEC, true).ok());
  EXPECT_EQ(pt.translate(0x400000 + P)->flags, pte::kPresent | pte::kUser);
  ASSERT_TRUE(pt.map(0x400000 + P, 0x1234000, P, PROT_READ, false).ok());
  EXPECT_EQ(pt.translate(0x400000 + P)->flags, pte::kPresent | pte::kNx);
}

TEST(PageTables, ProtNoneMeansNoEntries) {
  BufferMemory mem(64);
  PageTables pt(&mem);
  ASSERT_TRUE(pt.map(0x10000, 0x10000, 4 * P, RW, true).ok());
  ASSERT_TRUE(pt.map(0x11000, 0x11000, P, PROT_NONE, true).ok());
  EXPECT_TRUE(pt.translate(0x10000));
  EXPECT_FALSE(pt.translate(0x11000));
  EXPECT_TRUE(pt.translate(0x12000));
}

TEST(PageTables, IntermediateEntries) {
  BufferMemory mem(64);
  PageTables pt(&mem);
  ASSERT_TRUE(pt.map(0xffff800000000000ull, 0, P, RW, false).ok());
  ASSERT_TRUE(pt.map(0x1000, 0, P, RW, true).ok());
  auto* pml4 = reinterpret_cast<uint64_t*>(mem.host(pt.root()));
  EXPECT_EQ(pml4[256] & 0xfff, pte::kPresent | pte::kWrite);  // supervisor: no US
  EXPECT_EQ(pml4[0] & 0xfff, pte::kPresent | pte::kWrite | pte::kUser);
  EXPECT_EQ(pt.translate(0xffff800000000000ull)->flags, pte::kPresent | pte::kWrite | pte::kNx);
}

// Every present directory entry (PML4E, PDPTE, PDE) by its address in
// the table buffer.
std::map<uint64_t*, uint64_t> directory_entries(BufferMemory& mem, uint64_t root) {
  std::map<uint64_t*, uint64_t> out;
  auto* pml4 = reinterpret_cast<uint64_t*>(mem.host(root));
  for (int i = 0; i < 512; ++i) {
    if (!(pml4[i] & pte::kPresent)) continue;
    out[&pml4[i]] = pml4[i];
    auto* pdpt = reinterpret_cast<uint64_t*>(mem.host(pml4[i] & pte::kAddrMask));
    for (int j = 0; j < 512; ++j) {
      if (!(pdpt[j] & pte::kPresent)) continue;
      out[&pdpt[j]] = pdpt[j];
      auto* pd = reinterpret_cast<uint64_t*>(mem.host(pdpt[j] & pte::kAddrMask));
      for (int k = 0; k < 512; ++k)
        if (pd[k] & pte::kPresent) out[&pd[k]] = pd[k];
    }
  }
  return out;
}

// KVM's shadow paging never sees a host store into a directory entry, so
// PageTables writes 4 KiB leaves only and a directory entry, once present,
// keeps its value through unmap, remap and protection changes
// (page_tables.h).
TEST(PageTables, DirectoryEntriesAreOnlyAdded) {
  BufferMemory mem(64);
  PageTables pt(&mem);
  // 2 MiB aligned and congruent: still 512 PTEs per block.
  ASSERT_TRUE(pt.map(M2, 0x40000000 + M2, 2 * M2, RW, true).ok());
  EXPECT_EQ(pt.translate(M2 + 0x12345)->pa, 0x40000000 + M2 + 0x12345);
  const auto before = directory_entries(mem, pt.root());
  for (auto [slot, e] : before) EXPECT_EQ(e & (1u << 7), 0u) << "PS bit in a directory entry";
  EXPECT_EQ(before.size(), 1u + 1u + 2u);  // PML4E, PDPTE, two PDEs

  ASSERT_TRUE(pt.unmap(M2, 2 * M2).ok());
  EXPECT_FALSE(pt.translate(M2));
  EXPECT_FALSE(pt.translate(3 * M2 - P));
  ASSERT_TRUE(pt.map(M2, 0x80000000, 2 * M2, PROT_READ, true).ok());
  ASSERT_TRUE(pt.map(M2 + 7 * P, 0x90000000, P, RW, true).ok());
  ASSERT_TRUE(pt.map(2 * M2, 0x80000000 + M2, M2, PROT_NONE, true).ok());
  EXPECT_EQ(pt.translate(M2 + 7 * P)->pa, 0x90000000u);
  EXPECT_EQ(pt.translate(M2 + 8 * P)->pa, 0x80000000 + 8 * P);
  EXPECT_FALSE(pt.translate(2 * M2));
  EXPECT_EQ(directory_entries(mem, pt.root()), before);
}

TEST(PageTables, OutOfFramesIsEnomem) {
  BufferMemory mem(2);  // PML4 + one more
  PageTables pt(&mem);
  EXPECT_EQ(pt.map(0x1000, 0, P, RW, true).error(), ENOMEM);
}

// Randomized map/unmap over a 16 MiB window compared against a per-page
// model of {pa, prot}.
TEST(PageTables, RandomizedAgainstPageModel) {
  constexpr uint64_t kPages = 4096;
  const uint64_t base = 0x7f0000000000ull;
  BufferMemory mem(4096);
  PageTables pt(&mem);
  struct Entry {
    bool present = false;
    uint64_t pa = 0;
    int prot = 0;
  };
  std::vector<Entry> model(kPages);
  std::mt19937_64 rng(99);
  const int prots[] = {PROT_NONE, PROT_READ, RW, PROT_READ | PROT_EXEC};
  for (int step = 0; step < 3000; ++step) {
    uint64_t first, n;
    if (rng() % 3 == 0) {  // 2 MiB-ish ranges, whole blocks included
      first = (rng() % 8) * 512;
      n = 512 * (1 + rng() % 2);
      if (rng() % 2) first += rng() % 4, n -= rng() % 4;
    } else {
      first = rng() % kPages;
      n = 1 + rng() % 64;
    }
    n = std::min(n, kPages - first);
    const uint64_t va = base + first * P;
    if (rng() % 4 == 0) {
      ASSERT_TRUE(pt.unmap(va, n * P).ok());
      for (uint64_t i = first; i < first + n; ++i) model[i] = {};
    } else {
      int prot = prots[rng() % 4];
      // Congruent physical address most of the time.
      uint64_t pa = (rng() % 3 ? (va % M2) : (rng() % 512) * P) + M2 * (1 + rng() % 64);
      ASSERT_TRUE(pt.map(va, pa, n * P, prot, true).ok());
      for (uint64_t i = first; i < first + n; ++i)
        model[i] = {prot != PROT_NONE, pa + (i - first) * P, prot};
    }
    if (step % 50 != 49) continue;
    for (uint64_t i = 0; i < kPages; ++i) {
      auto t = pt.translate(base + i * P);
      ASSERT_EQ(t.has_value(), model[i].present) << "page " << i << " step " << step;
      if (!t) continue;
      ASSERT_EQ(t->pa, model[i].pa) << "page " << i;
      ASSERT_EQ(t->flags, PageTables::leaf_flags(model[i].prot, true)) << i;
    }
  }
  // Table frames stay bounded: the directories plus one table per 2 MiB
  // block of the window.
  EXPECT_LE(mem.used(), 3u + kPages / 512);
}

}  // namespace
}  // namespace elfuse
