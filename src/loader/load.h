// Loading an ELF program (and its PT_INTERP interpreter) into a guest's
// MemoryManager, and mapping the initial stack, as fs/binfmt_elf.c
// load_elf_binary() / load_elf_interp() and fs/exec.c setup_arg_pages() do.
//
// Segments are private file mappings of the file (overlays, as a guest's
// MAP_PRIVATE mmap), with fresh anonymous pages for the bss.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "loader/elf.h"
#include "loader/initial_stack.h"

namespace elfuse {

class MemoryManager;

struct LoadOptions {
  // PF_RANDOMIZE: !(personality & ADDR_NO_RANDOMIZE) && randomize_va_space.
  bool randomize = true;
  // /proc/sys/kernel/randomize_va_space; brk is randomized only when > 1.
  int randomize_va_space = 2;
  // CONFIG_COMPAT_BRK: when off (distribution default), a static PIE or a
  // directly run ld.so gets its brk at ELF_ET_DYN_BASE.
  bool compat_brk = false;
  // get_random_long(); nullptr means getrandom(2).
  std::function<uint64_t()> random;
  // Name of the program's VMAs in /proc/self/maps (the file-backed part of
  // each segment); the interpreter's are named by its PT_INTERP path.
  std::string exe_path;
  // The name of the interpreter's VMAs given its open fd (the kernel shows
  // the file's path, not the PT_INTERP string); unset: the PT_INTERP path.
  std::function<std::string(int fd)> path_of_fd;
};

// Opens the interpreter named by PT_INTERP (the caller resolves it, e.g.
// inside --sysroot). Its errors are returned as they are.
using InterpOpener = std::function<ElfOr<UniqueFd>(const std::string& path)>;

// One ELF object placed in guest memory.
struct LoadedObject {
  ElfImage image;
  uint64_t bias = 0;   // added to every p_vaddr (0 for ET_EXEC)
  uint64_t entry = 0;  // e_entry + bias
  uint64_t phdr = 0;   // guest address of the program headers (AT_PHDR rule)
  uint64_t start = 0;  // page start of the first PT_LOAD
  uint64_t end = 0;    // end of the highest PT_LOAD (p_vaddr + p_memsz + bias)
};

struct LoadedProgram {
  LoadedObject exe;
  std::optional<LoadedObject> interp;
  uint64_t entry = 0;      // first instruction: the interpreter's entry if any
  uint64_t brk_start = 0;  // also written to mm.layout().brk_start / brk
  bool stack_executable = false;
  // Values for the auxiliary vector.
  uint64_t at_phdr = 0, at_phent = sizeof(Elf64_Phdr), at_phnum = 0;
  uint64_t at_entry = 0, at_base = 0;
};

// Opens the interpreter named by PT_INTERP and makes the checks
// load_elf_binary() makes before the point of no return: the opener's
// errors (ENOENT, EACCES...), a file that is not regular (EACCES), a header
// shorter than 64 bytes (EIO), then ELIBBAD for a bad magic, machine or
// program header table. The fd is the caller's to hand to load_program.
ElfOr<UniqueFd> open_interpreter(const std::string& path, const InterpOpener& open_interp);

// Loads the program open on fd into mm (which should hold no mappings in the
// program's range) and sets mm.layout().brk_start and brk. A PT_INTERP
// program needs open_interp; without it the result is ENOEXEC/kCorrupt.
// The caller is past the point of no return: check_layout()'s errors and
// mapping failures mean death by SIGSEGV (fs/exec.c bprm_execve).
ElfOr<LoadedProgram> load_program(MemoryManager& mm, int fd, const LoadOptions& options,
                                  const InterpOpener& open_interp = nullptr);

// ---- pieces of load_program, exposed for tests and for execve ----

// ELF_ET_DYN_BASE for x86_64 (arch/x86/include/asm/elf.h): 2/3 of the
// 47-bit window, capped by task_size. Not page aligned, as in Linux.
uint64_t elf_et_dyn_base(uint64_t task_size);
// arch_mmap_rnd() with mmap_rnd_bits = 28: a page-aligned offset < 1 TiB.
uint64_t arch_mmap_rnd(uint64_t random);
// randomize_page(start, range) of mm/util.c with a given random value.
uint64_t randomize_page(uint64_t start, uint64_t range, uint64_t random);
// The load bias of an ET_DYN program that has an interpreter
// (load_elf_binary(): ELF_ET_DYN_BASE + arch_mmap_rnd(), aligned down to the
// largest p_align, minus the first p_vaddr, page aligned).
uint64_t pie_load_bias(const ElfImage& image, uint64_t task_size, bool randomize, uint64_t random);
// The start of the break (mm->start_brk) after loading `exe` whose highest
// segment ends at exe_end (bias included).
uint64_t initial_brk(const ElfImage& exe, uint64_t exe_end, bool has_interp, uint64_t task_size,
                     const LoadOptions& options, uint64_t random);

// Auxiliary-vector values the loader does not know.
struct AuxvInputs {
  uint64_t sysinfo_ehdr = 0;  // vDSO base; 0 omits AT_SYSINFO_EHDR
  uint64_t minsigstksz = 0;   // AT_MINSIGSTKSZ (get_sigframe_size())
  uint64_t hwcap = 0, hwcap2 = 0;
  uint64_t pagesz = 4096;
  uint64_t clktck = 100;  // CLOCKS_PER_SEC as USER_HZ
  uint64_t uid = 0, euid = 0, gid = 0, egid = 0;
  uint64_t secure = 0;
  uint64_t flags = 0;
  // AT_RSEQ_FEATURE_SIZE / AT_RSEQ_ALIGN (Linux 6.3+); 0 omits both.
  uint64_t rseq_feature_size = 0, rseq_align = 0;
};

// The auxiliary vector in create_elf_tables() order for x86_64, with
// AT_RANDOM, AT_EXECFN and AT_PLATFORM as placeholders that
// build_initial_stack() fills in. No AT_NULL.
std::vector<AuxEntry> linux_auxv(const AuxvInputs& in, const LoadedProgram& prog);

struct StackOptions {
  uint64_t rlimit_stack = 8ull << 20;  // RLIMIT_STACK soft limit
  bool executable = false;             // PT_GNU_STACK with PF_X
};

struct MappedStack {
  InitialStack image;
  uint64_t vma_start = 0, vma_end = 0;
  uint64_t rsp() const { return image.rsp; }
};

// Maps the "[stack]" VMA ending at mm.layout().stack_top and copies the
// initial stack built from `input` (its stack_top is replaced by the
// layout's) into it.
//
// Choice: the whole RLIMIT_STACK (at least the image plus 128 KiB, the
// stack_expand of setup_arg_pages) is mapped up front, flagged
// MAP_GROWSDOWN, because growing the stack on a fault is not implemented;
// /proc/self/maps therefore shows a larger [stack] than Linux's
// [image + 128 KiB] at exec time. RLIMIT_STACK = unlimited is capped at
// 8 MiB for the same reason.
Result<MappedStack> map_initial_stack(MemoryManager& mm, InitialStackInput input,
                                      const StackOptions& options);

}  // namespace elfuse
