// AddressSpace tests in the style of Linux tools/testing/vma: each step draws
// the address space as a ruler, one character per page:
//   '.' unmapped; a letter per VMA in address order (a, b, c ...), so a merge
//   shows as one run of the same letter and a split as a change of letter.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <random>
#include <string>
#include <vector>

#include "mm/address_space.h"

namespace elfuse {
namespace {

constexpr uint64_t kBase = 0x100000;
constexpr uint64_t P = kPageSize;
uint64_t pg(uint64_t n) {
  return kBase + n * P;
}

// The ruler for pages [0, pages).
std::string ruler(const AddressSpace& as, uint64_t pages = 12) {
  std::string s(pages, '.');
  char letter = 'a';
  for (const Vma& v : as) {
    for (uint64_t a = v.start; a < v.end; a += P) {
      if (a < kBase) continue;
      uint64_t i = (a - kBase) / P;
      if (i < pages) s[i] = letter;
    }
    ++letter;
  }
  return "|" + s + "|";
}

// The prot of each page: r, w, x combinations as one letter per page
// ('-' none, 'r' R, 'w' RW, 'x' RX, 'a' RWX), '.' unmapped.
std::string prots(const AddressSpace& as, uint64_t pages = 12) {
  std::string s(pages, '.');
  for (uint64_t i = 0; i < pages; ++i) {
    const Vma* v = as.find(pg(i));
    if (!v) continue;
    switch (v->prot) {
      case PROT_NONE:
        s[i] = '-';
        break;
      case PROT_READ:
        s[i] = 'r';
        break;
      case PROT_READ | PROT_WRITE:
        s[i] = 'w';
        break;
      case PROT_READ | PROT_EXEC:
        s[i] = 'x';
        break;
      case kProtRWX:
        s[i] = 'a';
        break;
      default:
        s[i] = '?';
    }
  }
  return "|" + s + "|";
}

Vma anon(uint64_t first, uint64_t pages, int prot = PROT_READ | PROT_WRITE, uint64_t phys = ~0ull) {
  Vma v;
  v.start = pg(first);
  v.end = pg(first + pages);
  v.prot = prot;
  // Default: physical address equal to the virtual one, so neighbours are
  // physically contiguous and merge like Linux anonymous VMAs.
  v.phys = phys == ~0ull ? v.start : phys;
  return v;
}

TEST(AddressSpace, InsertMergesWithNeighbours) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(0, 3)).ok());
  EXPECT_EQ(ruler(as), "|aaa.........|");
  ASSERT_TRUE(as.insert(anon(5, 2)).ok());
  EXPECT_EQ(ruler(as), "|aaa..bb.....|");
  // Fills the hole: all three become one VMA.
  ASSERT_TRUE(as.insert(anon(3, 2)).ok());
  EXPECT_EQ(ruler(as), "|aaaaaaa.....|");
  EXPECT_EQ(as.size(), 1u);
}

TEST(AddressSpace, InsertDoesNotMergeDifferentAttributes) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(0, 2)).ok());
  ASSERT_TRUE(as.insert(anon(2, 2, PROT_READ)).ok());  // prot differs
  Vma heap = anon(4, 2);
  heap.name = "[heap]";
  ASSERT_TRUE(as.insert(heap).ok());                                         // name differs
  ASSERT_TRUE(as.insert(anon(6, 2, PROT_READ | PROT_WRITE, pg(100))).ok());  // phys not contiguous
  Vma limited = anon(8, 2);
  limited.max_prot = PROT_READ | PROT_WRITE;
  ASSERT_TRUE(as.insert(limited).ok());  // max_prot differs
  EXPECT_EQ(ruler(as), "|aabbccddee..|");
  EXPECT_EQ(prots(as), "|wwrrwwwwww..|");
}

