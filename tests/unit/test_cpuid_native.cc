// hv/cpuid_native.h: which host CPUID bits the guest's table gains.
#include <gtest/gtest.h>

#include <vector>

#include "hv/cpuid_native.h"

namespace elfuse {
namespace {

kvm_cpuid_entry2 entry(uint32_t function, uint32_t index, uint32_t ecx) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  e.ecx = ecx;
  return e;
}

TEST(CpuidNative, AddsUserIsaBitsTheHostHas) {
  // KVM: bits 0, 1 of 0x80000001 ecx; the host: also LZCNT (5), SSE4A (6)
  // and a bit that is not a user instruction set (2, SVM).
  std::vector<kvm_cpuid_entry2> e = {entry(1, 0, 0x1), entry(0x80000001, 0, 0x3)};
  add_native_isa(e.data(), static_cast<uint32_t>(e.size()), [](uint32_t f, uint32_t) {
    CpuidRegs r;
    r.ecx = f == 0x80000001 ? (0x3 | 1u << 2 | 1u << 5 | 1u << 6) : 0xffffffff;
    return r;
  });
  EXPECT_EQ(e[1].ecx, 0x3u | 1u << 5 | 1u << 6);
  EXPECT_EQ(e[0].ecx, 0x1u);  // leaf 1 is KVM's as it is
}

TEST(CpuidNative, NeverAddsWhatTheHostLacks) {
  std::vector<kvm_cpuid_entry2> e = {entry(0x80000001, 0, 0x3)};
  add_native_isa(e.data(), 1, [](uint32_t, uint32_t) { return CpuidRegs{}; });
  EXPECT_EQ(e[0].ecx, 0x3u);
}

TEST(CpuidNative, MissingLeafStaysMissing) {
  std::vector<kvm_cpuid_entry2> e = {entry(1, 0, 0)};
  add_native_isa(e.data(), 1, [](uint32_t, uint32_t) {
    CpuidRegs r;
    r.ecx = 0xffffffff;
    return r;
  });
  EXPECT_EQ(e[0].ecx, 0u);
  EXPECT_EQ(e.size(), 1u);
}

}  // namespace
}  // namespace elfuse
