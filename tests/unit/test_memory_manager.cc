#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "mm/memory_manager.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

namespace elfuse {
namespace {

constexpr uint64_t P = kPageSize;
constexpr uint64_t M2 = kHugePageSize;
constexpr uint64_t kPhys = 1ull << 30;
constexpr uint64_t kTableEnd = 16ull << 20;
constexpr int RW = PROT_READ | PROT_WRITE;
constexpr int kAnonPriv = MAP_PRIVATE | MAP_ANONYMOUS;

struct RecordingSync : ShadowSync {
  std::vector<std::pair<uint64_t, uint64_t>> narrowed_runs, freed_runs;
  void narrowed(uint64_t pa, uint64_t len) override { narrowed_runs.push_back({pa, len}); }
  void freed(uint64_t pa, uint64_t len) override { freed_runs.push_back({pa, len}); }
};

class MemoryManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mem_ = static_cast<uint8_t*>(
        ::mmap(nullptr, kPhys, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    ASSERT_NE(mem_, MAP_FAILED);
    Layout l{};
    l.task_size = 0x7ffffffff000ull;  // the host's TASK_SIZE, so errno compare 1:1
    l.mmap_base = 0x7f0000000000ull;
    l.mmap_min = 0x10000;
    l.stack_top = 0x7ffff0000000ull;
    l.brk_start = l.brk = 0x601000;
    mm_ = std::make_unique<MemoryManager>(mem_, kPhys,
                                          PhysAllocator(kPhys, 0, kTableEnd, kTableEnd), &sync_, l);
  }
  void TearDown() override {
    mm_.reset();
    ::munmap(mem_, kPhys);
  }

  // Every VMA's pages are mapped to its run with its prot; runs of different
  // VMAs do not overlap.
  void check_consistent() {
    std::map<uint64_t, uint64_t> runs;
    for (const Vma& v : mm_->snapshot()) {
      for (uint64_t a = v.start; a < v.end; a += (v.len() > 64 * P ? 61 * P : P)) {
        auto t = mm_->page_tables().translate(a);
        if (v.prot == PROT_NONE) {
          ASSERT_FALSE(t) << std::hex << a;
          continue;
        }
        ASSERT_TRUE(t) << std::hex << a;
        ASSERT_EQ(t->pa, v.phys_of(a));
        ASSERT_EQ(t->flags, PageTables::leaf_flags(v.prot, true));
      }
      runs[v.phys] = v.phys + v.len();
    }
    uint64_t prev_end = 0;
    for (auto [s, e] : runs) {
      ASSERT_GE(s, prev_end);
      prev_end = e;
    }
  }

  uint64_t map_anon(uint64_t len, int prot = RW, uint64_t addr = 0, int flags = kAnonPriv) {
    auto r = mm_->mmap(addr, len, prot, flags, -1, 0);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.value_or(0);
  }

  uint8_t* mem_ = nullptr;
  RecordingSync sync_;
  std::unique_ptr<MemoryManager> mm_;
};

TEST_F(MemoryManagerTest, AnonymousMmapIsZeroedMappedAndAccessible) {
  uint64_t a = map_anon(10000);
  EXPECT_EQ(a % P, 0u);
  EXPECT_LT(a, 0x7f0000000000ull);
  std::optional<Vma> v = mm_->find_vma(a);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->len(), 3 * P);
  char buf[100] = {1};
  ASSERT_TRUE(mm_->copy_in(buf, a + 10, sizeof buf).ok());
  EXPECT_EQ(buf[0], 0);
  ASSERT_TRUE(mm_->copy_out(a + 3 * P - 5, "hello", 5).ok());
  EXPECT_EQ(mm_->copy_out(a + 3 * P - 4, "hello", 5).error(), EFAULT);
  ASSERT_TRUE(mm_->copy_in(buf, a + 3 * P - 5, 5).ok());
  EXPECT_EQ(std::memcmp(buf, "hello", 5), 0);
  check_consistent();
}

TEST_F(MemoryManagerTest, LargeMappingsAre2MiBAligned) {
  uint64_t a = map_anon(8 * M2);
  EXPECT_EQ(a % M2, 0u);
  auto t = mm_->page_tables().translate(a + M2);
  ASSERT_TRUE(t);
  check_consistent();
}

TEST_F(MemoryManagerTest, HintsAreUsedWhenFree) {
  EXPECT_EQ(map_anon(P, RW, 0x200000000ull), 0x200000000ull);
  // Taken: somewhere else.
  uint64_t b = map_anon(P, RW, 0x200000000ull);
  EXPECT_NE(b, 0x200000000ull);
  // Unaligned hints are rounded down; hints below mmap_min are raised.
  EXPECT_EQ(map_anon(P, RW, 0x300000123ull), 0x300000000ull);
  EXPECT_EQ(map_anon(P, RW, 0x1000), 0x10000u);
}

// Each case fails on the host too: compare errno with the host kernel.
TEST_F(MemoryManagerTest, MmapErrorsMatchTheHost) {
  int dir = open("/", O_RDONLY | O_DIRECTORY);
  char tmpl[] = "/tmp/elfuse_mm_XXXXXX";
  int wfd = mkstemp(tmpl);
  ASSERT_GE(wfd, 0);
  unlink(tmpl);
  int wronly = open(("/proc/self/fd/" + std::to_string(wfd)).c_str(), O_WRONLY);
  struct Case {
    uint64_t addr, len;
    int prot, flags, fd;
    uint64_t off;
  };
  const uint64_t task = 0x7ffffffff000ull;
  const Case cases[] = {
      {0, 0, RW, kAnonPriv, -1, 0},                                   // len 0
      {0, P, RW, kAnonPriv, -1, 1},                                   // offset unaligned
      {0, P, RW, MAP_ANONYMOUS, -1, 0},                               // no type
      {0, P, RW, MAP_ANONYMOUS | 0x03, -1, 0},                        // SHARED_VALIDATE anon
      {0, P, RW, MAP_ANONYMOUS | MAP_SHARED | MAP_GROWSDOWN, -1, 0},  // shared growsdown
      {0x10001, P, RW, kAnonPriv | MAP_FIXED, -1, 0},                 // fixed unaligned
      {task, P, RW, kAnonPriv | MAP_FIXED, -1, 0},                    // fixed at TASK_SIZE
      {0, ~0ull, RW, kAnonPriv, -1, 0},                               // len wraps
      {0, ~0ull - 2 * P, RW, kAnonPriv, -1, 0},                       // len > TASK_SIZE
      {0, task + P, RW, kAnonPriv, -1, 0},
      {0, P, RW, MAP_PRIVATE, 999, 0},            // bad fd
      {0, P, PROT_READ, MAP_PRIVATE, dir, 0},     // directory
      {0, P, PROT_READ, MAP_PRIVATE, wronly, 0},  // write-only file
      {0, P, RW, MAP_SHARED, wronly, 0},
      {0, P, PROT_READ, MAP_PRIVATE, wfd, 0x7ffffffffffff000ull},  // past MAX_LFS_FILESIZE
      {0, P, PROT_READ, 0, wfd, 0},                                // file, no type
  };
  int i = 0;
  for (const Case& c : cases) {
    void* h = ::mmap(reinterpret_cast<void*>(c.addr), c.len, c.prot, c.flags, c.fd,
                     static_cast<off_t>(c.off));
    ASSERT_EQ(h, MAP_FAILED) << "case " << i;
    int host_errno = errno;
    auto r = mm_->mmap(c.addr, c.len, c.prot, c.flags, c.fd, c.off);
    ASSERT_FALSE(r.ok()) << "case " << i;
    EXPECT_EQ(r.error(), host_errno) << "case " << i << ": " << strerror(host_errno);
    ++i;
  }
  close(dir);
  close(wfd);
  close(wronly);
}

TEST_F(MemoryManagerTest, FixedBelowMmapMinIsEperm) {
  EXPECT_EQ(mm_->mmap(0x1000, P, RW, kAnonPriv | MAP_FIXED, -1, 0).error(), EPERM);
}

TEST_F(MemoryManagerTest, MapFixedReplacesAndNoreplaceIsEexist) {
  const uint64_t a = 0x100000000ull;
  EXPECT_EQ(map_anon(4 * P, RW, a, kAnonPriv | MAP_FIXED), a);
  ASSERT_TRUE(mm_->copy_out(a + P, "x", 1).ok());
  EXPECT_EQ(mm_->mmap(a + 3 * P, 2 * P, RW, kAnonPriv | MAP_FIXED_NOREPLACE, -1, 0).error(),
            EEXIST);
  sync_.freed_runs.clear();
  EXPECT_EQ(map_anon(2 * P, PROT_READ, a + P, kAnonPriv | MAP_FIXED), a + P);
  EXPECT_EQ(sync_.freed_runs.size(), 1u);
  char c = 1;
  ASSERT_TRUE(mm_->copy_in(&c, a + P, 1).ok());
  EXPECT_EQ(c, 0);  // a fresh mapping
  EXPECT_EQ(mm_->copy_out(a + P, "x", 1).error(), EFAULT);
  EXPECT_EQ(mm_->snapshot().size(), 3u);
  // NOREPLACE where free works.
  EXPECT_EQ(map_anon(P, RW, a + 8 * P, kAnonPriv | MAP_FIXED_NOREPLACE), a + 8 * P);
  check_consistent();
}

TEST_F(MemoryManagerTest, MunmapErrorsAndSemantics) {
  EXPECT_EQ(mm_->munmap(0x10001, P).error(), EINVAL);
  EXPECT_EQ(mm_->munmap(0x10000, 0).error(), EINVAL);
  EXPECT_EQ(mm_->munmap(0x7ffffffff000ull, 2 * P).error(), EINVAL);
  EXPECT_TRUE(mm_->munmap(0x10000, P).ok());  // nothing mapped: fine
  uint64_t a = map_anon(4 * P);
  sync_.freed_runs.clear();
  ASSERT_TRUE(mm_->munmap(a + P, P + 1).ok());  // length rounds up
  EXPECT_EQ(sync_.freed_runs.size(), 1u);
  EXPECT_EQ(sync_.freed_runs[0].second, 2 * P);
  char c;
  EXPECT_TRUE(mm_->copy_in(&c, a, 1).ok());
  EXPECT_EQ(mm_->copy_in(&c, a + P, 1).error(), EFAULT);
  EXPECT_FALSE(mm_->page_tables().translate(a + 2 * P));
  EXPECT_TRUE(mm_->copy_in(&c, a + 3 * P, 1).ok());
  check_consistent();
}

TEST_F(MemoryManagerTest, Mprotect) {
  uint64_t a = map_anon(4 * P);
  EXPECT_EQ(mm_->mprotect(a + 1, P, PROT_READ).error(), EINVAL);
  EXPECT_TRUE(mm_->mprotect(a, 0, PROT_READ).ok());
  EXPECT_EQ(mm_->mprotect(a, P, 0x10).error(), EINVAL);
  EXPECT_EQ(mm_->mprotect(a, ~0ull, PROT_READ).error(), ENOMEM);
  EXPECT_EQ(mm_->mprotect(a, 5 * P, PROT_READ).error(), ENOMEM);  // hole after
  EXPECT_EQ(mm_->mprotect(a, P, PROT_READ | PROT_GROWSDOWN).error(), EINVAL);
  sync_.narrowed_runs.clear();
  ASSERT_TRUE(mm_->mprotect(a + P, P, PROT_READ).ok());
  EXPECT_EQ(sync_.narrowed_runs.size(), 1u);
  EXPECT_EQ(mm_->copy_out(a + P, "x", 1).error(), EFAULT);
  EXPECT_TRUE(mm_->copy_out(a, "x", 1).ok());
  EXPECT_EQ(mm_->snapshot().size(), 3u);
  sync_.narrowed_runs.clear();
  ASSERT_TRUE(mm_->mprotect(a + P, P, RW).ok());  // widening: no sync
  EXPECT_TRUE(sync_.narrowed_runs.empty());
  EXPECT_EQ(mm_->snapshot().size(), 1u);
  ASSERT_TRUE(mm_->mprotect(a, 4 * P, PROT_NONE).ok());
  EXPECT_FALSE(mm_->page_tables().translate(a));
  char c;
  EXPECT_EQ(mm_->copy_in(&c, a, 1).error(), EFAULT);
  // Write-only and exec-only memory is readable for the kernel on x86.
  ASSERT_TRUE(mm_->mprotect(a, P, PROT_WRITE).ok());
  ASSERT_TRUE(mm_->mprotect(a + P, P, PROT_EXEC).ok());
  EXPECT_TRUE(mm_->copy_in(&c, a, 1).ok());
  EXPECT_TRUE(mm_->copy_in(&c, a + P, 1).ok());
  EXPECT_EQ(mm_->copy_out(a + P, "x", 1).error(), EFAULT);
  check_consistent();
}

TEST_F(MemoryManagerTest, MprotectGrowsdown) {
  const uint64_t a = 0x100000000ull;
  ASSERT_TRUE(mm_->map_fixed_anon(a, 4 * P, RW, "[stack]", MAP_GROWSDOWN).ok());
  ASSERT_TRUE(mm_->mprotect(a + 2 * P, P, PROT_READ | PROT_GROWSDOWN).ok());
  EXPECT_EQ(mm_->find_vma(a)->prot, PROT_READ);
  EXPECT_EQ(mm_->find_vma(a + 3 * P)->prot, RW);
  uint64_t b = map_anon(2 * P);
  EXPECT_EQ(mm_->mprotect(b + P, P, PROT_READ | PROT_GROWSDOWN).error(), EINVAL);
}

TEST_F(MemoryManagerTest, MremapErrors) {
  uint64_t a = map_anon(4 * P);
  EXPECT_EQ(mm_->mremap(a, P, 2 * P, 8, 0).error(), EINVAL);
  EXPECT_EQ(mm_->mremap(a, P, 2 * P, MREMAP_FIXED, a + 8 * P).error(), EINVAL);
  EXPECT_EQ(mm_->mremap(a + 1, P, 2 * P, MREMAP_MAYMOVE, 0).error(), EINVAL);
  EXPECT_EQ(mm_->mremap(a, P, 0, MREMAP_MAYMOVE, 0).error(), EINVAL);
  EXPECT_EQ(mm_->mremap(a, P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, a + 8 * P).error(), EINVAL);
  EXPECT_EQ(mm_->mremap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + P).error(),
            EINVAL);  // overlap
  EXPECT_EQ(mm_->mremap(0x10000, P, 2 * P, MREMAP_MAYMOVE, 0).error(), EFAULT);
  EXPECT_EQ(mm_->mremap(a, 8 * P, 9 * P, MREMAP_MAYMOVE, 0).error(), EFAULT);  // spans past VMA
  EXPECT_EQ(mm_->mremap(a, 0, P, MREMAP_MAYMOVE, 0).error(), EINVAL);          // dup of private
  // Cannot grow in place (next page taken) and may not move.
  map_anon(P, RW, a + 4 * P, kAnonPriv | MAP_FIXED);
  EXPECT_EQ(mm_->mremap(a, 4 * P, 5 * P, 0, 0).error(), ENOMEM);
}