// Special mappings (the vDSO's) never merge with a neighbour, even one that
// matches in every other attribute, and a piece split off for a moment
// (protect() with the prot it already has) merges back.
TEST(AddressSpace, SpecialMappingsStayApart) {
  AddressSpace as;
  Vma vvar = anon(2, 4, PROT_READ);
  vvar.name = "[vvar]";
  vvar.special = true;
  vvar.backing = Vma::kHost;
  ASSERT_TRUE(as.insert(vvar).ok());
  Vma same = anon(6, 2, PROT_READ);
  same.name = "[vvar]";
  same.backing = Vma::kHost;
  ASSERT_TRUE(as.insert(same).ok());  // not special: stays apart
  ASSERT_TRUE(as.insert(anon(0, 2, PROT_READ)).ok());
  EXPECT_EQ(ruler(as), "|aabbbbcc....|");
  ASSERT_TRUE(as.protect(pg(2), pg(3), PROT_READ).ok());
  EXPECT_EQ(ruler(as), "|aabbbbcc....|");
  EXPECT_EQ(as.find(pg(3))->start, pg(2));
  EXPECT_TRUE(as.find(pg(3))->special);
}

TEST(AddressSpace, InsertRejectsOverlapAndBadRanges) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(2, 3)).ok());
  EXPECT_EQ(as.insert(anon(4, 2)).error(), EEXIST);
  EXPECT_EQ(as.insert(anon(0, 3)).error(), EEXIST);
  Vma empty = anon(8, 0);
  EXPECT_EQ(as.insert(empty).error(), EINVAL);
  EXPECT_EQ(ruler(as), "|..aaa.......|");
}

TEST(AddressSpace, FileMergeNeedsContiguousOffsets) {
  AddressSpace as;
  Vma a = anon(0, 2);
  a.backing = Vma::kFile;
  a.file_offset = 0;
  Vma b = anon(2, 2);
  b.backing = Vma::kFile;
  b.file_offset = 0x10000;  // not 2 pages further
  ASSERT_TRUE(as.insert(a).ok());
  ASSERT_TRUE(as.insert(b).ok());
  EXPECT_EQ(ruler(as), "|aabb........|");
  Vma c = anon(4, 1);
  c.backing = Vma::kFile;
  c.file_offset = 0x12000;
  ASSERT_TRUE(as.insert(c).ok());
  EXPECT_EQ(ruler(as), "|aabbb.......|");
}

// mlock state: set_lock splits at the edges and merges back only equal
// states (mm/mlock.c mlock_fixup); without merge (fork) pieces stay apart.
TEST(AddressSpace, SetLockSplitsAndMerges) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(0, 8)).ok());
  std::vector<Vma> old = as.set_lock(pg(2), pg(4), Vma::kLocked);
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0].lock, Vma::kUnlocked);
  EXPECT_EQ(ruler(as), "|aabbcccc....|");
  as.set_lock(pg(4), pg(5), Vma::kLockedOnFault);
  EXPECT_EQ(ruler(as), "|aabbcddd....|");
  as.set_lock(pg(4), pg(5), Vma::kLocked);
  EXPECT_EQ(ruler(as), "|aabbbccc....|");
  as.set_lock(pg(2), pg(5), Vma::kUnlocked, /*merge=*/false);
  EXPECT_EQ(ruler(as), "|aabbbccc....|");
  as.set_lock(pg(0), pg(8), Vma::kUnlocked);
  EXPECT_EQ(ruler(as), "|aaaaaaaa....|");
}

// System V shm VMAs never merge, not even the pieces of one attach
// (vm_ops->close: each piece counts in shm_nattch).
TEST(AddressSpace, ShmNeverMerges) {
  AddressSpace as;
  Vma a = anon(0, 4);
  a.backing = Vma::kShm;
  a.flags = MAP_SHARED;
  a.shm_attach = 1;
  ASSERT_TRUE(as.insert(a).ok());
  ASSERT_TRUE(as.protect(pg(1), pg(2), PROT_READ).ok());
  ASSERT_TRUE(as.protect(pg(1), pg(2), PROT_READ | PROT_WRITE).ok());
  EXPECT_EQ(ruler(as), "|abcc........|");
  Vma b = anon(4, 2);
  b.backing = Vma::kShm;
  b.flags = MAP_SHARED;
  b.shm_attach = 1;
  b.file_offset = 4 * P;
  ASSERT_TRUE(as.insert(b).ok());
  EXPECT_EQ(ruler(as), "|abccdd......|");
}

