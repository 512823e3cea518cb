// The CPUID a guest program reads: KVM's supported table, with the user-mode
// instruction sets KVM leaves out although the program executes them on the
// host CPU unchanged (PVM reports no LZCNT or SSE4A on AMD hosts, so glibc
// picks other string functions than natively). Only instructions that run
// the same in guest user mode as natively are added: not RDTSCP or RDPID
// (they read TSC_AUX, which KVM may not load for the guest), nothing of the
// kernel's (PCID, 1 GiB pages, CET).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <functional>

namespace elfuse {

struct CpuidRegs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

// One added bit: CPUID.(function, index).reg[bit] (reg 0..3 = eax..edx).
struct NativeIsaBit {
  uint32_t function;
  uint32_t index;
  int reg;
  int bit;
  const char* name;
};

inline constexpr NativeIsaBit kNativeIsaBits[] = {
    {0x80000001, 0, 2, 5, "abm (lzcnt)"},
    {0x80000001, 0, 2, 6, "sse4a"},
    {0x80000001, 0, 2, 7, "misalignsse"},
    {0x80000001, 0, 2, 8, "3dnowprefetch (prefetchw)"},
};

// Sets each kNativeIsaBits bit in `entries` (n of them) that `host` (the
// host CPU's CPUID) has, in the entry KVM gave for its leaf; a leaf KVM did
// not give stays absent.
inline void add_native_isa(kvm_cpuid_entry2* entries, uint32_t n,
                           const std::function<CpuidRegs(uint32_t, uint32_t)>& host) {
  for (const NativeIsaBit& b : kNativeIsaBits) {
    for (uint32_t i = 0; i < n; i++) {
      kvm_cpuid_entry2& e = entries[i];
      if (e.function != b.function || e.index != b.index) continue;
      CpuidRegs h = host(b.function, b.index);
      const uint32_t hv[4] = {h.eax, h.ebx, h.ecx, h.edx};
      uint32_t* gv[4] = {&e.eax, &e.ebx, &e.ecx, &e.edx};
      *gv[b.reg] |= hv[b.reg] & (1u << b.bit);
    }
  }
}

}  // namespace elfuse