TEST_F(MemoryManagerTest, MremapShrinkGrowMove) {
  uint64_t a = map_anon(4 * P, RW, 0x100000000ull);
  ASSERT_TRUE(mm_->copy_out(a, "abc", 3).ok());
  ASSERT_TRUE(mm_->copy_out(a + 3 * P, "xyz", 3).ok());
  // Shrink.
  EXPECT_EQ(mm_->mremap(a, 4 * P, 3 * P, 0, 0).value(), a);
  char c;
  EXPECT_EQ(mm_->copy_in(&c, a + 3 * P, 1).error(), EFAULT);
  // Grow in place.
  EXPECT_EQ(mm_->mremap(a, 3 * P, 6 * P, 0, 0).value(), a);
  EXPECT_EQ(mm_->snapshot().size(), 1u);
  EXPECT_TRUE(mm_->copy_in(&c, a + 5 * P, 1).ok());
  EXPECT_EQ(c, 0);
  // Grow blocked by a neighbour: moves.
  map_anon(P, RW, a + 6 * P, kAnonPriv | MAP_FIXED);
  auto m = mm_->mremap(a, 6 * P, 600 * P, MREMAP_MAYMOVE, 0);
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m.value(), a);
  char buf[3];
  ASSERT_TRUE(mm_->copy_in(buf, m.value(), 3).ok());
  EXPECT_EQ(std::memcmp(buf, "abc", 3), 0);
  EXPECT_EQ(mm_->copy_in(&c, a, 1).error(), EFAULT);
  check_consistent();
  // Move to a fixed address, same size: keeps the run, says "narrowed".
  std::optional<Vma> v = mm_->find_vma(m.value());
  const uint64_t pa = v->phys;
  sync_.narrowed_runs.clear();
  sync_.freed_runs.clear();
  const uint64_t dst = 0x200000000ull;
  map_anon(P, RW, dst + P, kAnonPriv | MAP_FIXED);  // replaced by the move
  EXPECT_EQ(mm_->mremap(m.value(), 600 * P, 600 * P, MREMAP_MAYMOVE | MREMAP_FIXED, dst).value(),
            dst);
  EXPECT_EQ(mm_->find_vma(dst)->phys, pa);
  EXPECT_EQ(sync_.narrowed_runs.size(), 1u);
  EXPECT_EQ(sync_.freed_runs.size(), 1u);  // the page that was at dst + P
  ASSERT_TRUE(mm_->copy_in(buf, dst, 3).ok());
  EXPECT_EQ(std::memcmp(buf, "abc", 3), 0);
  check_consistent();
}