// File VMAs: a split keeps max_prot and shifts file_offset; merging needs
// the same file (dev, ino), the same max_prot and continuing offsets.
TEST(AddressSpace, FileVmaSplitAndMergeKeepMaxProtAndOffset) {
  AddressSpace as;
  Vma f = anon(0, 6);
  f.backing = Vma::kFile;
  f.flags = MAP_SHARED;
  f.prot = PROT_READ;
  f.max_prot = PROT_READ | PROT_EXEC;  // O_RDONLY fd: no write ever
  f.file_dev = 7;
  f.file_ino = 42;
  f.file_offset = 0x100000;
  ASSERT_TRUE(as.insert(f).ok());
  // mprotect of part splits; every piece keeps max_prot; write is EACCES.
  EXPECT_EQ(as.protect(pg(1), pg(3), PROT_READ | PROT_WRITE).error(), EACCES);
  ASSERT_TRUE(as.protect(pg(2), pg(3), PROT_NONE).ok());
  EXPECT_EQ(ruler(as), "|aabccc......|");
  for (const Vma& v : as) {
    EXPECT_EQ(v.max_prot, PROT_READ | PROT_EXEC);
    EXPECT_EQ(v.file_offset, 0x100000 + (v.start - pg(0)));
    EXPECT_EQ(v.file_ino, 42u);
  }
  EXPECT_EQ(as.protect(pg(4), pg(5), PROT_WRITE).error(), EACCES);
  // munmap of a middle page splits; the tail's offset follows its start.
  auto gone = as.remove(pg(4), pg(5));
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].file_offset, 0x104000u);
  EXPECT_EQ(as.find(pg(5))->file_offset, 0x105000u);
  EXPECT_EQ(as.find(pg(5))->max_prot, PROT_READ | PROT_EXEC);
  // Protecting the split pieces back merges them again.
  ASSERT_TRUE(as.protect(pg(2), pg(3), PROT_READ).ok());
  EXPECT_EQ(ruler(as), "|aaaa.b......|");
  // Putting the page back with the same file and offset merges all.
  Vma back = f.clipped(pg(4), pg(5));
  ASSERT_TRUE(as.insert(back).ok());
  EXPECT_EQ(ruler(as), "|aaaaaa......|");
  // Another file, another max_prot, or a gap in the file: no merge.
  Vma other = f.clipped(pg(0), pg(1));
  other.start = pg(6);
  other.end = pg(7);
  other.phys = pg(6);
  other.file_offset = 0x106000;
  other.file_ino = 43;
  ASSERT_TRUE(as.insert(other).ok());
  Vma wider = other;
  wider.start = pg(7);
  wider.end = pg(8);
  wider.phys = pg(7);
  wider.file_offset = 0x107000;
  wider.file_ino = 43;
  wider.max_prot = kProtRWX;
  ASSERT_TRUE(as.insert(wider).ok());
  EXPECT_EQ(ruler(as), "|aaaaaabc....|");
  // Shared anonymous VMAs (each its own memfd) merge only within one.
  Vma s1 = anon(9, 1);
  s1.backing = Vma::kSharedAnon;
  s1.file_ino = 100;
  Vma s2 = anon(10, 1);
  s2.backing = Vma::kSharedAnon;
  s2.file_ino = 101;
  s2.file_offset = pg(1);
  ASSERT_TRUE(as.insert(s1).ok());
  ASSERT_TRUE(as.insert(s2).ok());
  EXPECT_EQ(ruler(as), "|aaaaaabc.de.|");
}

TEST(AddressSpace, RemoveSplitsAtEdges) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(0, 10)).ok());
  EXPECT_EQ(ruler(as), "|aaaaaaaaaa..|");
  auto gone = as.remove(pg(3), pg(5));
  EXPECT_EQ(ruler(as), "|aaa..bbbbb..|");
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].start, pg(3));
  EXPECT_EQ(gone[0].end, pg(5));
  EXPECT_EQ(gone[0].phys, pg(3));  // phys moves with the split
  // The tail keeps its phys offset.
  EXPECT_EQ(as.find(pg(7))->phys_of(pg(7)), pg(7));
  // Removing across a hole returns both pieces.
  gone = as.remove(pg(2), pg(7));
  EXPECT_EQ(ruler(as), "|aa.....bbb..|");
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_EQ(gone[0].start, pg(2));
  EXPECT_EQ(gone[0].end, pg(3));
  EXPECT_EQ(gone[1].start, pg(5));
  EXPECT_EQ(gone[1].end, pg(7));
  // Removing a hole only: nothing.
  EXPECT_TRUE(as.remove(pg(3), pg(6)).empty());
  EXPECT_EQ(ruler(as), "|aa.....bbb..|");
}

