// Linux's initial process stack for x86_64, built as bytes in host memory.
//
// Layout, from the top (highest address) down, as fs/exec.c
// (bprm_mm_init, do_execveat_common, copy_strings) and fs/binfmt_elf.c
// (create_elf_tables) produce it:
//
//   stack_top                 8 zero bytes (bprm->p starts one pointer below
//                             the top of the stack VMA)
//   execfn string             AT_EXECFN points here
//   envp strings              envp[0] lowest ... envp[n-1] highest
//   argv strings              argv[0] lowest; arg_start = &argv[0][0]
//   (arch_align_stack)        optional random 0..8191 bytes, then & ~15
//   "x86_64\0"                AT_PLATFORM points here
//   16 random bytes           AT_RANDOM points here
//   (0..15 bytes padding)     so that rsp ends up 16-byte aligned
//   auxv pairs ... AT_NULL
//   envp[] pointers, NULL
//   argv[] pointers, NULL
//   argc                      <- rsp (16-byte aligned)
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace elfuse {

struct AuxEntry {
  uint64_t type;
  uint64_t value;
};

struct InitialStackInput {
  uint64_t stack_top = 0;  // page aligned; the image ends exactly here
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string execfn;  // the path execve was given (bprm->filename)
  // Auxiliary vector in the order the kernel emits it, without AT_NULL.
  // Entries whose type is AT_RANDOM, AT_EXECFN or AT_PLATFORM are kept in
  // place and their values replaced by the addresses the builder chooses;
  // if absent they are appended in create_elf_tables()'s order
  // (AT_RANDOM, AT_EXECFN, AT_PLATFORM).
  std::vector<AuxEntry> auxv;
  std::array<uint8_t, 16> random{};  // the AT_RANDOM bytes
  std::string platform = "x86_64";   // ELF_PLATFORM on x86_64 (utsname machine)
  // arch_align_stack(): with randomization Linux subtracts
  // get_random_u32_below(8192) before aligning; 0 without randomization.
  uint32_t align_random = 0;
  // RLIMIT_STACK soft limit; bounds the total size of the strings as
  // fs/exec.c bprm_stack_limits() does (E2BIG).
  uint64_t rlimit_stack = 8ull << 20;
};

struct InitialStack {
  uint64_t start = 0;          // guest address of bytes[0] (== rsp)
  std::vector<uint8_t> bytes;  // copy to [start, start + bytes.size()) == [rsp, stack_top)
  uint64_t rsp = 0;            // points at argc, 16-byte aligned
  // For /proc/self/cmdline and /proc/self/environ (mm->arg_start etc.).
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  uint64_t execfn_addr = 0, platform_addr = 0, random_addr = 0;
  uint64_t auxv_addr = 0;   // first auxv pair
  uint64_t auxv_count = 0;  // pairs including AT_NULL
};

// Builds the image. Errors: E2BIG (strings too large for the limits of
// fs/exec.c), EINVAL (bad stack_top), EFAULT (image does not fit below
// stack_top).
Result<InitialStack> build_initial_stack(const InitialStackInput& in);

}  // namespace elfuse
