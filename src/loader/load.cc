#include "loader/load.h"

#include <elf.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "base/checked.h"
#include "mm/memory_manager.h"

namespace elfuse {
namespace {

// 47-bit user window (DEFAULT_MAP_WINDOW, arch/x86/include/asm/page_64_types.h).
constexpr uint64_t kDefaultMapWindow = (1ull << 47) - kPageSize;
constexpr uint64_t kMmapRndBits = 28;             // CONFIG_ARCH_MMAP_RND_BITS default
constexpr uint64_t kBrkRandomRange = 1ull << 30;  // arch_randomize_brk(): SZ_1G on 64-bit
constexpr uint64_t kStackExpand = 128 * 1024;     // setup_arg_pages(): stack_expand

uint64_t next_random(const LoadOptions& o) {
  if (o.random) return o.random();
  uint64_t v = 0;
  while (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) {
  }
  return v;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

ElfError mm_error(int err, const std::string& what) {
  return {ElfErrorKind::kNoMemory, err, what + ": " + std::strerror(err)};
}

// ---- mapping one object ----

struct Mapper {
  MemoryManager& mm;
  const FdReader& file;
  const std::string& name;
  uint64_t bias;
};

// Fresh zero pages (a bss): vm_brk_flags() replaces what was there.
ElfOr<bool> map_zero(Mapper& m, uint64_t start, uint64_t end, int prot) {
  if (start >= end) return true;
  auto r = m.mm.map_fixed_anon(start, end - start, prot, "");
  if (!r.ok()) return mm_error(r.error(), "mapping [" + hex(start) + ", " + hex(end) + ")");
  return true;
}

ElfOr<bool> write_zeros(Mapper& m, uint64_t addr, uint64_t len) {
  static const std::vector<uint8_t> zeros(kPageSize, 0);
  while (len > 0) {
    uint64_t n = std::min<uint64_t>(len, zeros.size());
    auto r = m.mm.copy_out(addr, zeros.data(), n);
    if (!r.ok()) return mm_error(r.error(), "zeroing " + hex(addr));
    addr += n;
    len -= n;
  }
  return true;
}

// elf_map(): the file's pages [off, off + end - start) mapped private at
// [start, end), as Linux's vm_mmap(MAP_PRIVATE|MAP_FIXED) of the file. The
// page cache is the only copy until the guest stores; a page wholly past
// the end of the file is SIGBUS when touched, as on Linux.
ElfOr<bool> map_file(Mapper& m, uint64_t start, uint64_t end, uint64_t off, int prot) {
  if (start >= end) return true;
  auto r = m.mm.map_fixed_file(start, end - start, prot, m.file.fd(), off, m.name);
  if (!r.ok())
    return mm_error(r.error(), "mapping the file at [" + hex(start) + ", " + hex(end) + ")");
  return true;
}

// One PT_LOAD, as elf_load() maps it, in file order: each mapping replaces
// whatever an earlier (or overlapping) segment left there, as MAP_FIXED
// does. The file pages covering [p_offset, p_offset + p_filesz) go at
// PAGESTART(p_vaddr) with the segment's protection; with a bss, padzero()
// clears the rest of the last file page (an error counts only for a
// writable segment: a read-only one keeps the file's bytes there); then
// vm_brk_flags() maps fresh zero pages from the next page boundary (from
// PAGESTART(p_vaddr) for a segment without file bytes) to
// PAGEALIGN(p_vaddr + p_memsz), readable and writable whatever the
// segment's flags, executable with PF_X.
ElfOr<bool> load_segment(Mapper& m, const ElfSegment& seg) {
  // check_layout() bounded p_vaddr + p_memsz and check_in_task() the bias.
  uint64_t vaddr = seg.vaddr + m.bias;
  uint64_t page_off = vaddr & kPageMask;
  uint64_t ps = page_round_down(vaddr);
  uint64_t zero_start = ps;
  if (seg.filesz > 0) {
    uint64_t file_pe = ps + *page_round_up(page_off + seg.filesz);
    TRY_ELF(map_file(m, ps, file_pe, seg.offset - page_off, seg.prot));
    zero_start = vaddr + seg.filesz;
    if (seg.memsz > seg.filesz && (seg.prot & PROT_WRITE))
      TRY_ELF(write_zeros(m, zero_start, file_pe - zero_start));
  }
  if (seg.memsz > seg.filesz) {
    int prot = PROT_READ | PROT_WRITE | (seg.prot & PROT_EXEC);
    TRY_ELF(map_zero(m, *page_round_up(zero_start), *page_round_up(vaddr + seg.memsz), prot));
  }
  return true;
}

ElfOr<bool> check_in_task(const ElfImage& img, uint64_t bias, uint64_t task_size) {
  // load_elf_binary(): BAD_ADDR(k) || p_memsz > TASK_SIZE || TASK_SIZE - p_memsz < k,
  // with k = load_bias + p_vaddr in modular arithmetic, as Linux computes it
  // (a bias below an ET_DYN's first p_vaddr is a "negative" bias).
  for (const ElfSegment& s : img.loads) {
    uint64_t k = s.vaddr + bias;
    if (k >= task_size || s.memsz > task_size || task_size - s.memsz < k)
      return ElfError{
          ElfErrorKind::kNoMemory, EINVAL,
          "segment at " + hex(s.vaddr) + " + bias " + hex(bias) + " is beyond the task size"};
  }
  return true;
}

ElfOr<LoadedObject> map_object(MemoryManager& mm, const FdReader& file, ElfImage image,
                               uint64_t bias, const std::string& name) {
  TRY_ELF(check_in_task(image, bias, mm.layout().task_size));
  LoadedObject obj;
  obj.bias = bias;
  obj.entry = image.entry + bias;
  obj.phdr = image.phdr_vaddr.value_or(0) + bias;
  obj.start = page_round_down(image.lowest_vaddr + bias);
  obj.end = image.highest_vaddr + bias;
  Mapper m{mm, file, name, bias};
  for (const ElfSegment& seg : image.loads) TRY_ELF(load_segment(m, seg));
  if (obj.entry >= mm.layout().task_size)  // BAD_ADDR(e_entry): EINVAL
    return ElfError{ElfErrorKind::kCorrupt, EINVAL,
                    "entry point " + hex(obj.entry) + " is beyond the task size"};
  obj.image = std::move(image);
  return obj;
}

// ---- placement ----

// MAP_FIXED_NOREPLACE: the object's range must be free (EEXIST).
ElfOr<bool> require_free(MemoryManager& mm, const ElfImage& img, uint64_t bias) {
  uint64_t start = page_round_down(img.lowest_vaddr + bias);
  auto end = page_round_up(img.highest_vaddr + bias);
  if (!end || !mm.with_vmas([&](const AddressSpace& as) { return as.range_free(start, *end); }))
    return ElfError{ElfErrorKind::kNoMemory, EEXIST,
                    "ELF segments at " + hex(start) + " overlap an existing mapping"};
  return true;
}

// vm_mmap(NULL, total_size, ...): a free range found top-down below
// mmap_base, the way the interpreter and a directly run ET_DYN loader are
// placed. Linux does not honour p_align here; we do, so that a 2 MiB
// p_align (TLS alignment, huge pages) holds.
ElfOr<uint64_t> mmap_region_bias(MemoryManager& mm, const ElfImage& img) {
  auto len = page_round_up(img.total_mapping_size());
  const Layout& l = mm.layout();
  std::optional<uint64_t> addr;
  if (len)
    addr = mm.with_vmas([&](const AddressSpace& as) {
      return as.find_gap_top_down(*len, l.mmap_min, l.mmap_base, img.max_align);
    });
  if (!addr)
    return ElfError{ElfErrorKind::kNoMemory, ENOMEM,
                    "no room for " + hex(img.total_mapping_size()) + " bytes of ELF segments"};
  return *addr - page_round_down(img.lowest_vaddr);
}

// load_elf_binary() checks the interpreter with ELIBBAD when it is not an
// ELF for this machine or its program headers cannot be read.
ElfError interp_error(const std::string& path, ElfError e) {
  if (e.kind == ElfErrorKind::kNotElf || e.kind == ElfErrorKind::kWrongClass ||
      e.kind == ElfErrorKind::kWrongMachine || e.kind == ElfErrorKind::kCorrupt ||
      e.kind == ElfErrorKind::kIo)
    e.linux_errno = ELIBBAD;
  e.message = "interpreter " + path + ": " + e.message;
  return e;
}

// The interpreter as load_elf_binary() checks it before the point of no
// return: elf_read() of its header (a shorter file is EIO), then the magic,
// the machine and the program headers (ELIBBAD).
ElfOr<ElfImage> parse_interpreter(const std::string& path, const FdReader& file) {
  if (file.size() < sizeof(Elf64_Ehdr))
    return ElfError{ElfErrorKind::kIo, EIO, "interpreter " + path + ": shorter than an ELF header"};
  auto parsed = parse_elf(file, ElfRole::kInterpreter);
  if (!parsed.ok()) return interp_error(path, parsed.error());
  return std::move(parsed).value();
}

}  // namespace

// ---- public helpers ----

uint64_t elf_et_dyn_base(uint64_t task_size) {
  return std::min(kDefaultMapWindow, task_size) / 3 * 2;
}

uint64_t arch_mmap_rnd(uint64_t random) {
  return (random & ((1ull << kMmapRndBits) - 1)) << 12;
}

uint64_t randomize_page(uint64_t start, uint64_t range, uint64_t random) {
  if (!page_aligned(start)) {
    uint64_t up = align_up(start, kPageSize);
    range -= std::min(range, up - start);
    start = up;
  }
  if (start > UINT64_MAX - range) range = UINT64_MAX - start;
  range >>= 12;
  if (range == 0) return start;
  return start + ((random % range) << 12);
}

uint64_t pie_load_bias(const ElfImage& image, uint64_t task_size, bool randomize, uint64_t random) {
  uint64_t bias = elf_et_dyn_base(task_size);
  if (randomize) bias += arch_mmap_rnd(random);
  bias &= ~(image.max_align - 1);
  return page_round_down(bias - image.lowest_vaddr);
}

uint64_t initial_brk(const ElfImage& exe, uint64_t exe_end, bool has_interp, uint64_t task_size,
                     const LoadOptions& o, uint64_t random) {
  // load_elf_binary() (6.x): a loader run directly (ET_DYN without
  // PT_INTERP) has its brk moved out of the mmap region to ELF_ET_DYN_BASE.
  bool moved = !o.compat_brk && exe.type == ET_DYN && !has_interp;
  uint64_t brk = align_up(moved ? elf_et_dyn_base(task_size) : exe_end, kPageSize);
  if (o.randomize && o.randomize_va_space > 1) {
    if (!moved) brk += kPageSize;  // leave a gap between .bss and brk
    brk = randomize_page(brk, kBrkRandomRange, random);
  }
  return brk;
}

ElfOr<UniqueFd> open_interpreter(const std::string& path, const InterpOpener& open_interp) {
  ElfOr<UniqueFd> opened = open_interp(path);
  if (!opened.ok()) return opened.error();
  UniqueFd fd = std::move(opened).value();
  // open_exec(): a regular file (EACCES), as for the program.
  FdReader reader = TRY_ELF(FdReader::open(fd.get()));
  TRY_ELF(parse_interpreter(path, reader));
  return fd;
}

ElfOr<LoadedProgram> load_program(MemoryManager& mm, int fd, const LoadOptions& options,
                                  const InterpOpener& open_interp) {
  FdReader exe_file = TRY_ELF(FdReader::open(fd));
  ElfImage exe = TRY_ELF(parse_elf(exe_file));
  TRY_ELF(check_layout(exe, ElfRole::kProgram));

  UniqueFd interp_fd;
  std::optional<FdReader> interp_file;
  std::optional<ElfImage> interp;
  if (exe.interp) {
    if (!open_interp)
      return ElfError{ElfErrorKind::kCorrupt, ENOEXEC,
                      "dynamic program (interpreter " + *exe.interp + ") cannot be loaded here"};
    interp_fd = TRY_ELF(open_interpreter(*exe.interp, open_interp));
    interp_file.emplace(TRY_ELF(FdReader::open(interp_fd.get())));
    interp = TRY_ELF(parse_interpreter(*exe.interp, *interp_file));
    auto layout = check_layout(*interp, ElfRole::kInterpreter);
    if (!layout.ok()) return interp_error(*exe.interp, layout.error());
  }

  const uint64_t task_size = mm.layout().task_size;
  uint64_t bias = 0;
  if (exe.type == ET_DYN) {
    if (exe.interp)
      bias = pie_load_bias(exe, task_size, options.randomize, next_random(options));
    else
      bias = TRY_ELF(mmap_region_bias(mm, exe));
  }
  TRY_ELF(require_free(mm, exe, bias));

  LoadedProgram prog;
  prog.exe = TRY_ELF(map_object(mm, exe_file, std::move(exe), bias, options.exe_path));
  const ElfImage& e = prog.exe.image;
  if (interp) {
    // load_elf_interp(): an ET_DYN goes where mmap finds room; an ET_EXEC
    // is mapped MAP_FIXED, over whatever is there.
    uint64_t ibias = 0;
    if (interp->type == ET_DYN) ibias = TRY_ELF(mmap_region_bias(mm, *interp));
    std::string iname = options.path_of_fd ? options.path_of_fd(interp_fd.get()) : *e.interp;
    auto loaded = map_object(mm, *interp_file, std::move(*interp), ibias, iname);
    if (!loaded.ok()) return interp_error(*e.interp, loaded.error());
    prog.interp = std::move(loaded).value();
  }

  prog.entry = prog.interp ? prog.interp->entry : prog.exe.entry;
  prog.stack_executable = e.stack_executable;
  prog.at_phdr = prog.exe.phdr;
  prog.at_phnum = e.phdrs.size();
  prog.at_entry = prog.exe.entry;
  prog.at_base = prog.interp ? prog.interp->bias : 0;
  prog.brk_start = initial_brk(e, prog.exe.end, prog.interp.has_value(), task_size, options,
                               next_random(options));
  mm.layout().brk_start = prog.brk_start;
  mm.layout().brk = prog.brk_start;
  return prog;
}

std::vector<AuxEntry> linux_auxv(const AuxvInputs& in, const LoadedProgram& prog) {
  std::vector<AuxEntry> v;
  // ARCH_DLINFO (arch/x86/include/asm/elf.h) comes first.
  if (in.sysinfo_ehdr) v.push_back({AT_SYSINFO_EHDR, in.sysinfo_ehdr});
  v.push_back({AT_MINSIGSTKSZ, in.minsigstksz});
  v.push_back({AT_HWCAP, in.hwcap});
  v.push_back({AT_PAGESZ, in.pagesz});
  v.push_back({AT_CLKTCK, in.clktck});
  v.push_back({AT_PHDR, prog.at_phdr});
  v.push_back({AT_PHENT, prog.at_phent});
  v.push_back({AT_PHNUM, prog.at_phnum});
  v.push_back({AT_BASE, prog.at_base});
  v.push_back({AT_FLAGS, in.flags});
  v.push_back({AT_ENTRY, prog.at_entry});
  v.push_back({AT_UID, in.uid});
  v.push_back({AT_EUID, in.euid});
  v.push_back({AT_GID, in.gid});
  v.push_back({AT_EGID, in.egid});
  v.push_back({AT_SECURE, in.secure});
  v.push_back({AT_RANDOM, 0});  // filled by build_initial_stack
  v.push_back({AT_HWCAP2, in.hwcap2});
  v.push_back({AT_EXECFN, 0});    // filled by build_initial_stack
  v.push_back({AT_PLATFORM, 0});  // filled by build_initial_stack
  if (in.rseq_feature_size) {
    v.push_back({AT_RSEQ_FEATURE_SIZE, in.rseq_feature_size});
    v.push_back({AT_RSEQ_ALIGN, in.rseq_align});
  }
  return v;
}

Result<MappedStack> map_initial_stack(MemoryManager& mm, InitialStackInput input,
                                      const StackOptions& options) {
  input.stack_top = mm.layout().stack_top;
  input.rlimit_stack = options.rlimit_stack;
  MappedStack out;
  out.image = TRY(build_initial_stack(input));

  uint64_t want = std::min<uint64_t>(options.rlimit_stack, 8ull << 20);
  uint64_t need = *page_round_up(out.image.bytes.size()) + kStackExpand;
  uint64_t len = std::max(want, need);
  if (len >= input.stack_top) return Errno{ENOMEM};
  out.vma_end = input.stack_top;
  out.vma_start = input.stack_top - len;
  int prot = PROT_READ | PROT_WRITE | (options.executable ? PROT_EXEC : 0);
  TRY(mm.map_fixed_anon(out.vma_start, len, prot, "[stack]", MAP_GROWSDOWN));
  TRY(mm.copy_out(out.image.start, out.image.bytes.data(), out.image.bytes.size()));
  return out;
}

}  // namespace elfuse
