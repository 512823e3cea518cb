// ELF parser: well-formed images built here, hostile ones derived from them,
// and the host's own binaries as a smoke test.
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "loader/elf.h"

namespace elfuse {
namespace {

// A small static-looking ELF: header, program headers right after it, then
// the segments' bytes. Tests edit the fields and call bytes().
struct ElfBuilder {
  Elf64_Ehdr eh{};
  std::vector<Elf64_Phdr> ph;
  uint64_t file_size = 0x3000;

  ElfBuilder() {
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = 0x401000;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    // Text: file [0, 0x2000) at 0x400000, r-x; covers the headers.
    ph.push_back(load(0, 0x400000, 0x2000, 0x2000, PF_R | PF_X));
    // Data + bss: file [0x2000, 0x2800) at 0x402000, rw-, 0x1000 of bss.
    ph.push_back(load(0x2000, 0x402000, 0x800, 0x1800, PF_R | PF_W));
    Elf64_Phdr stack{};
    stack.p_type = PT_GNU_STACK;
    stack.p_flags = PF_R | PF_W;
    ph.push_back(stack);
  }

  static Elf64_Phdr load(uint64_t off, uint64_t vaddr, uint64_t filesz, uint64_t memsz,
                         uint32_t flags) {
    Elf64_Phdr p{};
    p.p_type = PT_LOAD;
    p.p_offset = off;
    p.p_vaddr = p.p_paddr = vaddr;
    p.p_filesz = filesz;
    p.p_memsz = memsz;
    p.p_flags = flags;
    p.p_align = 0x1000;
    return p;
  }

  std::vector<uint8_t> bytes() {
    std::vector<uint8_t> out(file_size, 0);
    eh.e_phnum = static_cast<uint16_t>(ph.size());
    std::memcpy(out.data(), &eh, std::min<size_t>(sizeof eh, out.size()));
    size_t table = ph.size() * sizeof(Elf64_Phdr);
    if (eh.e_phoff <= out.size() && table <= out.size() - eh.e_phoff)
      std::memcpy(out.data() + eh.e_phoff, ph.data(), table);
    return out;
  }

