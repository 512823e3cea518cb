// Loader: placement arithmetic against Linux's constants, and loading
// built ELF files into a real MemoryManager over a host reservation.
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "loader/load.h"
#include "mm/layout.h"
#include "mm/memory_manager.h"

namespace elfuse {
namespace {

constexpr uint64_t kTaskSize = (1ull << 47) - 4096;

TEST(LoaderMath, EtDynBaseMatchesLinux) {
  // The well-known non-randomized PIE base 0x555555554000 comes from here.
  EXPECT_EQ(elf_et_dyn_base(kTaskSize), 0x555555554aaaull);
  ElfImage img;
  img.lowest_vaddr = 0;
  img.max_align = 4096;
  EXPECT_EQ(pie_load_bias(img, kTaskSize, false, 0), 0x555555554000ull);
  img.max_align = 2ull << 20;
  EXPECT_EQ(pie_load_bias(img, kTaskSize, false, 0), 0x555555400000ull);
  img.max_align = 4096;
  EXPECT_EQ(pie_load_bias(img, kTaskSize, true, 1), 0x555555555000ull);
  // Random bits above mmap_rnd_bits are ignored.
  EXPECT_EQ(arch_mmap_rnd(~0ull), ((1ull << 28) - 1) << 12);
}

TEST(LoaderMath, RandomizePage) {
  EXPECT_EQ(randomize_page(0x10000, 0x10000, 0), 0x10000u);
  EXPECT_EQ(randomize_page(0x10000, 0x10000, 17), 0x10000u + (17 % 16) * 4096);
  EXPECT_EQ(randomize_page(0x10001, 0x10000, 0), 0x11000u);  // rounded up, range shrinks
  EXPECT_EQ(randomize_page(0x10000, 0xfff, 5), 0x10000u);    // range under a page
}

TEST(LoaderMath, InitialBrk) {
  ElfImage exe;
  exe.type = ET_EXEC;
  LoadOptions fixed;
  fixed.randomize = false;
  EXPECT_EQ(initial_brk(exe, 0x403800, false, kTaskSize, fixed, 0), 0x404000u);
  LoadOptions rnd;
  // Gap page, then up to 1 GiB (arch_randomize_brk on 64-bit).
  EXPECT_EQ(initial_brk(exe, 0x403800, false, kTaskSize, rnd, 3), 0x405000u + 3 * 4096);
  exe.type = ET_DYN;  // static PIE: brk moves to ELF_ET_DYN_BASE
  EXPECT_EQ(initial_brk(exe, 0x7f0000003800, false, kTaskSize, fixed, 0), 0x555555555000u);
  EXPECT_EQ(initial_brk(exe, 0x7f0000003800, true, kTaskSize, fixed, 0), 0x7f0000004000u);
  LoadOptions compat = fixed;
  compat.compat_brk = true;
  EXPECT_EQ(initial_brk(exe, 0x7f0000003800, false, kTaskSize, compat, 0), 0x7f0000004000u);
}

TEST(LoaderMath, AuxvOrder) {
  LoadedProgram prog;
  prog.at_phdr = 0x400040;
  prog.at_phnum = 3;
  prog.at_entry = 0x401000;
  AuxvInputs in;
  in.sysinfo_ehdr = 0x7fff0000;
  in.rseq_feature_size = 28;
  in.rseq_align = 32;
  auto v = linux_auxv(in, prog);
  std::vector<uint64_t> types;
  for (auto& e : v) types.push_back(e.type);
  // The order a 6.x x86_64 kernel emits (LD_SHOW_AUXV=1 /bin/true).
  std::vector<uint64_t> want = {AT_SYSINFO_EHDR, AT_MINSIGSTKSZ, AT_HWCAP,
                                AT_PAGESZ,       AT_CLKTCK,      AT_PHDR,
                                AT_PHENT,        AT_PHNUM,       AT_BASE,
                                AT_FLAGS,        AT_ENTRY,       AT_UID,
                                AT_EUID,         AT_GID,         AT_EGID,
                                AT_SECURE,       AT_RANDOM,      AT_HWCAP2,
                                AT_EXECFN,       AT_PLATFORM,    AT_RSEQ_FEATURE_SIZE,
                                AT_RSEQ_ALIGN};
  EXPECT_EQ(types, want);
}

// ---- a real MemoryManager ----

class NoShadow : public ShadowSync {
 public:
  void narrowed(uint64_t, uint64_t) override {}
  void freed(uint64_t, uint64_t) override {}
};

class LoaderTest : public testing::Test {
 protected:
  static constexpr uint64_t kPhys = 256ull << 20;
  static constexpr uint64_t kTables = 16ull << 20;

