// KVM ioctl numbers whose argument struct ends in a flexible array. The
// kernel's numbers encode the C sizeof (8); in C++ the uapi headers' flex
// array wrappers give a different sizeof, so the macros would encode a
// number the kernel rejects with EINVAL. Spell them with the C sizes.
#pragma once

#include <linux/kvm.h>

#include <cstddef>

namespace elfuse::kvm_abi {

inline constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, 8);
inline constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, 8);
inline constexpr unsigned long kGetMsrs = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x88, 8);
inline constexpr unsigned long kSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, 8);
// struct kvm_xsave: 4096 bytes in C (the C++ view adds the flex array).
inline constexpr size_t kXsaveSize = 4096;
inline constexpr unsigned long kGetXsave = _IOC(_IOC_READ, KVMIO, 0xa4, kXsaveSize);
inline constexpr unsigned long kSetXsave = _IOC(_IOC_WRITE, KVMIO, 0xa5, kXsaveSize);

// The entries of a kvm_cpuid2 start at offset 8 in the kernel's layout (not
// where the C++ view of the struct puts them).
inline const kvm_cpuid_entry2* cpuid_entries(const kvm_cpuid2* c) {
  return reinterpret_cast<const kvm_cpuid_entry2*>(reinterpret_cast<const char*>(c) + 8);
}

}  // namespace elfuse::kvm_abi
