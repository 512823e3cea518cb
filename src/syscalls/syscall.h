// What a syscall handler sees: the calling thread, its process, the six
// argument registers (SyscallContext and SyscallArgs: kernel/syscall_context.h).
// Handlers return the value for RAX: a result >= 0 or a negated Linux errno.
// A handler that changes control flow (exit, exec, sigreturn) says so in
// ctx.outcome instead of through a magic number.
#pragma once

#include <cstdint>

#include "abi/linux.h"
#include "base/result.h"
#include "kernel/syscall_context.h"

namespace elfuse {

using SyscallHandler = int64_t (*)(SyscallContext&, const SyscallArgs&);

// Result<T> -> RAX value.
template <typename T>
inline int64_t to_rax(const Result<T>& r) {
  if (!r.ok()) return -static_cast<int64_t>(r.error());
  if constexpr (std::is_void_v<T>) {
    return 0;
  } else {
    return static_cast<int64_t>(r.value());
  }
}

// The kernel's access_ok() on x86_64: the range lies below TASK_SIZE_MAX.
// It says nothing about mappings; calls that check it up front fail with
// EFAULT only for ranges no user mapping could hold, and otherwise only when
// they actually copy.
inline bool linux_access_ok(uint64_t addr, uint64_t len) {
  return len <= kTaskSizeMax && addr <= kTaskSizeMax - len;
}

// An address no host copy_from_user/copy_to_user accepts (above the user
// range). When a guest pointer cannot be read, handing this to the host call
// in its place makes the host fail with EFAULT exactly where Linux would,
// after the checks the kernel makes first (bad flags, fd, permission).
inline void* const kHostFaultingAddress = reinterpret_cast<void*>(~uint64_t{0} - 4095);

// Host syscall return (-1 + errno) -> RAX value.
inline int64_t host_rax(long r) {
  return r < 0 ? -static_cast<int64_t>(errno) : r;
}

}  // namespace elfuse
