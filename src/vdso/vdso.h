// The vDSO every guest gets (docs/internals.md, "The vDSO"): the host
// kernel's own, mapped as arch/x86/entry/vdso/vma.c map_vdso maps it. Its
// text is a copy of the host's; its data pages are the host's, shared into
// the VM read-only, so the kernel's code reads the TSC (natively, in the
// guest) and the timekeeping data the host kernel keeps current: the
// guest's clock_gettime is the host's, to the nanosecond, with no exit.
#pragma once

#include <cstdint>

#include "base/result.h"
#include "shim/shim_abi.h"

namespace elfuse {

class MemoryManager;
class Vm;

// Guest-physical address of the host's vDSO data pages in every VM: above
// the reservation (64 GiB), below the doorbell page.
inline constexpr uint64_t kVdsoDataGpa = SHIM_MMIO_GPA - (1ull << 30);

// Whether the host has a vDSO elfuse can hand on (src/vdso/host_vdso.h).
bool vdso_available();

// Makes the host's vDSO data pages guest memory of a new VM (exec, and a
// forked child's VM, whose page tables already point there).
Result<void> vdso_attach(Vm& vm);

// map_vdso: [vvar], [vvar_vclock] and [vdso] one after the other where
// get_unmapped_area puts the whole block (at the hint addr if it is free;
// 0: top-down). Returns the address of [vdso], the guest's
// AT_SYSINFO_EHDR.
Result<uint64_t> vdso_map(MemoryManager& mm, uint64_t addr);

// map_vdso_once (arch_prctl ARCH_MAP_VDSO_64): EEXIST while any of the
// three mappings is still there; ENOENT without a host vDSO.
Result<uint64_t> vdso_map_once(MemoryManager& mm, uint64_t addr);
// The size of [vdso] (vdso_image->size); 0 without a host vDSO.
uint64_t vdso_text_size();

}  // namespace elfuse