  void SetUp() override {
    void* p = ::mmap(nullptr, kPhys, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    reservation_ = static_cast<uint8_t*>(p);
    LayoutInputs li{kTaskSize, false, 8ull << 20, 65536, [] { return uint64_t{0}; }};
    mm_ = std::make_unique<MemoryManager>(
        reservation_, kPhys, PhysAllocator(kPhys, 0, kTables, kTables), &shadow_, make_layout(li));
    opts_.randomize = false;
    opts_.exe_path = "/test/prog";
  }
  void TearDown() override {
    mm_.reset();
    ::munmap(reservation_, kPhys);
  }

  std::optional<Vma> vma_at(uint64_t addr) { return mm_->find_vma(addr); }
  std::vector<uint8_t> read(uint64_t addr, uint64_t len) {
    std::vector<uint8_t> out(len);
    auto r = mm_->copy_in(out.data(), addr, len);
    EXPECT_TRUE(r.ok()) << std::hex << addr;
    return out;
  }

  NoShadow shadow_;
  uint8_t* reservation_ = nullptr;
  std::unique_ptr<MemoryManager> mm_;
  LoadOptions opts_;
};

// An ELF file in a memfd. File bytes are a pattern (byte i = i * 7 + 1) so
// that any misplaced copy shows.
struct ElfFile {
  Elf64_Ehdr eh{};
  std::vector<Elf64_Phdr> ph;
  uint64_t size = 0x4000;
  std::string interp;
  int fd = -1;