  // Adds PT_INTERP with `contents` at file offset 0x2900.
  void add_interp(const std::string& contents) {
    Elf64_Phdr p{};
    p.p_type = PT_INTERP;
    p.p_offset = 0x2900;
    p.p_filesz = contents.size();
    p.p_flags = PF_R;
    ph.insert(ph.begin(), p);
    interp = contents;
  }
  std::vector<uint8_t> bytes_with_interp() {
    auto b = bytes();
    std::memcpy(b.data() + 0x2900, interp.data(), interp.size());
    return b;
  }
  std::string interp;
};

ElfError expect_error(const std::vector<uint8_t>& bytes, ElfErrorKind kind) {
  auto r = parse_elf(std::span<const uint8_t>(bytes));
  EXPECT_FALSE(r.ok());
  if (r.ok()) return {};
  EXPECT_EQ(static_cast<int>(r.error().kind), static_cast<int>(kind)) << r.error().message;
  EXPECT_FALSE(r.error().message.empty());
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  return r.error();
}

// Parsed (the checks before the point of no return pass) but refused by
// check_layout (after it: the process dies with SIGSEGV).
ElfError expect_layout_error(const std::vector<uint8_t>& bytes) {
  auto r = parse_elf(std::span<const uint8_t>(bytes));
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return {};
  auto l = check_layout(r.value(), ElfRole::kProgram);
  EXPECT_FALSE(l.ok());
  if (l.ok()) return {};
  EXPECT_EQ(static_cast<int>(l.error().kind), static_cast<int>(ElfErrorKind::kCorrupt));
  EXPECT_EQ(l.error().linux_errno, EINVAL);
  EXPECT_EQ(l.error().message.find('\n'), std::string::npos);
  return l.error();
}

// Parsed and laid out: what Linux maps.
ElfImage expect_accepted(const std::vector<uint8_t>& bytes) {
  auto r = parse_elf(std::span<const uint8_t>(bytes));
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return {};
  auto l = check_layout(r.value(), ElfRole::kProgram);
  EXPECT_TRUE(l.ok()) << l.error().message;
  return r.value();
}

TEST(ElfParse, MinimalExecutable) {
  ElfBuilder b;
  auto bytes = b.bytes();
  auto r = parse_elf(std::span<const uint8_t>(bytes));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ElfImage& img = r.value();
  EXPECT_EQ(img.type, ET_EXEC);
  EXPECT_EQ(img.entry, 0x401000u);
  EXPECT_EQ(img.phdrs.size(), 3u);
  ASSERT_EQ(img.loads.size(), 2u);
  EXPECT_EQ(img.loads[0].vaddr, 0x400000u);
  EXPECT_EQ(img.loads[0].prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(img.loads[1].prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ(img.loads[1].filesz, 0x800u);
  EXPECT_EQ(img.loads[1].memsz, 0x1800u);
  EXPECT_EQ(img.lowest_vaddr, 0x400000u);
  EXPECT_EQ(img.highest_vaddr, 0x403800u);
  EXPECT_EQ(img.total_mapping_size(), 0x3800u);
  EXPECT_FALSE(img.interp.has_value());
  ASSERT_TRUE(img.phdr_vaddr.has_value());
  EXPECT_EQ(*img.phdr_vaddr, 0x400040u);  // e_phoff inside the first PT_LOAD
  EXPECT_FALSE(img.pt_phdr_vaddr.has_value());
  EXPECT_TRUE(img.has_gnu_stack);
  EXPECT_FALSE(img.stack_executable);
  EXPECT_EQ(img.max_align, 0x1000u);
}

TEST(ElfParse, PieWithInterpAndExecStack) {
  ElfBuilder b;
  b.eh.e_type = ET_DYN;
  b.eh.e_entry = 0x1000;
  b.ph[0].p_vaddr = 0;
  b.ph[1].p_vaddr = 0x2000;
  b.ph[1].p_align = 0x200000;
  b.ph[2].p_flags |= PF_X;
  Elf64_Phdr phdr{};
  phdr.p_type = PT_PHDR;
  phdr.p_offset = 0x40;
  phdr.p_vaddr = 0x40;
  b.ph.insert(b.ph.begin(), phdr);
  b.add_interp(std::string("/lib64/ld-linux-x86-64.so.2") + '\0');
  auto bytes = b.bytes_with_interp();
  auto r = parse_elf(std::span<const uint8_t>(bytes));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->type, ET_DYN);
  ASSERT_TRUE(r->interp.has_value());
  EXPECT_EQ(*r->interp, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_EQ(r->pt_phdr_vaddr.value_or(1), 0x40u);
  EXPECT_EQ(r->phdr_vaddr.value_or(1), 0x40u);
  EXPECT_TRUE(r->stack_executable);
  EXPECT_EQ(r->max_align, 0x200000u);
}

TEST(ElfParse, InterpStopsAtFirstNul) {
  ElfBuilder b;
  b.add_interp(std::string("/lib/ld.so\0junk", 15) + '\0');
  auto bytes = b.bytes_with_interp();
  auto r = parse_elf(std::span<const uint8_t>(bytes));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r->interp, "/lib/ld.so");
}

TEST(ElfParse, InterpNotTerminated) {
  ElfBuilder b;
  b.add_interp("/lib/ld.so");
  auto e = expect_error(b.bytes_with_interp(), ElfErrorKind::kCorrupt);
  EXPECT_EQ(e.linux_errno, ENOEXEC);
}

TEST(ElfParse, InterpTooShortOrLong) {
  ElfBuilder b;
  b.add_interp(std::string(1, '\0'));
  expect_error(b.bytes_with_interp(), ElfErrorKind::kCorrupt);
  ElfBuilder c;
  c.add_interp("x");
  c.ph[0].p_filesz = 5000;
  expect_error(c.bytes(), ElfErrorKind::kCorrupt);
}

TEST(ElfParse, PhdrNotInsideAnyLoad) {
  ElfBuilder b;
  b.ph[0].p_offset = 0x1000;
  b.ph[0].p_vaddr = 0x401000;
  b.ph[0].p_filesz = b.ph[0].p_memsz = 0x1000;
  auto bytes = b.bytes();
  auto r = parse_elf(std::span<const uint8_t>(bytes));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->phdr_vaddr.has_value());
}

TEST(ElfParse, EmptyFile) {
  auto e = expect_error({}, ElfErrorKind::kNotElf);
  EXPECT_EQ(e.linux_errno, ENOEXEC);
}

TEST(ElfParse, TruncatedHeader) {
  ElfBuilder b;
  auto bytes = b.bytes();
  bytes.resize(20);
  auto e = expect_error(bytes, ElfErrorKind::kNotElf);
  EXPECT_NE(e.message.find("truncated"), std::string::npos);
}

TEST(ElfParse, BadMagic) {
  ElfBuilder b;
  auto bytes = b.bytes();
  bytes[1] = 'X';
  expect_error(bytes, ElfErrorKind::kNotElf);
  std::string script = "#!/bin/sh\necho hi\n";
  expect_error(std::vector<uint8_t>(script.begin(), script.end()), ElfErrorKind::kNotElf);
}

TEST(ElfParse, WrongClass) {
  ElfBuilder b;
  b.eh.e_ident[EI_CLASS] = ELFCLASS32;
  b.eh.e_machine = EM_386;
  auto e = expect_error(b.bytes(), ElfErrorKind::kWrongClass);
  EXPECT_NE(e.message.find("32-bit"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("i386"), std::string::npos) << e.message;
  ElfBuilder c;
  c.eh.e_ident[EI_CLASS] = 7;
  expect_error(c.bytes(), ElfErrorKind::kWrongClass);
}

TEST(ElfParse, WrongMachineAarch64) {
  ElfBuilder b;
  b.eh.e_machine = EM_AARCH64;
  auto e = expect_error(b.bytes(), ElfErrorKind::kWrongMachine);
  EXPECT_EQ(e.linux_errno, ENOEXEC);
  EXPECT_NE(e.message.find("aarch64"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("x86_64"), std::string::npos) << e.message;
}

TEST(ElfParse, WrongMachineBigEndian) {
  ElfBuilder b;
  b.eh.e_ident[EI_DATA] = ELFDATA2MSB;
  b.eh.e_machine = static_cast<uint16_t>((EM_PPC64 >> 8) | (EM_PPC64 << 8));  // as stored BE
  auto e = expect_error(b.bytes(), ElfErrorKind::kWrongMachine);
  EXPECT_NE(e.message.find("powerpc64"), std::string::npos) << e.message;
}

TEST(ElfParse, UnknownMachineNamedByNumber) {
  ElfBuilder b;
  b.eh.e_machine = 9999;
  auto e = expect_error(b.bytes(), ElfErrorKind::kWrongMachine);
  EXPECT_NE(e.message.find("9999"), std::string::npos) << e.message;
}

TEST(ElfParse, MachineNames) {
  EXPECT_STREQ(elf_machine_name(EM_AARCH64), "aarch64");
  EXPECT_STREQ(elf_machine_name(EM_386), "i386");
  EXPECT_STREQ(elf_machine_name(EM_ARM), "arm");
  EXPECT_STREQ(elf_machine_name(EM_RISCV), "riscv");
  EXPECT_STREQ(elf_machine_name(EM_PPC64), "powerpc64");
  EXPECT_STREQ(elf_machine_name(EM_S390), "s390");
  EXPECT_EQ(elf_machine_name(0xfffe), nullptr);
}

TEST(ElfParse, NotAnExecutableType) {
  ElfBuilder b;
  b.eh.e_type = ET_REL;
  expect_error(b.bytes(), ElfErrorKind::kNotElf);
  b.eh.e_type = ET_CORE;
  expect_error(b.bytes(), ElfErrorKind::kNotElf);
}

TEST(ElfParse, BadPhentsize) {
  ElfBuilder b;
  b.eh.e_phentsize = 32;
  auto e = expect_error(b.bytes(), ElfErrorKind::kCorrupt);
  EXPECT_NE(e.message.find("e_phentsize"), std::string::npos);
}

TEST(ElfParse, PhnumZero) {
  ElfBuilder b;
  b.ph.clear();
  expect_error(b.bytes(), ElfErrorKind::kCorrupt);
}

TEST(ElfParse, PhnumHuge) {
  ElfBuilder b;
  auto bytes = b.bytes();
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes.data(), sizeof eh);
  eh.e_phnum = 0xffff;
  std::memcpy(bytes.data(), &eh, sizeof eh);
  auto e = expect_error(bytes, ElfErrorKind::kCorrupt);
  EXPECT_NE(e.message.find("absurd"), std::string::npos) << e.message;
  // 73 * 56 = 4088 fits one page; 74 does not (load_elf_phdrs).
  eh.e_phnum = 74;
  std::memcpy(bytes.data(), &eh, sizeof eh);
  expect_error(bytes, ElfErrorKind::kCorrupt);
}

TEST(ElfParse, SeventyThreeHeadersAccepted) {
  ElfBuilder b;
  Elf64_Phdr note{};
  note.p_type = PT_NOTE;
  while (b.ph.size() < 73) b.ph.push_back(note);
  auto bytes = b.bytes();
  auto r = parse_elf(std::span<const uint8_t>(bytes));
  EXPECT_TRUE(r.ok()) << r.error().message;
}

TEST(ElfParse, PhoffPastEof) {
  // load_elf_phdrs fails whatever elf_read found: ENOEXEC.
  ElfBuilder b;
  b.eh.e_phoff = 0x2fe0;
  auto e = expect_error(b.bytes(), ElfErrorKind::kCorrupt);
  EXPECT_EQ(e.linux_errno, ENOEXEC);
  b.eh.e_phoff = ~uint64_t{0} - 8;  // offset + size overflows
  e = expect_error(b.bytes(), ElfErrorKind::kCorrupt);
  EXPECT_EQ(e.linux_errno, ENOEXEC);
}

TEST(ElfLayout, VaddrPlusMemszOverflows) {
  ElfBuilder b;
  b.ph[1].p_vaddr = 0xfffffffffffff000;
  b.ph[1].p_offset = 0x2000;
  b.ph[1].p_memsz = 0x2000;
  auto e = expect_layout_error(b.bytes());
  EXPECT_NE(e.message.find("overflows"), std::string::npos) << e.message;
}

TEST(ElfLayout, BeyondUserRange) {
  ElfBuilder b;
  b.ph[1].p_vaddr = 0x7ffffffff000;
  b.ph[1].p_offset = 0x2000;
  auto e = expect_layout_error(b.bytes());
  EXPECT_NE(e.message.find("user address range"), std::string::npos) << e.message;
}

TEST(ElfLayout, EntryBeyondUserRange) {
  ElfBuilder b;
  b.eh.e_entry = 0xffffffff81000000;
  expect_layout_error(b.bytes());
}

TEST(ElfLayout, FileszGreaterThanMemsz) {
  ElfBuilder b;
  b.ph[1].p_filesz = 0x2000;
  b.ph[1].p_memsz = 0x1000;
  auto e = expect_layout_error(b.bytes());
  EXPECT_NE(e.message.find("p_filesz"), std::string::npos) << e.message;
}

TEST(ElfLayout, SegmentPastEndOfFileIsMapped) {
  // Linux maps it; a page wholly past EOF is SIGBUS when touched.
  ElfBuilder b;
  b.ph[1].p_filesz = 0x1800;  // file is 0x3000 bytes; 0x2000 + 0x1800 > it
  b.ph[1].p_memsz = 0x1800;
  expect_accepted(b.bytes());
}

TEST(ElfLayout, MisalignedOffset) {
  ElfBuilder b;
  b.ph[1].p_offset = 0x2010;
  b.ph[1].p_filesz = 0x100;
  auto e = expect_layout_error(b.bytes());
  EXPECT_NE(e.message.find("modulo the page size"), std::string::npos) << e.message;
  // Without file bytes there is no file mapping to misalign.
  b.ph[1].p_filesz = 0;
  expect_accepted(b.bytes());
}

TEST(ElfLayout, UnsortedLoadsKeepFileOrder) {
  ElfBuilder b;
  std::swap(b.ph[0], b.ph[1]);
  ElfImage img = expect_accepted(b.bytes());
  ASSERT_EQ(img.loads.size(), 2u);
  EXPECT_GT(img.loads[0].vaddr, img.loads[1].vaddr);
  EXPECT_EQ(img.lowest_vaddr, img.loads[1].vaddr);
  EXPECT_EQ(img.highest_vaddr, img.loads[0].end());
}

TEST(ElfLayout, OverlappingLoads) {
  ElfBuilder b;
  b.ph[0].p_memsz = 0x2100;  // text runs into data's first bytes
  expect_accepted(b.bytes());
}

TEST(ElfParse, SharedPageIsFine) {
  // Text ends mid-page and data starts later in the same page: normal
  // for linkers that do not page-align segments in the address space.
  ElfBuilder b;
  b.ph[0].p_filesz = b.ph[0].p_memsz = 0x1800;
  b.ph[1].p_offset = 0x1800;
  b.ph[1].p_vaddr = 0x401800;
  auto bytes = b.bytes();
  auto r = parse_elf(std::span<const uint8_t>(bytes));
  EXPECT_TRUE(r.ok()) << r.error().message;
}

TEST(ElfLayout, NoLoadSegment) {
  ElfBuilder b;
  b.ph.erase(b.ph.begin(), b.ph.begin() + 2);
  auto e = expect_layout_error(b.bytes());
  EXPECT_NE(e.message.find("no PT_LOAD"), std::string::npos) << e.message;
}

TEST(ElfParse, FdReaderMatchesSpan) {
  ElfBuilder b;
  auto bytes = b.bytes();
  int fd = memfd_create("elf", 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  auto reader = FdReader::open(fd);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->size(), bytes.size());
  auto r = parse_elf(reader.value());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->loads.size(), 2u);
  uint8_t buf[8];
  int err = 0;
  EXPECT_FALSE(reader->read_exact(buf, 8, bytes.size() - 4, &err));
  EXPECT_EQ(err, EIO);
  close(fd);
}

TEST(ElfParse, FdReaderRejectsDirectory) {
  int fd = open("/", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  auto reader = FdReader::open(fd);
  EXPECT_FALSE(reader.ok());
  if (!reader.ok()) {
    EXPECT_EQ(reader.error().linux_errno, EACCES);
  }
  close(fd);
}

void parse_host_binary(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) GTEST_SKIP() << path << " not present";
  auto reader = FdReader::open(fd);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  auto r = parse_elf(reader.value());
  close(fd);
  ASSERT_TRUE(r.ok()) << path << ": " << r.error().message;
  EXPECT_TRUE(r->type == ET_EXEC || r->type == ET_DYN);
  EXPECT_FALSE(r->loads.empty());
  EXPECT_TRUE(r->phdr_vaddr.has_value());
  for (size_t i = 1; i < r->loads.size(); i++) EXPECT_GE(r->loads[i].vaddr, r->loads[i - 1].end());
  if (r->interp) {
    EXPECT_NE(r->interp->find("ld"), std::string::npos) << *r->interp;
  }
}

TEST(ElfParse, HostBusybox) {
  parse_host_binary("/bin/busybox");
}
TEST(ElfParse, HostLs) {
  parse_host_binary("/bin/ls");
}

}  // namespace
}  // namespace elfuse