TEST(AddressSpace, ProtectSplitsAndMergesBack) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(0, 8)).ok());
  EXPECT_EQ(ruler(as), "|aaaaaaaa....|");
  auto old = as.protect(pg(2), pg(4), PROT_READ);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(ruler(as), "|aabbcccc....|");
  EXPECT_EQ(prots(as), "|wwrrwwww....|");
  ASSERT_EQ(old->size(), 1u);
  EXPECT_EQ((*old)[0].prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ((*old)[0].start, pg(2));
  // Protecting the next page too: c splits, b grows.
  ASSERT_TRUE(as.protect(pg(4), pg(5), PROT_READ).ok());
  EXPECT_EQ(ruler(as), "|aabbbccc....|");
  // Back to RW: everything merges into one VMA again.
  ASSERT_TRUE(as.protect(pg(2), pg(5), PROT_READ | PROT_WRITE).ok());
  EXPECT_EQ(ruler(as), "|aaaaaaaa....|");
  EXPECT_EQ(as.size(), 1u);
}

TEST(AddressSpace, ProtectAcrossSeveralVmas) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(0, 2, PROT_READ)).ok());
  ASSERT_TRUE(as.insert(anon(2, 2, PROT_READ | PROT_EXEC)).ok());
  ASSERT_TRUE(as.insert(anon(4, 2, PROT_NONE)).ok());
  EXPECT_EQ(ruler(as), "|aabbcc......|");
  auto old = as.protect(pg(1), pg(5), PROT_READ | PROT_WRITE);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(ruler(as), "|abbbbc......|");
  EXPECT_EQ(prots(as), "|rwwww-......|");
  ASSERT_EQ(old->size(), 3u);
  EXPECT_EQ((*old)[0].prot, PROT_READ);
  EXPECT_EQ((*old)[1].prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ((*old)[2].prot, PROT_NONE);
  EXPECT_EQ((*old)[2].end, pg(5));
}

TEST(AddressSpace, ProtectHoleIsEnomemAndChangesNothing) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(0, 3)).ok());
  ASSERT_TRUE(as.insert(anon(4, 3)).ok());
  EXPECT_EQ(ruler(as), "|aaa.bbb.....|");
  EXPECT_EQ(as.protect(pg(1), pg(6), PROT_READ).error(), ENOMEM);
  EXPECT_EQ(ruler(as), "|aaa.bbb.....|");
  EXPECT_EQ(prots(as), "|www.www.....|");
  EXPECT_EQ(as.protect(pg(8), pg(9), PROT_READ).error(), ENOMEM);
}

TEST(AddressSpace, ProtectBeyondMaxProtIsEacces) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(0, 3, PROT_READ)).ok());
  Vma ro = anon(3, 3, PROT_READ);
  ro.max_prot = PROT_READ | PROT_EXEC;
  ASSERT_TRUE(as.insert(ro).ok());
  EXPECT_EQ(ruler(as), "|aaabbb......|");
  // The first VMA would allow it, the second not: nothing changes.
  EXPECT_EQ(as.protect(pg(0), pg(6), PROT_READ | PROT_WRITE).error(), EACCES);
  EXPECT_EQ(prots(as), "|rrrrrr......|");
  EXPECT_EQ(ruler(as), "|aaabbb......|");
  ASSERT_TRUE(as.protect(pg(4), pg(5), PROT_READ | PROT_EXEC).ok());
  EXPECT_EQ(ruler(as), "|aaabcd......|");
  EXPECT_EQ(prots(as), "|rrrrxr......|");
}

TEST(AddressSpace, FindAndRanges) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(2, 2)).ok());
  ASSERT_TRUE(as.insert(anon(6, 2, PROT_READ)).ok());
  EXPECT_EQ(ruler(as), "|..aa..bb....|");
  EXPECT_EQ(as.find(pg(1)), nullptr);
  EXPECT_EQ(as.find(pg(2))->start, pg(2));
  EXPECT_EQ(as.find(pg(4) - 1)->start, pg(2));
  EXPECT_EQ(as.find(pg(4)), nullptr);
  EXPECT_EQ(as.find_next(pg(4))->start, pg(6));
  EXPECT_EQ(as.find_next(pg(8)), nullptr);
  EXPECT_EQ(as.find_prev(pg(6))->start, pg(2));
  EXPECT_TRUE(as.range_free(pg(4), pg(6)));
  EXPECT_FALSE(as.range_free(pg(4), pg(7)));
  EXPECT_TRUE(as.range_fully_mapped(pg(2), pg(4)));
  EXPECT_FALSE(as.range_fully_mapped(pg(2), pg(7)));
  auto pcs = as.pieces(pg(3), pg(7));
  ASSERT_EQ(pcs.size(), 2u);
  EXPECT_EQ(pcs[0].start, pg(3));
  EXPECT_EQ(pcs[0].phys, pg(3));
  EXPECT_EQ(pcs[1].end, pg(7));
}

