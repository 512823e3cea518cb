// Parsing and validation of an ELF64 x86_64 executable, with no side effects.
// The checks follow fs/binfmt_elf.c in its two phases: parse_elf() makes
// those load_elf_binary() makes before the point of no return (an errno for
// execve: the header, the program headers, PT_INTERP); check_layout() those
// it makes while mapping the segments, after it (the caller kills the
// process with SIGSEGV, as fs/exec.c does). A layout Linux maps (segments
// out of order, overlapping, reaching past the end of the file) is mapped.
#pragma once

#include <elf.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "abi/linux.h"

namespace elfuse {

// Why an ELF file cannot be run. `linux_errno` is what execve(2) returns for
// it natively, or, for check_layout(), the errno of the failure after the
// point of no return (the message says which check failed).
enum class ElfErrorKind {
  kNotElf,        // not an ELF executable at all (ENOEXEC; shell: exit 126)
  kWrongClass,    // ELFCLASS32 or an unknown class
  kWrongMachine,  // an ELF for another CPU (aarch64, riscv, big-endian ...)
  kCorrupt,       // headers that contradict themselves or the file
  kIo,            // the file could not be read
  kNoMemory,      // guest memory could not be mapped (load.cc only)
};

struct ElfError {
  ElfErrorKind kind;
  int linux_errno;
  std::string message;  // one line, no trailing newline
};

// A value or an ElfError; the loader's counterpart of Result<T>, which only
// carries an errno. TRY_ELF propagates the error.
template <typename T>
class [[nodiscard]] ElfOr {
 public:
  ElfOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  ElfOr(ElfError e) : v_(std::move(e)) {}   // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const ElfError& error() const { return std::get<1>(v_); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, ElfError> v_;
};

#define TRY_ELF(expr)                            \
  ({                                             \
    auto _try_elf = (expr);                      \
    if (!_try_elf.ok()) return _try_elf.error(); \
    std::move(_try_elf).value();                 \
  })

// Random access to the bytes of a file (pread-style), so that big files are
// never read whole.
class FileReader {
 public:
  virtual ~FileReader() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly len bytes at off; false on a short read or I/O error
  // (errno of the failure in *err, EIO for a short read).
  virtual bool read_exact(void* dst, uint64_t len, uint64_t off, int* err) const = 0;
};

// The file is the whole span.
class SpanReader final : public FileReader {
 public:
  explicit SpanReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  bool read_exact(void* dst, uint64_t len, uint64_t off, int* err) const override;

 private:
  std::span<const uint8_t> bytes_;
};

// A host fd read with pread(2); the size is taken once with fstat(2).
class FdReader final : public FileReader {
 public:
  // The fd stays owned by the caller.
  static ElfOr<FdReader> open(int fd);
  uint64_t size() const override { return size_; }
  bool read_exact(void* dst, uint64_t len, uint64_t off, int* err) const override;
  int fd() const { return fd_; }

 private:
  FdReader(int fd, uint64_t size) : fd_(fd), size_(size) {}
  int fd_;
  uint64_t size_;
};

// x86_64 user addresses end here (TASK_SIZE_MAX, abi/linux.h).
inline constexpr uint64_t kUserAddressEnd = kTaskSizeMax;
// load_elf_phdrs: the program header table may be at most ELF_MIN_ALIGN
// (one 4 KiB page) and 64 KiB; the page limit is the binding one here.
inline constexpr uint64_t kMaxPhdrTableBytes = kPageSize;
// PATH_MAX, the limit Linux puts on PT_INTERP (load_elf_binary).
inline constexpr uint64_t kMaxInterpBytes = kPathMax;

struct ElfSegment {  // one PT_LOAD, as in the file (check_layout() validates it)
  uint64_t vaddr;
  uint64_t memsz;
  uint64_t filesz;
  uint64_t offset;
  uint64_t align;
  int prot;                                       // PROT_READ/WRITE/EXEC from PF_R/W/X
  uint64_t end() const { return vaddr + memsz; }  // check_layout(): no overflow
};

struct ElfImage {
  uint16_t type = 0;  // ET_EXEC or ET_DYN (an interpreter's: check_layout())
  uint64_t entry = 0;
  uint64_t phoff = 0;
  std::vector<Elf64_Phdr> phdrs;      // all of them, in file order
  std::vector<ElfSegment> loads;      // PT_LOAD in file order (may overlap)
  std::optional<std::string> interp;  // PT_INTERP up to its first NUL
  // Address of the program header table before the load bias, as Linux
  // computes AT_PHDR: inside the PT_LOAD whose file range covers e_phoff.
  // nullopt when no PT_LOAD covers it (Linux then reports the load bias).
  std::optional<uint64_t> phdr_vaddr;
  std::optional<uint64_t> pt_phdr_vaddr;  // p_vaddr of PT_PHDR, if any
  bool has_gnu_stack = false;
  bool stack_executable = false;  // PT_GNU_STACK with PF_X (x86_64 default: no)
  uint64_t lowest_vaddr = 0;      // min p_vaddr over PT_LOAD
  uint64_t highest_vaddr = 0;     // max p_vaddr + p_memsz over PT_LOAD
  // maximum_alignment() of fs/binfmt_elf.c: the largest power-of-two
  // p_align of the PT_LOADs, at least a page.
  uint64_t max_align = 4096;

  // total_mapping_size() of fs/binfmt_elf.c: from the page holding the
  // lowest PT_LOAD to the end of the highest.
  uint64_t total_mapping_size() const { return highest_vaddr - (lowest_vaddr & ~uint64_t{4095}); }
};

// What the file is run as: load_elf_binary() checks a program's e_type
// before the point of no return; an interpreter's e_type is checked by
// load_elf_interp() after it (check_layout()).
enum class ElfRole { kProgram, kInterpreter };

// The checks made before the point of no return. Never reads outside the
// file. Errors are ENOEXEC (EIO or the read's errno for PT_INTERP).
ElfOr<ElfImage> parse_elf(const FileReader& file, ElfRole role = ElfRole::kProgram);
inline ElfOr<ElfImage> parse_elf(std::span<const uint8_t> bytes, ElfRole role = ElfRole::kProgram) {
  return parse_elf(SpanReader(bytes), role);
}

// The checks load_elf_binary() and load_elf_interp() make while mapping,
// after the point of no return (EINVAL): no PT_LOAD, p_filesz > p_memsz,
// a segment or the entry point beyond the user range, p_offset and p_vaddr
// not congruent modulo the page size (elf_map's mmap), an interpreter that
// is not ET_EXEC or ET_DYN. What passes can be mapped without overflow.
ElfOr<bool> check_layout(const ElfImage& image, ElfRole role);

// "aarch64", "i386", ... for an e_machine value; nullptr if not in the table.
const char* elf_machine_name(uint16_t machine);

}  // namespace elfuse