  explicit ElfFile(uint16_t type) {
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = type;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
  }
  ~ElfFile() {
    if (fd >= 0) close(fd);
  }
  void load(uint64_t off, uint64_t vaddr, uint64_t filesz, uint64_t memsz, uint32_t flags) {
    Elf64_Phdr p{};
    p.p_type = PT_LOAD;
    p.p_offset = off;
    p.p_vaddr = p.p_paddr = vaddr;
    p.p_filesz = filesz;
    p.p_memsz = memsz;
    p.p_flags = flags;
    p.p_align = 0x1000;
    ph.push_back(p);
  }
  static uint8_t pattern(uint64_t i) { return static_cast<uint8_t>(i * 7 + 1); }
  int open() {
    std::vector<uint8_t> bytes(size);
    for (uint64_t i = 0; i < size; i++) bytes[i] = pattern(i);
    if (!interp.empty()) {
      Elf64_Phdr p{};
      p.p_type = PT_INTERP;
      p.p_offset = 0x3800;
      p.p_filesz = interp.size() + 1;
      ph.insert(ph.begin(), p);
      std::memcpy(bytes.data() + 0x3800, interp.c_str(), interp.size() + 1);
    }
    eh.e_phnum = static_cast<uint16_t>(ph.size());
    std::memcpy(bytes.data(), &eh, sizeof eh);
    std::memcpy(bytes.data() + eh.e_phoff, ph.data(), ph.size() * sizeof(Elf64_Phdr));
    fd = memfd_create("elf", 0);
    EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    return fd;
  }
  uint8_t file_byte(uint64_t off) const {
    if (off < sizeof eh || (off >= eh.e_phoff && off < eh.e_phoff + ph.size() * 56)) return 0;
    return pattern(off);
  }
};

TEST_F(LoaderTest, StaticExecutable) {
  ElfFile f(ET_EXEC);
  f.eh.e_entry = 0x401000;
  f.load(0, 0x400000, 0x2000, 0x2000, PF_R | PF_X);
  f.load(0x2000, 0x402000, 0x800, 0x1800, PF_R | PF_W);  // bss from 0x402800
  auto r = load_program(*mm_, f.open(), opts_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const LoadedProgram& p = r.value();
  EXPECT_EQ(p.entry, 0x401000u);
  EXPECT_EQ(p.at_entry, 0x401000u);
  EXPECT_EQ(p.at_phdr, 0x400040u);
  EXPECT_EQ(p.at_phnum, 2u);
  EXPECT_EQ(p.at_base, 0u);
  EXPECT_EQ(p.exe.bias, 0u);
  EXPECT_EQ(p.brk_start, 0x404000u);
  EXPECT_EQ(mm_->layout().brk_start, 0x404000u);
  EXPECT_EQ(mm_->layout().brk, 0x404000u);

  ASSERT_TRUE(vma_at(0x400000));
  EXPECT_EQ(vma_at(0x400000)->prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(vma_at(0x400000)->end, 0x402000u);
  ASSERT_TRUE(vma_at(0x402000));
  EXPECT_EQ(vma_at(0x402000)->prot, PROT_READ | PROT_WRITE);
  EXPECT_TRUE(vma_at(0x403000));
  EXPECT_FALSE(vma_at(0x404000));

  auto text = read(0x401000, 0x1000);
  for (uint64_t i = 0; i < text.size(); i++) ASSERT_EQ(text[i], f.file_byte(0x1000 + i)) << i;
  auto data = read(0x402000, 0x2000);
  for (uint64_t i = 0; i < 0x800; i++) ASSERT_EQ(data[i], f.file_byte(0x2000 + i)) << i;
  for (uint64_t i = 0x800; i < 0x2000; i++) ASSERT_EQ(data[i], 0) << "bss byte " << i;
}

TEST_F(LoaderTest, ReadOnlySegmentKeepsFileTail) {
  // No PROT_WRITE: padzero() fails silently in Linux, so the bytes after
  // p_filesz in the last file page are the file's.
  ElfFile f(ET_EXEC);
  f.eh.e_entry = 0x400100;
  f.load(0, 0x400000, 0x1800, 0x3000, PF_R);
  auto r = load_program(*mm_, f.open(), opts_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto page = read(0x401000, 0x1000);
  for (uint64_t i = 0; i < 0x1000; i++) ASSERT_EQ(page[i], f.file_byte(0x1000 + i)) << i;
  auto bss = read(0x402000, 0x1000);
  for (uint8_t b : bss) ASSERT_EQ(b, 0);
}

TEST_F(LoaderTest, SharedPageTakesLaterSegment) {
  ElfFile f(ET_EXEC);
  f.eh.e_entry = 0x400100;
  f.load(0, 0x400000, 0x1800, 0x1800, PF_R | PF_X);
  f.load(0x1800, 0x401800, 0x1000, 0x2000, PF_R | PF_W);
  auto r = load_program(*mm_, f.open(), opts_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(vma_at(0x400000)->prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(vma_at(0x401000)->prot, PROT_READ | PROT_WRITE);
  auto page = read(0x401000, 0x1000);
  for (uint64_t i = 0; i < 0x1000; i++) ASSERT_EQ(page[i], f.file_byte(0x1000 + i)) << i;
  auto tail = read(0x402800, 0x1000);
  for (uint8_t b : tail) ASSERT_EQ(b, 0);
}

TEST_F(LoaderTest, StaticPieGoesToMmapRegion) {
  ElfFile f(ET_DYN);
  f.eh.e_entry = 0x1000;
  f.load(0, 0, 0x2000, 0x2000, PF_R | PF_X);
  f.load(0x2000, 0x2000, 0x800, 0x1800, PF_R | PF_W);
  auto r = load_program(*mm_, f.open(), opts_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const LoadedProgram& p = r.value();
  // Highest free range below mmap_base, as vm_mmap(NULL, total_size) picks.
  EXPECT_EQ(p.exe.bias, mm_->layout().mmap_base - 0x4000);
  EXPECT_EQ(p.entry, p.exe.bias + 0x1000);
  EXPECT_EQ(p.at_phdr, p.exe.bias + 0x40);
  EXPECT_EQ(p.brk_start, 0x555555555000u);  // moved to ELF_ET_DYN_BASE
  auto hdr = read(p.exe.bias, 4);
  EXPECT_EQ(std::memcmp(hdr.data(), ELFMAG, 4), 0);
}

TEST_F(LoaderTest, PieWithInterpreter) {
  ElfFile interp(ET_DYN);
  interp.eh.e_entry = 0x1100;
  interp.load(0, 0, 0x2000, 0x3000, PF_R | PF_X | PF_W);
  interp.open();

  ElfFile f(ET_DYN);
  f.eh.e_entry = 0x1000;
  f.interp = "/lib64/ld-test.so";
  f.load(0, 0, 0x2000, 0x2000, PF_R | PF_X);
  f.load(0x2000, 0x2000, 0x2000, 0x2000, PF_R | PF_W);
  std::string asked;
  InterpOpener opener = [&](const std::string& path) -> ElfOr<UniqueFd> {
    asked = path;
    return UniqueFd(dup(interp.fd));
  };
  auto r = load_program(*mm_, f.open(), opts_, opener);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const LoadedProgram& p = r.value();
  EXPECT_EQ(asked, "/lib64/ld-test.so");
  EXPECT_EQ(p.exe.bias, 0x555555554000u);
  ASSERT_TRUE(p.interp.has_value());
  EXPECT_EQ(p.interp->bias, mm_->layout().mmap_base - 0x3000);
  EXPECT_EQ(p.at_base, p.interp->bias);
  EXPECT_EQ(p.entry, p.interp->bias + 0x1100);
  EXPECT_EQ(p.at_entry, 0x555555555000u);
  EXPECT_EQ(p.brk_start, 0x555555558000u);  // end of the program, not the interpreter
}

TEST_F(LoaderTest, InterpreterNotElfIsElibbad) {
  int junk = memfd_create("junk", 0);
  char text[64] = "#!/bin/sh\n";  // a whole header's worth: the magic decides
  ASSERT_EQ(write(junk, text, sizeof text), 64);
  ElfFile f(ET_DYN);
  f.eh.e_entry = 0x1000;
  f.interp = "/lib/junk";
  f.load(0, 0, 0x2000, 0x2000, PF_R | PF_X);
  InterpOpener opener = [&](const std::string&) -> ElfOr<UniqueFd> { return UniqueFd(dup(junk)); };
  auto r = load_program(*mm_, f.open(), opts_, opener);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().linux_errno, ELIBBAD);
  EXPECT_NE(r.error().message.find("/lib/junk"), std::string::npos);
  EXPECT_TRUE(mm_->snapshot().empty()) << "nothing mapped before the interpreter is checked";
  close(junk);
}

TEST_F(LoaderTest, InterpreterShorterThanHeaderIsEio) {
  // load_elf_binary: elf_read() of the interpreter's header comes first.
  int junk = memfd_create("junk", 0);
  ASSERT_EQ(write(junk, "#!/bin/sh\n", 10), 10);
  InterpOpener opener = [&](const std::string&) -> ElfOr<UniqueFd> { return UniqueFd(dup(junk)); };
  auto r = open_interpreter("/lib/junk", opener);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().linux_errno, EIO);
  close(junk);
}

TEST_F(LoaderTest, DynamicWithoutOpenerFails) {
  ElfFile f(ET_DYN);
  f.interp = "/lib/ld.so";
  f.load(0, 0, 0x2000, 0x2000, PF_R | PF_X);
  auto r = load_program(*mm_, f.open(), opts_);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mm_->snapshot().empty());
}

TEST_F(LoaderTest, ParseErrorsPassThrough) {
  ElfFile f(ET_EXEC);
  f.eh.e_machine = EM_AARCH64;
  f.load(0, 0x400000, 0x2000, 0x2000, PF_R | PF_X);
  auto r = load_program(*mm_, f.open(), opts_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ElfErrorKind::kWrongMachine);
}

TEST_F(LoaderTest, HostBusybox) {
  int fd = ::open("/bin/busybox", O_RDONLY | O_CLOEXEC);
  if (fd < 0) GTEST_SKIP() << "no /bin/busybox";
  auto r = load_program(*mm_, fd, opts_);
  close(fd);
  if (!r.ok() && r.error().message.find("interpreter") != std::string::npos)
    GTEST_SKIP() << "dynamic busybox";
  ASSERT_TRUE(r.ok()) << r.error().message;
  uint8_t first = 0;
  EXPECT_TRUE(mm_->copy_in(&first, r->entry, 1).ok());
  std::optional<Vma> text = vma_at(r->entry);
  ASSERT_TRUE(text);
  EXPECT_TRUE(text->prot & PROT_EXEC);
}

TEST_F(LoaderTest, HostLsWithInterpreter) {
  int fd = ::open("/bin/ls", O_RDONLY | O_CLOEXEC);
  if (fd < 0) GTEST_SKIP() << "no /bin/ls";
  InterpOpener opener = [](const std::string& path) -> ElfOr<UniqueFd> {
    int ifd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ifd < 0) return ElfError{ElfErrorKind::kIo, errno, path + ": cannot open"};
    return UniqueFd(ifd);
  };
  auto r = load_program(*mm_, fd, opts_, opener);
  close(fd);
  ASSERT_TRUE(r.ok()) << r.error().message;
  if (!r->interp) GTEST_SKIP() << "static /bin/ls";
  EXPECT_EQ(r->exe.bias, 0x555555554000u);
  EXPECT_EQ(r->entry, r->interp->entry);
  EXPECT_TRUE(vma_at(r->entry));
  EXPECT_TRUE(vma_at(r->entry)->prot & PROT_EXEC);
  // AT_PHDR points at the program's own headers.
  Elf64_Phdr first{};
  ASSERT_TRUE(mm_->copy_in(&first, r->at_phdr, sizeof first).ok());
  EXPECT_EQ(first.p_type, r->exe.image.phdrs[0].p_type);
}

TEST_F(LoaderTest, StackMapping) {
  InitialStackInput in;
  in.argv = {"prog", "arg"};
  in.envp = {"A=1"};
  in.execfn = "/bin/prog";
  in.auxv = {{AT_PAGESZ, 4096}};
  auto r = map_initial_stack(*mm_, in, StackOptions{});
  ASSERT_TRUE(r.ok()) << r.error();
  const MappedStack& s = r.value();
  EXPECT_EQ(s.vma_end, mm_->layout().stack_top);
  EXPECT_EQ(s.vma_end - s.vma_start, 8ull << 20);
  EXPECT_EQ(s.rsp() % 16, 0u);
  std::optional<Vma> v = vma_at(s.rsp());
  ASSERT_TRUE(v);
  EXPECT_EQ(v->name, "[stack]");
  EXPECT_EQ(v->prot, PROT_READ | PROT_WRITE);
  uint64_t argc = 0;
  ASSERT_TRUE(mm_->copy_in(&argc, s.rsp(), 8).ok());
  EXPECT_EQ(argc, 2u);
  uint64_t argv0 = 0;
  ASSERT_TRUE(mm_->copy_in(&argv0, s.rsp() + 8, 8).ok());
  auto str = mm_->copy_in_string(argv0, 64);
  ASSERT_TRUE(str.ok());
  EXPECT_EQ(str.value(), "prog");
}

}  // namespace
}  // namespace elfuse