TEST(AddressSpace, GapSearchTopDown) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(2, 2)).ok());
  ASSERT_TRUE(as.insert(anon(9, 1)).ok());
  EXPECT_EQ(ruler(as), "|..aa.....b..|");
  // Highest free 2 pages below page 12: pages 10-11.
  EXPECT_EQ(as.find_gap_top_down(2 * P, pg(0), pg(12)), pg(10));
  // 3 pages: only the hole 4..8 (the top gap has 2 pages).
  EXPECT_EQ(as.find_gap_top_down(3 * P, pg(0), pg(12)), pg(6));
  // 5 pages fit exactly in 4..9.
  EXPECT_EQ(as.find_gap_top_down(5 * P, pg(0), pg(12)), pg(4));
  EXPECT_EQ(as.find_gap_top_down(6 * P, pg(0), pg(12)), std::nullopt);
  // The low bound counts: nothing between page 3 and page 5 that is 2 pages long.
  EXPECT_EQ(as.find_gap_top_down(2 * P, pg(3), pg(5)), std::nullopt);
  EXPECT_EQ(as.find_gap_top_down(1 * P, pg(3), pg(5)), pg(4));
  // Alignment with an offset: kBase = 0x100000 is 256 pages, aligned to 4 pages.
  EXPECT_EQ(as.find_gap_top_down(P, pg(0), pg(12), 4 * P, P), pg(5));
  EXPECT_EQ(as.find_gap_top_down(2 * P, pg(0), pg(12), 8 * P), pg(0));
  EXPECT_EQ(as.find_gap_top_down(2 * P, pg(1), pg(12), 8 * P), std::nullopt);
  EXPECT_EQ(as.find_gap_top_down(P, pg(0), pg(12), 8 * P), pg(8));
  // A VMA straddling the high bound.
  EXPECT_EQ(as.find_gap_top_down(P, pg(0), pg(3)), pg(1));
}

// ---------------------------------------------------------------------------
// Randomized comparison against a per-page model.

struct PageModel {
  bool mapped = false;
  int prot = 0;
  int max_prot = kProtRWX;
  uint64_t phys = 0;
  int name = 0;
};

class Model {
 public:
  explicit Model(size_t pages) : p_(pages) {}
  bool free(size_t a, size_t b) const {
    for (size_t i = a; i < b; ++i)
      if (p_[i].mapped) return false;
    return true;
  }
  bool mapped(size_t a, size_t b) const {
    for (size_t i = a; i < b; ++i)
      if (!p_[i].mapped) return false;
    return true;
  }
  std::vector<PageModel> p_;
};

void check_equal(const AddressSpace& as, const Model& m) {
  for (size_t i = 0; i < m.p_.size(); ++i) {
    const Vma* v = as.find(pg(i));
    const PageModel& pm = m.p_[i];
    ASSERT_EQ(v != nullptr, pm.mapped) << "page " << i;
    if (!v) continue;
    ASSERT_EQ(v->prot, pm.prot) << "page " << i;
    ASSERT_EQ(v->max_prot, pm.max_prot) << "page " << i;
    ASSERT_EQ(v->phys_of(pg(i)), pm.phys) << "page " << i;
    ASSERT_EQ(v->name, pm.name ? "[heap]" : "") << "page " << i;
  }
  // Invariants: sorted, disjoint, and no two neighbours left unmerged.
  const Vma* prev = nullptr;
  for (const Vma& v : as) {
    ASSERT_LT(v.start, v.end);
    if (prev) {
      ASSERT_LE(prev->end, v.start);
      ASSERT_FALSE(vmas_mergeable(*prev, v)) << "unmerged at " << std::hex << v.start;
    }
    prev = &v;
  }
}