TEST_F(MemoryManagerTest, MremapMoveOfTheMiddleOfAVma) {
  uint64_t a = map_anon(8 * P, RW, 0x100000000ull);
  for (int i = 0; i < 8; ++i) {
    char c = 'a' + i;
    ASSERT_TRUE(mm_->copy_out(a + i * P, &c, 1).ok());
  }
  auto m = mm_->mremap(a + 2 * P, 2 * P, 5 * P, MREMAP_MAYMOVE, 0);
  ASSERT_TRUE(m.ok());
  char c;
  ASSERT_TRUE(mm_->copy_in(&c, m.value() + P, 1).ok());
  EXPECT_EQ(c, 'd');
  EXPECT_EQ(mm_->copy_in(&c, a + 2 * P, 1).error(), EFAULT);
  ASSERT_TRUE(mm_->copy_in(&c, a + 4 * P, 1).ok());
  EXPECT_EQ(c, 'e');
  check_consistent();
}

TEST_F(MemoryManagerTest, MremapDontunmap) {
  uint64_t a = map_anon(2 * P, RW, 0x100000000ull);
  ASSERT_TRUE(mm_->copy_out(a, "q", 1).ok());
  auto m = mm_->mremap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
  ASSERT_TRUE(m.ok());
  char c = 1;
  ASSERT_TRUE(mm_->copy_in(&c, a, 1).ok());
  EXPECT_EQ(c, 0);  // old range: still mapped, empty
  ASSERT_TRUE(mm_->copy_in(&c, m.value(), 1).ok());
  EXPECT_EQ(c, 'q');
  check_consistent();
}

