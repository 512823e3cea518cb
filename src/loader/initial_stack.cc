#include "loader/initial_stack.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

#include "abi/linux.h"
#include "base/checked.h"

namespace elfuse {
namespace {

// include/uapi/linux/binfmts.h and resource.h (MAX_ARG_STRLEN: abi/linux.h).
constexpr uint64_t kStkLim = 8ull << 20;      // _STK_LIM
constexpr uint64_t kArgMax = 32 * kPageSize;  // ARG_MAX: always allowed

// fs/exec.c bprm_stack_limits(): the strings may take 3/4 of _STK_LIM, at
// most a quarter of RLIMIT_STACK, at least ARG_MAX, minus the pointer arrays.
Result<uint64_t> string_space_limit(const InitialStackInput& in, uint64_t argc) {
  uint64_t limit = std::min(kStkLim / 4 * 3, in.rlimit_stack / 4);
  limit = std::max(limit, kArgMax);
  uint64_t ptr_size = (argc + in.envp.size()) * sizeof(uint64_t);
  if (limit <= ptr_size) return Errno{E2BIG};
  return limit - ptr_size;
}

// Bytes taken by the strings copied by copy_strings() and
// copy_string_kernel(), each with its NUL; E2BIG past the limits.
Result<uint64_t> strings_size(const InitialStackInput& in, const std::vector<std::string>& argv) {
  uint64_t limit = TRY(string_space_limit(in, argv.size()));
  uint64_t total = 0;
  auto add = [&](const std::string& s) -> bool {
    uint64_t len = s.size() + 1;
    if (len > kMaxArgStrlen) return false;
    total += len;  // bounded: at most a few million strings of <= 128 KiB
    return total <= limit;
  };
  if (!add(in.execfn)) return Errno{E2BIG};
  for (const auto& s : in.envp)
    if (!add(s)) return Errno{E2BIG};
  for (const auto& s : argv)
    if (!add(s)) return Errno{E2BIG};
  return total;
}

// The auxiliary vector with AT_RANDOM/AT_EXECFN/AT_PLATFORM present (in
// place if the caller put them there, else appended in create_elf_tables()
// order) and AT_NULL at the end. Values are filled in later.
std::vector<AuxEntry> complete_auxv(const std::vector<AuxEntry>& given) {
  std::vector<AuxEntry> out;
  bool have_random = false, have_execfn = false, have_platform = false;
  for (const AuxEntry& e : given) {
    if (e.type == AT_NULL) break;  // the caller's terminator, if any
    have_random |= e.type == AT_RANDOM;
    have_execfn |= e.type == AT_EXECFN;
    have_platform |= e.type == AT_PLATFORM;
    out.push_back(e);
  }
  if (!have_random) out.push_back({AT_RANDOM, 0});
  if (!have_execfn) out.push_back({AT_EXECFN, 0});
  if (!have_platform) out.push_back({AT_PLATFORM, 0});
  out.push_back({AT_NULL, 0});
  return out;
}

// Writes into the image by guest address; every write is inside
// [base, base + bytes.size()) by construction of the layout below.
class ImageWriter {
 public:
  ImageWriter(uint64_t base, std::vector<uint8_t>& bytes) : base_(base), bytes_(bytes) {}
  void put_bytes(uint64_t addr, const void* src, uint64_t len) {
    std::memcpy(bytes_.data() + (addr - base_), src, len);
  }
  void put_string(uint64_t addr, const std::string& s) { put_bytes(addr, s.c_str(), s.size() + 1); }
  void put_word(uint64_t addr, uint64_t v) { put_bytes(addr, &v, sizeof v); }

 private:
  uint64_t base_;
  std::vector<uint8_t>& bytes_;
};

}  // namespace

Result<InitialStack> build_initial_stack(const InitialStackInput& in) {
  if (!page_aligned(in.stack_top) || in.stack_top == 0) return Errno{EINVAL};
  // fs/exec.c do_execveat_common() since 5.18: an empty argv gets "" as
  // argv[0], so argc is never 0.
  std::vector<std::string> argv = in.argv;
  if (argv.empty()) argv.emplace_back();

  uint64_t strings = TRY(strings_size(in, argv));
  std::vector<AuxEntry> auxv = complete_auxv(in.auxv);
  const uint64_t argc = argv.size(), envc = in.envp.size();

  // Everything below is computed downwards from stack_top; check the
  // lowest address first so the subtractions cannot wrap.
  uint64_t fixed = 8 + strings + 8192 + 16 + (in.platform.size() + 1) + 16 + auxv.size() * 16 +
                   (argc + envc + 3) * 8 + 16;
  if (fixed >= in.stack_top) return Errno{EFAULT};

  InitialStack out;
  uint64_t p = in.stack_top - sizeof(uint64_t);  // bprm_mm_init(): vm_end - sizeof(void *)
  out.execfn_addr = p - (in.execfn.size() + 1);
  out.arg_start = in.stack_top - 8 - strings;
  out.env_start = out.arg_start;
  for (const auto& s : argv) out.env_start += s.size() + 1;
  out.arg_end = out.env_start;
  out.env_end = out.execfn_addr;

  p = (out.arg_start - in.align_random % 8192) & ~uint64_t{15};  // arch_align_stack()
  p -= in.platform.size() + 1;  // STACK_ALLOC(p, len) for k_platform
  out.platform_addr = p;
  p -= sizeof in.random;  // STACK_ALLOC(p, 16) for k_rand_bytes
  out.random_addr = p;

  // STACK_ADD(p, ei_index) then STACK_ROUND(sp, items).
  uint64_t sp = p - auxv.size() * 16;
  uint64_t items = (argc + 1) + (envc + 1) + 1;
  out.rsp = (sp - items * 8) & ~uint64_t{15};
  out.start = out.rsp;
  out.auxv_addr = out.rsp + (1 + argc + 1 + envc + 1) * 8;
  out.auxv_count = auxv.size();

  for (AuxEntry& e : auxv) {
    if (e.type == AT_RANDOM) e.value = out.random_addr;
    if (e.type == AT_EXECFN) e.value = out.execfn_addr;
    if (e.type == AT_PLATFORM) e.value = out.platform_addr;
  }

  out.bytes.assign(in.stack_top - out.start, 0);
  ImageWriter w(out.start, out.bytes);
  w.put_string(out.execfn_addr, in.execfn);
  uint64_t s = out.arg_start;
  uint64_t slot = out.rsp;
  w.put_word(slot, argc);
  slot += 8;
  for (const auto& a : argv) {
    w.put_string(s, a);
    w.put_word(slot, s);
    s += a.size() + 1;
    slot += 8;
  }
  slot += 8;  // argv NULL (already zero)
  for (const auto& e : in.envp) {
    w.put_string(s, e);
    w.put_word(slot, s);
    s += e.size() + 1;
    slot += 8;
  }
  slot += 8;  // envp NULL
  for (const AuxEntry& e : auxv) {
    w.put_word(slot, e.type);
    w.put_word(slot + 8, e.value);
    slot += 16;
  }
  w.put_string(out.platform_addr, in.platform);
  w.put_bytes(out.random_addr, in.random.data(), in.random.size());
  return out;
}

}  // namespace elfuse