TEST(AddressSpace, RandomizedAgainstPageModel) {
  constexpr size_t kPages = 64;
  std::mt19937_64 rng(12345);
  const int prots_list[] = {PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC};
  for (int round = 0; round < 20; ++round) {
    AddressSpace as;
    Model m(kPages);
    for (int step = 0; step < 500; ++step) {
      size_t a = rng() % kPages;
      size_t b = a + 1 + rng() % std::min<size_t>(8, kPages - a);
      if (b > kPages) b = kPages;
      int op = rng() % 3;
      if (op == 0) {
        Vma v = anon(a, b - a, prots_list[rng() % 4]);
        // Physically contiguous with the virtual address (merges) or not.
        v.phys = (rng() % 4) ? v.start : pg(1000 + rng() % 1000);
        v.max_prot = (rng() % 5) ? kProtRWX : (PROT_READ | PROT_EXEC);
        if ((v.prot & ~v.max_prot) != 0) v.prot = PROT_READ;
        int name = rng() % 6 == 0;
        if (name) v.name = "[heap]";
        auto r = as.insert(v);
        if (m.free(a, b)) {
          ASSERT_TRUE(r.ok());
          for (size_t i = a; i < b; ++i)
            m.p_[i] = {true, v.prot, v.max_prot, v.phys + (i - a) * P, name};
        } else {
          ASSERT_EQ(r.error(), EEXIST);
        }
      } else if (op == 1) {
        auto gone = as.remove(pg(a), pg(b));
        size_t n = 0;
        for (const Vma& v : gone) n += v.len() / P;
        size_t expect = 0;
        for (size_t i = a; i < b; ++i) {
          expect += m.p_[i].mapped;
          m.p_[i] = PageModel{};
        }
        ASSERT_EQ(n, expect);
      } else {
        int prot = prots_list[rng() % 4];
        auto r = as.protect(pg(a), pg(b), prot);
        if (!m.mapped(a, b)) {
          ASSERT_EQ(r.error(), ENOMEM);
        } else {
          bool denied = false;
          for (size_t i = a; i < b; ++i) denied |= (prot & ~m.p_[i].max_prot) != 0;
          if (denied) {
            ASSERT_EQ(r.error(), EACCES);
          } else {
            ASSERT_TRUE(r.ok());
            size_t n = 0;
            for (const Vma& v : *r) {
              for (uint64_t x = v.start; x < v.end; x += P)
                ASSERT_EQ(v.prot, m.p_[(x - kBase) / P].prot);
              n += v.len() / P;
            }
            ASSERT_EQ(n, b - a);
            for (size_t i = a; i < b; ++i) m.p_[i].prot = prot;
          }
        }
      }
      check_equal(as, m);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace elfuse

namespace elfuse {
namespace {

// madvise's fork advice: a flag on part of a VMA splits it; clearing it
// merges the pieces again; every piece keeps its flags through a split.
TEST(AddressSpace, ForkFlagsSplitAndMerge) {
  AddressSpace as;
  ASSERT_TRUE(as.insert(anon(0, 6)).ok());
  as.set_flag(pg(2), pg(4), &Vma::wipe_on_fork, true);
  EXPECT_EQ(ruler(as), "|aabbcc......|");
  EXPECT_TRUE(as.find(pg(3))->wipe_on_fork);
  EXPECT_FALSE(as.find(pg(1))->wipe_on_fork);
  as.set_flag(pg(3), pg(5), &Vma::dont_fork, true);
  EXPECT_EQ(ruler(as), "|aabcde......|");
  EXPECT_TRUE(as.find(pg(3))->wipe_on_fork);
  EXPECT_TRUE(as.find(pg(3))->dont_fork);
  // An mprotect split keeps both flags on each piece.
  ASSERT_TRUE(as.protect(pg(3), pg(4), PROT_READ).ok());
  EXPECT_TRUE(as.find(pg(3))->dont_fork);
  ASSERT_TRUE(as.protect(pg(3), pg(4), PROT_READ | PROT_WRITE).ok());
  as.set_flag(pg(0), pg(6), &Vma::dont_fork, false);
  as.set_flag(pg(0), pg(6), &Vma::wipe_on_fork, false);
  EXPECT_EQ(ruler(as), "|aaaaaa......|");
  EXPECT_EQ(as.size(), 1u);
}

}  // namespace
}  // namespace elfuse