// RLIMIT_AS and RLIMIT_DATA of the guest (mm/guest_limits.h), as
// mm/mmap.c may_expand_vm and sys_brk's check_data_rlimit count them.
TEST_F(MemoryManagerTest, GuestRlimitsAsAndData) {
  GuestRlimits limits;
  mm_->set_limits(&limits);
  limits.set(RLIMIT_DATA, 64 * P, kRlimInfinity);
  // Data: private writable. Read-only and shared mappings are not data.
  EXPECT_EQ(mm_->mmap(0, 65 * P, RW, kAnonPriv, -1, 0).error(), ENOMEM);
  auto ro = mm_->mmap(0, 128 * P, PROT_READ, kAnonPriv, -1, 0);
  ASSERT_TRUE(ro.ok());
  EXPECT_TRUE(mm_->mmap(0, 128 * P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0).ok());
  auto d = mm_->mmap(0, 60 * P, RW, kAnonPriv, -1, 0);
  ASSERT_TRUE(d.ok());
  // mprotect turning memory into data; mremap growing data.
  EXPECT_EQ(mm_->mprotect(*ro, 8 * P, RW).error(), ENOMEM);
  EXPECT_TRUE(mm_->mprotect(*ro, 4 * P, RW).ok());
  EXPECT_EQ(mm_->mremap(*d, 60 * P, 61 * P, MREMAP_MAYMOVE, 0).error(), ENOMEM);
  // MAP_FIXED over data replaces it: no growth.
  EXPECT_TRUE(mm_->mmap(*d, 60 * P, RW, kAnonPriv | MAP_FIXED, -1, 0).ok());
  // brk: the heap against the limit, even when only it grows.
  const uint64_t start = mm_->brk(0);
  EXPECT_EQ(mm_->brk(start + 65 * P), start);
  // Soft 0, hard larger: up to the hard limit (valgrind).
  limits.set(RLIMIT_DATA, 0, 200 * P);
  EXPECT_TRUE(mm_->mmap(0, 4 * P, RW, kAnonPriv, -1, 0).ok());
  EXPECT_EQ(mm_->mmap(0, 200 * P, RW, kAnonPriv, -1, 0).error(), ENOMEM);
  limits.set(RLIMIT_DATA, kRlimInfinity, kRlimInfinity);
  // Address space: everything counts.
  uint64_t total = 0;
  for (const Vma& v : mm_->snapshot()) total += v.len();
  limits.set(RLIMIT_AS, total + 16 * P, kRlimInfinity);
  EXPECT_TRUE(mm_->mmap(0, 16 * P, PROT_NONE, kAnonPriv, -1, 0).ok());
  EXPECT_EQ(mm_->mmap(0, P, PROT_NONE, kAnonPriv, -1, 0).error(), ENOMEM);
  EXPECT_EQ(mm_->brk(start + P), start);
  check_consistent();
  mm_->set_limits(nullptr);
}

