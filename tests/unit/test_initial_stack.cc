// Initial stack: build an image, then read it back the way a libc's _start
// and ld.so do (from rsp upwards) and check every pointer against the
// layout of fs/binfmt_elf.c create_elf_tables().
#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "loader/initial_stack.h"

namespace elfuse {
namespace {

constexpr uint64_t kTop = 0x7ffffffde000;

// The image seen as guest memory [start, stack_top).
struct View {
  const InitialStack& st;
  uint64_t top;

  bool inside(uint64_t addr, uint64_t len) const {
    return addr >= st.start && addr <= top && len <= top - addr;
  }
  uint64_t word(uint64_t addr) const {
    EXPECT_TRUE(inside(addr, 8)) << std::hex << addr;
    EXPECT_EQ(addr % 8, 0u);
    uint64_t v = 0;
    if (inside(addr, 8)) std::memcpy(&v, st.bytes.data() + (addr - st.start), 8);
    return v;
  }
  std::string string_at(uint64_t addr) const {
    std::string s;
    while (inside(addr, 1)) {
      char c = static_cast<char>(st.bytes[addr - st.start]);
      if (c == '\0') return s;
      s += c;
      addr++;
    }
    ADD_FAILURE() << "string runs off the stack";
    return s;
  }
};

struct Parsed {
  uint64_t argc = 0;
  std::vector<uint64_t> argv_ptrs, envp_ptrs;
  std::vector<AuxEntry> auxv;  // including AT_NULL
  uint64_t auxv_addr = 0;
};

Parsed parse_back(const View& v) {
  Parsed p;
  uint64_t a = v.st.rsp;
  p.argc = v.word(a);
  a += 8;
  for (uint64_t i = 0; i < p.argc; i++, a += 8) p.argv_ptrs.push_back(v.word(a));
  EXPECT_EQ(v.word(a), 0u) << "argv not NULL-terminated";
  a += 8;
  for (uint64_t w; (w = v.word(a)) != 0; a += 8) p.envp_ptrs.push_back(w);
  a += 8;
  p.auxv_addr = a;
  for (;; a += 16) {
    AuxEntry e{v.word(a), v.word(a + 8)};
    p.auxv.push_back(e);
    if (e.type == AT_NULL) break;
    if (p.auxv.size() > 100) {
      ADD_FAILURE() << "no AT_NULL";
      break;
    }
  }
  return p;
}

uint64_t aux(const Parsed& p, uint64_t type) {
  for (const AuxEntry& e : p.auxv)
    if (e.type == type) return e.value;
  ADD_FAILURE() << "no auxv entry " << type;
  return 0;
}

InitialStackInput sample_input() {
  InitialStackInput in;
  in.stack_top = kTop;
  in.argv = {"/bin/prog", "-x", "hello world"};
  in.envp = {"HOME=/root", "PATH=/bin:/usr/bin", "A="};
  in.execfn = "./prog";
  in.auxv = {
      {AT_MINSIGSTKSZ, 3376}, {AT_HWCAP, 0x178bfbff}, {AT_PAGESZ, 4096}, {AT_CLKTCK, 100},
      {AT_PHDR, 0x400040},    {AT_PHENT, 56},         {AT_PHNUM, 9},     {AT_BASE, 0},
      {AT_FLAGS, 0},          {AT_ENTRY, 0x401000},   {AT_UID, 1000},    {AT_EUID, 1000},
      {AT_GID, 1000},         {AT_EGID, 1000},        {AT_SECURE, 0},    {AT_RANDOM, 0},
      {AT_HWCAP2, 2},         {AT_EXECFN, 0},         {AT_PLATFORM, 0},  {AT_RSEQ_FEATURE_SIZE, 28},
      {AT_RSEQ_ALIGN, 32}};
  for (int i = 0; i < 16; i++) in.random[i] = static_cast<uint8_t>(0xa0 + i);
  return in;
}

// Every property of the layout, for any input.
void check_layout(const InitialStackInput& in, const InitialStack& st) {
  View v{st, in.stack_top};
  ASSERT_EQ(st.start, st.rsp);
  ASSERT_EQ(st.start + st.bytes.size(), in.stack_top);
  EXPECT_EQ(st.rsp % 16, 0u) << "rsp must be 16-byte aligned at entry";

  Parsed p = parse_back(v);
  std::vector<std::string> argv = in.argv.empty() ? std::vector<std::string>{""} : in.argv;
  ASSERT_EQ(p.argc, argv.size());
  ASSERT_EQ(p.envp_ptrs.size(), in.envp.size());
  EXPECT_EQ(p.auxv_addr, st.auxv_addr);
  EXPECT_EQ(p.auxv.size(), st.auxv_count);

  // The top pointer-sized slot is zero; execfn sits right below it.
  EXPECT_EQ(v.word(in.stack_top - 8), 0u);
  EXPECT_EQ(st.execfn_addr + in.execfn.size() + 1, in.stack_top - 8);
  EXPECT_EQ(v.string_at(st.execfn_addr), in.execfn);

  // Strings: argv then envp, contiguous and ascending, ending at execfn.
  uint64_t expect = st.arg_start;
  for (size_t i = 0; i < argv.size(); i++) {
    EXPECT_EQ(p.argv_ptrs[i], expect) << "argv[" << i << "]";
    EXPECT_EQ(v.string_at(p.argv_ptrs[i]), argv[i]);
    expect += argv[i].size() + 1;
  }
  EXPECT_EQ(st.arg_end, expect);
  EXPECT_EQ(st.env_start, expect);
  for (size_t i = 0; i < in.envp.size(); i++) {
    EXPECT_EQ(p.envp_ptrs[i], expect) << "envp[" << i << "]";
    EXPECT_EQ(v.string_at(p.envp_ptrs[i]), in.envp[i]);
    expect += in.envp[i].size() + 1;
  }
  EXPECT_EQ(st.env_end, expect);
  EXPECT_EQ(expect, st.execfn_addr);

  // Platform string just below the (aligned) strings, random bytes below it.
  uint64_t aligned = (st.arg_start - in.align_random % 8192) & ~uint64_t{15};
  EXPECT_EQ(st.platform_addr, aligned - (in.platform.size() + 1));
  EXPECT_EQ(v.string_at(st.platform_addr), in.platform);
  EXPECT_EQ(st.random_addr, st.platform_addr - 16);
  EXPECT_EQ(std::memcmp(st.bytes.data() + (st.random_addr - st.start), in.random.data(), 16), 0);

  // auxv ends at AT_NULL with a zero value, and the padding between the
  // end of auxv and the random bytes is less than 16 bytes.
  EXPECT_EQ(p.auxv.back().type, uint64_t{AT_NULL});
  EXPECT_EQ(p.auxv.back().value, 0u);
  uint64_t auxv_end = p.auxv_addr + p.auxv.size() * 16;
  EXPECT_LE(auxv_end, st.random_addr);
  EXPECT_LT(st.random_addr - auxv_end, 16u);
  EXPECT_EQ(aux(p, AT_RANDOM), st.random_addr);
  EXPECT_EQ(aux(p, AT_EXECFN), st.execfn_addr);
  EXPECT_EQ(aux(p, AT_PLATFORM), st.platform_addr);
  // Caller's entries keep their order and values.
  size_t j = 0;
  for (const AuxEntry& e : in.auxv) {
    while (j < p.auxv.size() && p.auxv[j].type != e.type) j++;
    ASSERT_LT(j, p.auxv.size()) << "auxv entry " << e.type << " missing or out of order";
    if (e.type != AT_RANDOM && e.type != AT_EXECFN && e.type != AT_PLATFORM) {
      EXPECT_EQ(p.auxv[j].value, e.value);
    }
  }
}

TEST(InitialStack, SampleLayout) {
  InitialStackInput in = sample_input();
  auto r = build_initial_stack(in);
  ASSERT_TRUE(r.ok()) << r.error();
  check_layout(in, r.value());
  // AT_RANDOM/AT_EXECFN/AT_PLATFORM stayed where the caller put them.
  Parsed p = parse_back(View{r.value(), in.stack_top});
  ASSERT_EQ(p.auxv.size(), in.auxv.size() + 1);
  for (size_t i = 0; i < in.auxv.size(); i++) EXPECT_EQ(p.auxv[i].type, in.auxv[i].type) << i;
}

TEST(InitialStack, PlaceholdersAppendedInLinuxOrder) {
  InitialStackInput in = sample_input();
  in.auxv = {{AT_PAGESZ, 4096}, {AT_ENTRY, 0x401000}};
  auto r = build_initial_stack(in);
  ASSERT_TRUE(r.ok());
  check_layout(in, r.value());
  Parsed p = parse_back(View{r.value(), in.stack_top});
  ASSERT_EQ(p.auxv.size(), 6u);
  EXPECT_EQ(p.auxv[2].type, uint64_t{AT_RANDOM});
  EXPECT_EQ(p.auxv[3].type, uint64_t{AT_EXECFN});
  EXPECT_EQ(p.auxv[4].type, uint64_t{AT_PLATFORM});
  EXPECT_EQ(p.auxv[5].type, uint64_t{AT_NULL});
}

TEST(InitialStack, CallerAtNullIsNotDuplicated) {
  InitialStackInput in = sample_input();
  in.auxv.push_back({AT_NULL, 0});
  in.auxv.push_back({AT_UID, 5});  // after AT_NULL: ignored
  auto r = build_initial_stack(in);
  ASSERT_TRUE(r.ok());
  Parsed p = parse_back(View{r.value(), in.stack_top});
  EXPECT_EQ(p.auxv.size(), in.auxv.size() - 1);
}

// Alignment holds for every parity of argc/envc, string length and
// arch_align_stack() offset.
TEST(InitialStack, AlignmentAcrossShapes) {
  for (int argc = 0; argc < 5; argc++) {
    for (int envc = 0; envc < 4; envc++) {
      for (int len = 0; len < 18; len += 5) {
        for (uint32_t rnd : {0u, 1u, 7u, 8191u, 12345u}) {
          InitialStackInput in = sample_input();
          in.argv.clear();
          in.envp.clear();
          for (int i = 0; i < argc; i++) in.argv.push_back(std::string(len + i, 'a'));
          for (int i = 0; i < envc; i++) in.envp.push_back("E" + std::string(len * i, 'e') + "=1");
          in.execfn = std::string(len, 'x');
          in.align_random = rnd;
          if (argc == 3) in.auxv.pop_back();  // odd auxv count
          auto r = build_initial_stack(in);
          ASSERT_TRUE(r.ok());
          SCOPED_TRACE(testing::Message() << argc << " " << envc << " " << len << " " << rnd);
          check_layout(in, r.value());
        }
      }
    }
  }
}

TEST(InitialStack, EmptyArgvGetsEmptyArgv0) {
  InitialStackInput in = sample_input();
  in.argv.clear();
  auto r = build_initial_stack(in);
  ASSERT_TRUE(r.ok());
  check_layout(in, r.value());
  Parsed p = parse_back(View{r.value(), in.stack_top});
  EXPECT_EQ(p.argc, 1u);
}

TEST(InitialStack, StringTooLongIsE2big) {
  InitialStackInput in = sample_input();
  in.argv.push_back(std::string(32 * 4096, 'a'));  // 128 KiB + NUL > MAX_ARG_STRLEN
  auto r = build_initial_stack(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), E2BIG);
  in.argv.back().pop_back();  // exactly MAX_ARG_STRLEN with its NUL
  EXPECT_TRUE(build_initial_stack(in).ok());
}

TEST(InitialStack, TotalOverQuarterOfRlimitIsE2big) {
  InitialStackInput in = sample_input();
  in.rlimit_stack = 8ull << 20;  // strings may use 2 MiB minus pointers
  for (int i = 0; i < 17; i++) in.envp.push_back(std::string(128 * 1024 - 1, 'e'));
  auto r = build_initial_stack(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), E2BIG);
  in.envp.resize(in.envp.size() - 2);
  EXPECT_TRUE(build_initial_stack(in).ok());
}

TEST(InitialStack, SmallRlimitStillAllowsArgMax) {
  InitialStackInput in = sample_input();
  in.rlimit_stack = 64 * 1024;  // quarter is 16 KiB, but ARG_MAX (128 KiB) is the floor
  in.envp.push_back(std::string(100 * 1024, 'e'));
  EXPECT_TRUE(build_initial_stack(in).ok());
}

TEST(InitialStack, BadStackTop) {
  InitialStackInput in = sample_input();
  in.stack_top = kTop + 8;
  auto r = build_initial_stack(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), EINVAL);
  in.stack_top = 0x1000;  // far too low for the image
  r = build_initial_stack(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), EFAULT);
}

}  // namespace
}  // namespace elfuse
