// Linux's address-space layout for a new program: stack top, mmap base,
// with or without randomization (arch/x86/mm/mmap.c, fs/binfmt_elf.c).
#pragma once

#include <cstdint>
#include <functional>

#include "mm/memory_manager.h"

namespace elfuse {

struct LayoutInputs {
  uint64_t task_size;      // end of the guest's user range
  bool randomize;          // !ADDR_NO_RANDOMIZE and randomize_va_space != 0
  uint64_t rlimit_stack;   // RLIMIT_STACK soft limit (RLIM_INFINITY allowed)
  uint64_t mmap_min_addr;  // /proc/sys/vm/mmap_min_addr
  std::function<uint64_t()> random;
};

Layout make_layout(const LayoutInputs& in);

}  // namespace elfuse