TEST_F(MemoryManagerTest, Brk) {
  const uint64_t start = 0x601000;
  EXPECT_EQ(mm_->brk(0), start);
  EXPECT_EQ(mm_->brk(start - 1), start);
  EXPECT_EQ(mm_->brk(start + 100), start + 100);
  std::optional<Vma> v = mm_->find_vma(start);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->name, "[heap]");
  ASSERT_TRUE(mm_->copy_out(start + 50, "h", 1).ok());
  EXPECT_EQ(mm_->brk(start + 64 * P), start + 64 * P);
  EXPECT_EQ(mm_->snapshot().size(), 1u);
  char c;
  ASSERT_TRUE(mm_->copy_in(&c, start + 50, 1).ok());
  EXPECT_EQ(c, 'h');
  // Shrink unmaps.
  EXPECT_EQ(mm_->brk(start + P), start + P);
  EXPECT_EQ(mm_->copy_in(&c, start + 2 * P, 1).error(), EFAULT);
  // A mapping in the way (one page of gap required): fails, returns old brk.
  map_anon(P, RW, start + 10 * P, kAnonPriv | MAP_FIXED);
  EXPECT_EQ(mm_->brk(start + 9 * P + 1), start + P);
  EXPECT_EQ(mm_->brk(start + 9 * P), start + 9 * P);
  // Growing when the physical run cannot grow in place moves it.
  EXPECT_EQ(mm_->brk(start + P), start + P);
  map_anon(P);  // may take physical memory after the heap
  check_consistent();
}

TEST_F(MemoryManagerTest, BrkGrowsAcrossPhysicalNeighbours) {
  const uint64_t start = 0x601000;
  EXPECT_EQ(mm_->brk(start + P), start + P);
  ASSERT_TRUE(mm_->copy_out(start, "z", 1).ok());
  // Occupy the physical page right after the heap's run.
  std::optional<Vma> v = mm_->find_vma(start);
  uint64_t next_pa = v->phys + v->len();
  // "[heap]" mappings are placed low, right after the heap's run.
  ASSERT_TRUE(mm_->map_fixed_anon(0x100000000ull, P, RW, "[heap]").ok());
  std::optional<Vma> w = mm_->find_vma(0x100000000ull);
  ASSERT_EQ(w->phys, next_pa);
  EXPECT_EQ(mm_->brk(start + 3 * P), start + 3 * P);
  EXPECT_EQ(mm_->find_vma(start)->end, start + 3 * P);
  char c;
  ASSERT_TRUE(mm_->copy_in(&c, start, 1).ok());
  EXPECT_EQ(c, 'z');
  check_consistent();
}

