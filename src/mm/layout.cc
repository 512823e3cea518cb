#include "mm/layout.h"

#include "base/checked.h"

namespace elfuse {
namespace {

// arch/x86/mm/mmap.c: 64-bit mmap randomization is 28 bits of pages;
// stack randomization (STACK_RND_MASK) 22 bits of pages.
constexpr uint64_t kMmapRndBits = 28;
constexpr uint64_t kStackRndMask = 0x3fffff;
constexpr uint64_t kStackGuardGap = 256 * kPageSize;  // mm/mmap.c stack_guard_gap
constexpr uint64_t kGapMin = 128ull << 20;

}  // namespace

Layout make_layout(const LayoutInputs& in) {
  Layout l{};
  l.task_size = in.task_size;
  l.mmap_min = in.mmap_min_addr;
  // fs/binfmt_elf.c randomize_stack_top.
  uint64_t stack_rnd = in.randomize ? (in.random() & kStackRndMask) << 12 : 0;
  l.stack_top = page_round_down(in.task_size) - stack_rnd;
  // arch/x86/mm/mmap.c mmap_base: the gap below the stack covers the stack
  // limit, the guard gap and the stack's own randomization, clamped.
  uint64_t max_stack_rnd = in.randomize ? kStackRndMask << 12 : 0;
  uint64_t gap = in.rlimit_stack;
  uint64_t pad = kStackGuardGap + max_stack_rnd;
  gap = (gap + pad > gap) ? gap + pad : UINT64_MAX;
  uint64_t gap_max = in.task_size / 6 * 5;
  if (gap < kGapMin) gap = kGapMin;
  if (gap > gap_max) gap = gap_max;
  uint64_t mmap_rnd = in.randomize ? (in.random() & ((1ull << kMmapRndBits) - 1)) << 12 : 0;
  l.mmap_base = page_round_down(in.task_size - gap - mmap_rnd);
  return l;
}

}  // namespace elfuse
