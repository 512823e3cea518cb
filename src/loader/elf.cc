#include "loader/elf.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/checked.h"

namespace elfuse {

// ---- readers ----

bool SpanReader::read_exact(void* dst, uint64_t len, uint64_t off, int* err) const {
  auto end = checked_add(off, len);
  if (!end || *end > bytes_.size()) {
    *err = EIO;
    return false;
  }
  if (len) std::memcpy(dst, bytes_.data() + off, len);
  return true;
}

ElfOr<FdReader> FdReader::open(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return ElfError{ElfErrorKind::kIo, errno, std::string("fstat: ") + std::strerror(errno)};
  // execve(2) on a directory or device is EACCES (fs/exec.c do_open_execat).
  if (!S_ISREG(st.st_mode)) return ElfError{ElfErrorKind::kNotElf, EACCES, "not a regular file"};
  return FdReader(fd, static_cast<uint64_t>(st.st_size));
}

bool FdReader::read_exact(void* dst, uint64_t len, uint64_t off, int* err) const {
  auto* p = static_cast<uint8_t*>(dst);
  while (len > 0) {
    ssize_t n = ::pread(fd_, p, len, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      return false;
    }
    if (n == 0) {  // EOF before len bytes: elf_read() turns this into EIO
      *err = EIO;
      return false;
    }
    p += n;
    len -= static_cast<uint64_t>(n);
    off += static_cast<uint64_t>(n);
  }
  return true;
}

// ---- machine names ----

const char* elf_machine_name(uint16_t machine) {
  switch (machine) {
    case EM_386:
      return "i386";
    case EM_X86_64:
      return "x86_64";
    case EM_AARCH64:
      return "aarch64";
    case EM_ARM:
      return "arm";
    case EM_RISCV:
      return "riscv";
    case EM_PPC:
      return "powerpc";
    case EM_PPC64:
      return "powerpc64";
    case EM_S390:
      return "s390";
    case EM_MIPS:
      return "mips";
    case EM_SPARC:
      return "sparc";
    case EM_SPARCV9:
      return "sparc64";
    case EM_IA_64:
      return "ia64";
    case EM_LOONGARCH:
      return "loongarch";
    case EM_68K:
      return "m68k";
    case EM_SH:
      return "superh";
    case EM_ALPHA:
      return "alpha";
    case EM_PARISC:
      return "parisc";
    case EM_BPF:
      return "bpf";
    default:
      return nullptr;
  }
}

namespace {

constexpr uint64_t kPhdrSize = sizeof(Elf64_Phdr);
static_assert(sizeof(Elf64_Ehdr) == 64 && kPhdrSize == 56);

ElfError not_elf(std::string msg) {
  return {ElfErrorKind::kNotElf, ENOEXEC, std::move(msg)};
}
ElfError corrupt(int err, std::string msg) {
  return {ElfErrorKind::kCorrupt, err, std::move(msg)};
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string machine_label(uint16_t machine) {
  if (const char* name = elf_machine_name(machine)) return name;
  return "e_machine " + std::to_string(machine);
}

// The header is read through the same path as everything else so a file
// shorter than 64 bytes is handled in one place. Linux zero-fills bprm->buf,
// so a truncated header fails the magic or e_type check: ENOEXEC.
ElfOr<Elf64_Ehdr> read_header(const FileReader& file) {
  Elf64_Ehdr eh;
  std::memset(&eh, 0, sizeof eh);
  uint64_t have = file.size() < sizeof eh ? file.size() : sizeof eh;
  int err = 0;
  if (!file.read_exact(&eh, have, 0, &err))
    return ElfError{ElfErrorKind::kIo, err,
                    std::string("reading the ELF header: ") + std::strerror(err)};
  if (have < SELFMAG || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    return not_elf("not an ELF file (bad magic)");
  if (have < sizeof eh) return not_elf("truncated ELF header (" + std::to_string(have) + " bytes)");
  return eh;
}

// e_machine as the file's own byte order has it, for messages about
// big-endian files.
uint16_t machine_in_file_order(const Elf64_Ehdr& eh) {
  if (eh.e_ident[EI_DATA] == ELFDATA2MSB)
    return static_cast<uint16_t>((eh.e_machine >> 8) | (eh.e_machine << 8));
  return eh.e_machine;
}

// Class, byte order and machine. elf_check_arch on x86_64 accepts only
// EM_X86_64; 32-bit files would go to the compat loader, which elfuse has not.
ElfOr<bool> check_identity(const Elf64_Ehdr& eh) {
  uint16_t machine = machine_in_file_order(eh);
  if (eh.e_ident[EI_CLASS] == ELFCLASS32)
    return ElfError{
        ElfErrorKind::kWrongClass, ENOEXEC,
        "32-bit ELF (" + machine_label(machine) + "): this build runs only 64-bit x86_64 programs"};
  if (eh.e_ident[EI_CLASS] != ELFCLASS64)
    return ElfError{ElfErrorKind::kWrongClass, ENOEXEC,
                    "unknown ELF class " + std::to_string(eh.e_ident[EI_CLASS])};
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB || machine != EM_X86_64)
    return ElfError{ElfErrorKind::kWrongMachine, ENOEXEC,
                    "ELF for " + machine_label(machine) +
                        (eh.e_ident[EI_DATA] == ELFDATA2MSB ? " (big-endian)" : "") +
                        ": this build runs x86_64 guests"};
  return true;
}

ElfOr<bool> check_type(const Elf64_Ehdr& eh) {
  switch (eh.e_type) {
    case ET_EXEC:
    case ET_DYN:
      return true;
    case ET_REL:
      return not_elf("relocatable object file (ET_REL), not an executable");
    case ET_CORE:
      return not_elf("core dump (ET_CORE), not an executable");
    default:
      return not_elf("ELF type " + std::to_string(eh.e_type) + " is not executable");
  }
}

// load_elf_phdrs(): e_phentsize must be sizeof(Elf64_Phdr); the table must
// be non-empty, at most one page, and readable in full. Every failure there
// is ENOEXEC (load_elf_phdrs returns NULL, whatever elf_read found).
ElfOr<std::vector<Elf64_Phdr>> read_phdrs(const FileReader& file, const Elf64_Ehdr& eh) {
  if (eh.e_phentsize != kPhdrSize)
    return corrupt(ENOEXEC, "e_phentsize is " + std::to_string(eh.e_phentsize) + ", expected 56");
  uint64_t table = uint64_t{eh.e_phnum} * kPhdrSize;  // at most 65535 * 56: no overflow
  if (table == 0) return corrupt(ENOEXEC, "no program headers (e_phnum is 0)");
  if (table > kMaxPhdrTableBytes)
    return corrupt(ENOEXEC, "e_phnum " + std::to_string(eh.e_phnum) +
                                " is absurd: the program header table exceeds 4096 bytes");
  auto end = checked_add(eh.e_phoff, table);
  if (!end || *end > file.size())
    return corrupt(ENOEXEC, "program header table at e_phoff " + hex(eh.e_phoff) +
                                " extends past the end of the file");
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  int err = 0;
  if (!file.read_exact(phdrs.data(), table, eh.e_phoff, &err))
    return ElfError{ElfErrorKind::kIo, ENOEXEC,
                    std::string("reading program headers: ") + std::strerror(err)};
  return phdrs;
}

int prot_from_flags(uint32_t p_flags) {
  int prot = 0;
  if (p_flags & PF_R) prot |= PROT_READ;
  if (p_flags & PF_W) prot |= PROT_WRITE;
  if (p_flags & PF_X) prot |= PROT_EXEC;
  return prot;
}

std::string seg_label(size_t index) {
  return "PT_LOAD #" + std::to_string(index);
}

// One PT_LOAD on its own: the conditions under which load_elf_binary()
// fails while mapping it (BAD_ADDR, p_filesz > p_memsz, TASK_SIZE), and
// elf_map()'s mmap (EINVAL for an offset not congruent with the address,
// when there are file pages to map). A file range past the end of the file
// is mapped as Linux maps it: touching a page wholly past EOF is SIGBUS.
ElfOr<bool> check_load(const ElfSegment& seg, size_t index) {
  std::string who = seg_label(index);
  if (seg.filesz > seg.memsz)
    return corrupt(EINVAL, who + ": p_filesz " + hex(seg.filesz) + " > p_memsz " + hex(seg.memsz));
  auto vend = checked_add(seg.vaddr, seg.memsz);
  if (!vend)
    return corrupt(EINVAL, who + ": p_vaddr " + hex(seg.vaddr) + " + p_memsz " + hex(seg.memsz) +
                               " overflows");
  if (*vend > kUserAddressEnd)
    return corrupt(EINVAL, who + ": ends at " + hex(*vend) + ", beyond the user address range");
  if (seg.filesz && ((seg.offset - seg.vaddr) & kPageMask) != 0)
    return corrupt(EINVAL, who + ": p_offset " + hex(seg.offset) + " and p_vaddr " +
                               hex(seg.vaddr) + " differ modulo the page size");
  return true;
}

// PT_INTERP in load_elf_binary(): 2..PATH_MAX bytes, NUL-terminated.
ElfOr<std::string> read_interp(const FileReader& file, const Elf64_Phdr& ph) {
  if (ph.p_filesz < 2 || ph.p_filesz > kMaxInterpBytes)
    return corrupt(ENOEXEC, "PT_INTERP size " + std::to_string(ph.p_filesz) + " is not in 2..4096");
  auto end = checked_add(ph.p_offset, ph.p_filesz);
  if (!end || *end > file.size())
    return corrupt(EIO, "PT_INTERP at " + hex(ph.p_offset) + " is outside the file");
  std::string path(ph.p_filesz, '\0');
  int err = 0;
  if (!file.read_exact(path.data(), ph.p_filesz, ph.p_offset, &err))
    return ElfError{ElfErrorKind::kIo, err,
                    std::string("reading PT_INTERP: ") + std::strerror(err)};
  if (path.back() != '\0') return corrupt(ENOEXEC, "PT_INTERP is not NUL-terminated");
  path.resize(std::strlen(path.c_str()));
  return path;
}

bool is_power_of_2(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

// Collects the PT_LOAD segments in file order, as they are mapped. Nothing
// about them is checked here (check_layout()): Linux only looks at them
// after the point of no return.
void collect_loads(ElfImage& img) {
  img.lowest_vaddr = ~uint64_t{0};
  for (const Elf64_Phdr& ph : img.phdrs) {
    if (ph.p_type != PT_LOAD) continue;
    ElfSegment seg{ph.p_vaddr,  ph.p_memsz, ph.p_filesz,
                   ph.p_offset, ph.p_align, prot_from_flags(ph.p_flags)};
    if (is_power_of_2(seg.align) && seg.align > img.max_align) img.max_align = seg.align;
    img.lowest_vaddr = std::min(img.lowest_vaddr, seg.vaddr);
    // Wraps for a segment check_layout() refuses.
    img.highest_vaddr = std::max(img.highest_vaddr, seg.vaddr + seg.memsz);
    img.loads.push_back(seg);
  }
  if (img.loads.empty()) img.lowest_vaddr = 0;
}

// AT_PHDR as load_elf_binary() computes it since Linux 5.18: the address at
// which the PT_LOAD whose file bytes include e_phoff maps e_phoff.
void locate_phdr_table(ElfImage& img) {
  for (const ElfSegment& s : img.loads) {
    if (s.offset <= img.phoff && img.phoff - s.offset < s.filesz)
      img.phdr_vaddr = img.phoff - s.offset + s.vaddr;  // last match wins, as in Linux
  }
}

ElfOr<bool> scan_other_phdrs(const FileReader& file, ElfImage& img, ElfRole role) {
  for (const Elf64_Phdr& ph : img.phdrs) {
    switch (ph.p_type) {
      case PT_INTERP:
        // Linux uses the first PT_INTERP and stops looking; an
        // interpreter's own is ignored (load_elf_interp).
        if (!img.interp && role == ElfRole::kProgram) img.interp = TRY_ELF(read_interp(file, ph));
        break;
      case PT_GNU_STACK:
        if (!img.has_gnu_stack) {  // first one wins (loop breaks in Linux)
          img.has_gnu_stack = true;
          img.stack_executable = (ph.p_flags & PF_X) != 0;
        }
        break;
      case PT_PHDR:
        if (!img.pt_phdr_vaddr) img.pt_phdr_vaddr = ph.p_vaddr;
        break;
      default:
        break;
    }
  }
  return true;
}

}  // namespace

ElfOr<ElfImage> parse_elf(const FileReader& file, ElfRole role) {
  Elf64_Ehdr eh = TRY_ELF(read_header(file));
  TRY_ELF(check_identity(eh));
  if (role == ElfRole::kProgram) TRY_ELF(check_type(eh));
  ElfImage img;
  img.type = eh.e_type;
  img.entry = eh.e_entry;
  img.phoff = eh.e_phoff;
  img.phdrs = TRY_ELF(read_phdrs(file, eh));
  collect_loads(img);
  TRY_ELF(scan_other_phdrs(file, img, role));
  locate_phdr_table(img);
  return img;
}

ElfOr<bool> check_layout(const ElfImage& img, ElfRole role) {
  // load_elf_interp(): an interpreter that is neither ET_EXEC nor ET_DYN.
  if (role == ElfRole::kInterpreter && img.type != ET_EXEC && img.type != ET_DYN)
    return corrupt(EINVAL, "ELF type " + std::to_string(img.type) + " is not executable");
  // total_mapping_size() is 0 (ET_DYN: EINVAL); an ET_EXEC with nothing
  // mapped faults at its entry point.
  if (img.loads.empty()) return corrupt(EINVAL, "no PT_LOAD segment");
  for (size_t i = 0; i < img.loads.size(); i++) TRY_ELF(check_load(img.loads[i], i));
  // ELF_PAGEALIGN of maximum_alignment(): a p_align beyond 2^63 would wrap.
  if (img.max_align > (uint64_t{1} << 40))
    return corrupt(EINVAL, "PT_LOAD alignment " + hex(img.max_align) + " is absurd");
  // BAD_ADDR(e_entry): EINVAL. For ET_DYN the entry is relative to the bias
  // and is checked once the bias is known.
  if (img.type == ET_EXEC && img.entry >= kUserAddressEnd)
    return corrupt(EINVAL, "entry point " + hex(img.entry) + " is beyond the user address range");
  if (img.type == ET_DYN && img.total_mapping_size() > kUserAddressEnd)
    return corrupt(EINVAL, "PT_LOAD segments span " + hex(img.total_mapping_size()) +
                               " bytes, more than the user address range");
  return true;
}

}  // namespace elfuse