TEST_F(MemoryManagerTest, Madvise) {
  uint64_t a = map_anon(4 * P);
  EXPECT_EQ(mm_->madvise(a, P, 12345).error(), EINVAL);
  EXPECT_EQ(mm_->madvise(a + 1, P, MADV_DONTNEED).error(), EINVAL);
  EXPECT_TRUE(mm_->madvise(a, 0, MADV_DONTNEED).ok());
  EXPECT_EQ(mm_->madvise(a, ~0ull, MADV_DONTNEED).error(), EINVAL);
  EXPECT_EQ(mm_->madvise(a, 5 * P, MADV_NORMAL).error(), ENOMEM);
  EXPECT_EQ(mm_->madvise(a, P, MADV_REMOVE).error(), EINVAL);
  for (int adv : {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTFORK,
                  MADV_DOFORK, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP})
    EXPECT_TRUE(mm_->madvise(a, 4 * P, adv).ok()) << adv;
  ASSERT_TRUE(mm_->copy_out(a + P, "d", 1).ok());
  ASSERT_TRUE(mm_->madvise(a, 4 * P, MADV_DONTNEED).ok());
  char c = 1;
  ASSERT_TRUE(mm_->copy_in(&c, a + P, 1).ok());
  EXPECT_EQ(c, 0);
  // Shared anonymous memory keeps its data.
  uint64_t s = map_anon(P, RW, 0, MAP_SHARED | MAP_ANONYMOUS);
  ASSERT_TRUE(mm_->copy_out(s, "s", 1).ok());
  ASSERT_TRUE(mm_->madvise(s, P, MADV_DONTNEED).ok());
  ASSERT_TRUE(mm_->copy_in(&c, s, 1).ok());
  EXPECT_EQ(c, 's');
  EXPECT_EQ(mm_->madvise(s, P, MADV_FREE).error(), EINVAL);
}

// MADV_WIPEONFORK / MADV_DONTFORK: flags on the VMAs; what a forked child
// does with them before it runs (fork_advice_in_child).
TEST_F(MemoryManagerTest, ForkAdvice) {
  uint64_t a = map_anon(3 * P);
  ASSERT_TRUE(mm_->copy_out(a, "a", 1).ok());
  ASSERT_TRUE(mm_->copy_out(a + P, "b", 1).ok());
  ASSERT_TRUE(mm_->copy_out(a + 2 * P, "c", 1).ok());
  ASSERT_TRUE(mm_->madvise(a + P, P, MADV_WIPEONFORK).ok());
  ASSERT_TRUE(mm_->madvise(a + 2 * P, P, MADV_DONTFORK).ok());
  EXPECT_TRUE(mm_->find_vma(a + P)->wipe_on_fork);
  EXPECT_FALSE(mm_->find_vma(a)->wipe_on_fork);
  EXPECT_TRUE(mm_->find_vma(a + 2 * P)->dont_fork);
  EXPECT_EQ(mm_->snapshot().size(), 3u);
  // Shared anonymous memory: no WIPEONFORK; DONTFORK is fine.
  uint64_t s = map_anon(P, RW, 0, MAP_SHARED | MAP_ANONYMOUS);
  EXPECT_EQ(mm_->madvise(s, P, MADV_WIPEONFORK).error(), EINVAL);
  EXPECT_TRUE(mm_->madvise(s, P, MADV_KEEPONFORK).ok());
  mm_->fork_advice_in_child();
  char c = 1;
  ASSERT_TRUE(mm_->copy_in(&c, a, 1).ok());
  EXPECT_EQ(c, 'a');
  ASSERT_TRUE(mm_->copy_in(&c, a + P, 1).ok());
  EXPECT_EQ(c, 0);
  EXPECT_TRUE(mm_->find_vma(a + P)->wipe_on_fork);  // the child keeps the flag
  EXPECT_EQ(mm_->copy_in(&c, a + 2 * P, 1).error(), EFAULT);
  EXPECT_FALSE(mm_->find_vma(a + 2 * P));
  check_consistent();
  // KEEPONFORK merges the pieces again.
  ASSERT_TRUE(mm_->madvise(a + P, P, MADV_KEEPONFORK).ok());
  EXPECT_EQ(mm_->find_vma(a)->end, a + 2 * P);
}

TEST_F(MemoryManagerTest, PrivateFileMapping) {
  char tmpl[] = "/tmp/elfuse_mm_XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  unlink(tmpl);
  std::string data(P + 100, 'f');
  data[P] = 'g';
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  auto r = mm_->mmap(0, 3 * P, PROT_READ, MAP_PRIVATE, fd, P);
  ASSERT_TRUE(r.ok()) << r.error();
  char buf[101];
  ASSERT_TRUE(mm_->copy_in(buf, r.value(), 101).ok());
  EXPECT_EQ(buf[0], 'g');
  EXPECT_EQ(buf[99], 'f');
  EXPECT_EQ(buf[100], 0);  // past EOF
  EXPECT_EQ(mm_->copy_out(r.value(), "w", 1).error(), EFAULT);
  std::optional<Vma> v = mm_->find_vma(r.value());
  EXPECT_EQ(v->backing, Vma::kFile);
  EXPECT_EQ(v->file_offset, P);
  EXPECT_EQ(v->name.rfind("/tmp/elfuse_mm_", 0), 0u);
  // Private and writable: writes stay in memory.
  auto w = mm_->mmap(0, P, RW, MAP_PRIVATE, fd, 0);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(mm_->copy_out(w.value(), "W", 1).ok());
  char f;
  ASSERT_EQ(pread(fd, &f, 1, 0), 1);
  EXPECT_EQ(f, 'f');
  // Pages wholly past the end of the file cannot be read (SIGBUS in the
  // guest, EFAULT for a copy).
  EXPECT_EQ(mm_->copy_in(buf, r.value() + P, 1).error(), EFAULT);
  close(fd);
  check_consistent();
}

