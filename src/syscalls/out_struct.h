// A host call that fills one struct for the guest: its errno, or the
// struct copied out (the copy's error when that fails) and the host's
// result. The handlers that hand a host struct across as it is (uname,
// sysinfo, getrusage, clock_gettime...) share it.
#pragma once

#include <cerrno>
#include <cstdint>

#include "mm/memory_manager.h"
#include "syscalls/syscall.h"

namespace elfuse {

template <typename T>
inline int64_t out_struct(SyscallContext& ctx, long host_ret, uint64_t guest, const T& value) {
  if (host_ret < 0) return -static_cast<int64_t>(errno);
  auto r = ctx.mm.copy_out(guest, &value, sizeof(T));
  if (!r) return -r.error();
  return host_ret;
}

}  // namespace elfuse