// Shared file mappings are host overlays: coherent with pwrite both ways;
// max_prot follows the fd; it survives split, mremap and merge; munmap
// leaves the run anonymous (zero) again.
TEST_F(MemoryManagerTest, SharedFileOverlay) {
  char tmpl[] = "/tmp/elfuse_mm_XXXXXX";
  int rw = mkstemp(tmpl);
  ASSERT_GE(rw, 0);
  std::string data(8 * P, 'a');
  for (int i = 0; i < 8; i++) data[i * P] = static_cast<char>('0' + i);
  ASSERT_EQ(write(rw, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  int ro = open(tmpl, O_RDONLY);
  ASSERT_GE(ro, 0);
  unlink(tmpl);
  EXPECT_EQ(mm_->mmap(0, P, RW, MAP_SHARED, ro, 0).error(), EACCES);
  auto r = mm_->mmap(0, 8 * P, PROT_READ, MAP_SHARED, ro, 0);
  ASSERT_TRUE(r.ok()) << r.error();
  const uint64_t a = r.value();
  std::optional<Vma> v = mm_->find_vma(a);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->backing, Vma::kFile);
  EXPECT_EQ(v->max_prot & PROT_WRITE, 0);
  ASSERT_EQ(pwrite(rw, "X", 1, 3 * P), 1);
  char c = 0;
  ASSERT_TRUE(mm_->copy_in(&c, a + 3 * P, 1).ok());
  EXPECT_EQ(c, 'X');
  EXPECT_EQ(mm_->mprotect(a, 8 * P, RW).error(), EACCES);
  ASSERT_TRUE(mm_->munmap(a + 2 * P, P).ok());
  EXPECT_EQ(mm_->mprotect(a + 3 * P, P, RW).error(), EACCES);
  auto m = mm_->mremap(a + 3 * P, 5 * P, 6 * P, MREMAP_MAYMOVE, 0);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(mm_->mprotect(m.value(), 6 * P, RW).error(), EACCES);
  ASSERT_TRUE(mm_->copy_in(&c, m.value(), 1).ok());
  EXPECT_EQ(c, 'X');
  ASSERT_TRUE(mm_->copy_in(&c, m.value() + 4 * P, 1).ok());
  EXPECT_EQ(c, '7');
  // The sixth page lies wholly past the end of the file: EFAULT, not a
  // SIGBUS in the test.
  EXPECT_EQ(mm_->copy_in(&c, m.value() + 5 * P, 1).error(), EFAULT);
  auto bus = mm_->find_sigbus_page(~0ull);
  ASSERT_TRUE(bus.has_value());
  EXPECT_EQ(*bus, m.value() + 5 * P);
  check_consistent();
  // A writable shared mapping of the O_RDWR fd: stores reach the file.
  auto w = mm_->mmap(0, 2 * P, PROT_READ, MAP_SHARED, rw, 0);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(mm_->copy_out(w.value(), "Y", 1).error(), EFAULT);
  ASSERT_TRUE(mm_->mprotect(w.value(), 2 * P, RW).ok());
  ASSERT_TRUE(mm_->copy_out(w.value() + P, "Y", 1).ok());
  ASSERT_EQ(pread(rw, &c, 1, P), 1);
  EXPECT_EQ(c, 'Y');
  EXPECT_TRUE(mm_->msync(w.value(), 2 * P, MS_SYNC).ok());
  EXPECT_EQ(mm_->msync(w.value() + 1, P, MS_SYNC).error(), EINVAL);
  EXPECT_EQ(mm_->msync(w.value(), P, MS_SYNC | MS_ASYNC).error(), EINVAL);
  // munmap: the run is anonymous again; a new mapping reusing it is zero.
  const uint64_t pa = mm_->find_vma(w.value())->phys;
  ASSERT_TRUE(mm_->munmap(w.value(), 2 * P).ok());
  EXPECT_EQ(mm_->host_phys(pa)[P], 0);
  ASSERT_TRUE(mm_->mprotect(a, P, PROT_NONE).ok());
  ASSERT_TRUE(mm_->mprotect(a, P, PROT_READ).ok());
  check_consistent();
  close(ro);
  close(rw);
}

// Shared anonymous memory is a host memfd over the run: its data survives
// MADV_DONTNEED and it is not mergeable with another shared mapping.
TEST_F(MemoryManagerTest, SharedAnonOverlay) {
  uint64_t a = map_anon(2 * P, RW, 0, MAP_SHARED | MAP_ANONYMOUS);
  std::optional<Vma> v = mm_->find_vma(a);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->backing, Vma::kSharedAnon);
  EXPECT_NE(v->file_ino, 0u);
  ASSERT_TRUE(mm_->copy_out(a + P, "z", 1).ok());
  ASSERT_TRUE(mm_->madvise(a, 2 * P, MADV_DONTNEED).ok());
  char c = 0;
  ASSERT_TRUE(mm_->copy_in(&c, a + P, 1).ok());
  EXPECT_EQ(c, 'z');
  ASSERT_TRUE(mm_->madvise(a, 2 * P, MADV_REMOVE).ok());
  ASSERT_TRUE(mm_->copy_in(&c, a + P, 1).ok());
  EXPECT_EQ(c, 0);
  check_consistent();
}

TEST_F(MemoryManagerTest, CopyInStringAndHostRanges) {
  uint64_t a = map_anon(2 * P, RW, 0x100000000ull);
  map_anon(P, PROT_READ, a + 2 * P, kAnonPriv | MAP_FIXED);
  // A string crossing into the next VMA.
  ASSERT_TRUE(mm_->copy_out(a + 2 * P - 3, "abc", 3).ok());
  auto s = mm_->copy_in_string(a + 2 * P - 3, 100);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value(), "abc");
  EXPECT_EQ(mm_->copy_in_string(a + 2 * P - 3, 3).error(), ENAMETOOLONG);
  EXPECT_EQ(mm_->copy_in_string(a + 2 * P - 3, 4).value(), "abc");
  // No NUL before the end of the mapped memory.
  std::string ones(P, '1');
  ASSERT_TRUE(mm_->mprotect(a + 2 * P, P, RW).ok());
  ASSERT_TRUE(mm_->copy_out(a + 2 * P, ones.data(), P).ok());
  ASSERT_TRUE(mm_->mprotect(a + 2 * P, P, PROT_READ).ok());
  EXPECT_EQ(mm_->copy_in_string(a + 3 * P - 1, 10).error(), EFAULT);
  auto r = mm_->host_ranges(a + P, 2 * P, PROT_READ);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].iov_len, P);
  EXPECT_EQ(mm_->host_ranges(a + P, 2 * P, PROT_WRITE).error(), EFAULT);
  EXPECT_EQ(mm_->host_ranges(a, 0, PROT_WRITE)->size(), 0u);
  EXPECT_EQ(mm_->host_ranges(~0ull - 5, 10, PROT_READ).error(), EFAULT);
  EXPECT_EQ(mm_->copy_in(nullptr, a, ~0ull).error(), EFAULT);
}

// Random operations; after each one the page tables, the runs and the
// contents (a tag in the first bytes of each page) must agree with a model.
TEST_F(MemoryManagerTest, RandomizedConsistency) {
  const uint64_t base = 0x100000000ull;
  constexpr uint64_t kPages = 1024;
  std::map<uint64_t, uint64_t> tags;  // page address -> tag
  std::mt19937_64 rng(2024);
  uint64_t next_tag = 1;
  auto tag_range = [&](uint64_t a, uint64_t len) {
    for (uint64_t x = a; x < a + len; x += P) {
      uint64_t t = next_tag++;
      if (mm_->copy_out(x, &t, sizeof t).ok()) tags[x] = t;
    }
  };
  auto drop = [&](uint64_t a, uint64_t len) {
    tags.erase(tags.lower_bound(a), tags.lower_bound(a + len));
  };
  for (int step = 0; step < 600; ++step) {
    uint64_t a = base + (rng() % kPages) * P;
    uint64_t len = (1 + rng() % (rng() % 10 == 0 ? 700 : 16)) * P;
    switch (rng() % 5) {
      case 0:
        if (mm_->mmap(a, len, RW, kAnonPriv | MAP_FIXED, -1, 0).ok()) {
          drop(a, len);
          tag_range(a, len);
        }
        break;
      case 1:
        ASSERT_TRUE(mm_->munmap(a, len).ok());
        drop(a, len);
        break;
      case 2: {
        int prot = rng() % 2 ? PROT_READ : RW;
        (void)mm_->mprotect(a, len, prot);
        break;
      }
      case 3: {
        std::optional<Vma> v = mm_->find_vma(a);
        if (!v) break;
        uint64_t old_len = std::min(len, v->end - a);
        uint64_t new_len = (1 + rng() % 32) * P;
        int flags = MREMAP_MAYMOVE;
        uint64_t dst = 0;
        if (rng() % 2) {
          flags |= MREMAP_FIXED;
          dst = base + (rng() % kPages) * P;
        }
        auto r = mm_->mremap(a, old_len, new_len, flags, dst);
        if (!r.ok()) break;
        if (flags & MREMAP_FIXED) drop(dst, new_len);
        std::map<uint64_t, uint64_t> moved;
        for (auto it = tags.lower_bound(a); it != tags.end() && it->first < a + old_len; ++it)
          if (it->first - a < new_len) moved[r.value() + (it->first - a)] = it->second;
        drop(a, old_len);
        for (auto& [k, t] : moved) tags[k] = t;
        break;
      }
      case 4:
        (void)mm_->madvise(a, len, MADV_DONTNEED);
        if (mm_->with_vmas(
                [&](const AddressSpace& as) { return as.range_fully_mapped(a, a + len); }))
          drop(a, len);
        else {  // mapped parts were zeroed
          for (auto it = tags.lower_bound(a); it != tags.end() && it->first < a + len;)
            it = tags.erase(it);
        }
        break;
    }
    check_consistent();
    if (HasFatalFailure()) return;
    for (auto& [x, t] : tags) {
      std::optional<Vma> v = mm_->find_vma(x);
      ASSERT_TRUE(v) << std::hex << x << " step " << std::dec << step;
      uint64_t got;
      std::memcpy(&got, mem_ + v->phys_of(x), sizeof got);
      ASSERT_EQ(got, t) << std::hex << x << " step " << std::dec << step;
    }
  }
}

}  // namespace
}  // namespace elfuse
