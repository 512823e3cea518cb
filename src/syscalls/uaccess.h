// The typed guest-memory accessors of the syscall boundary
// (syscalls/args.h): a T in, a T out, bytes of a size the call decides, a
// path. Each checks once, through the MemoryManager's copy_in/copy_out
// (EFAULT unless every byte is mapped with the access), and is the only
// way a typed handler reaches guest memory.
#pragma once

#include <type_traits>

#include "mm/memory_manager.h"
#include "syscalls/args.h"

namespace elfuse {

// include/uapi/linux/limits.h PATH_MAX, counting the NUL.
inline constexpr uint64_t kGuestPathMax = 4096;

template <typename T>
Result<T> In<T>::get(const MemoryManager& mm) const {
  static_assert(std::is_trivially_copyable_v<T>);
  T v;
  if (auto r = mm.copy_in(&v, addr, sizeof v); !r) return Errno{r.error()};
  return v;
}

template <typename T>
Result<void> Out<T>::put(MemoryManager& mm, const T& value) const {
  static_assert(std::is_trivially_copyable_v<T>);
  return mm.copy_out(addr, &value, sizeof value);
}

template <typename T>
Result<T> InOut<T>::get(const MemoryManager& mm) const {
  return In<T>{{addr}}.get(mm);
}

template <typename T>
Result<void> InOut<T>::put(MemoryManager& mm, const T& value) const {
  return Out<T>{{addr}}.put(mm, value);
}

inline Result<void> Bytes::get(const MemoryManager& mm, void* dst, uint64_t len) const {
  return mm.copy_in(dst, addr, len);
}

inline Result<void> Bytes::put(MemoryManager& mm, const void* src, uint64_t len) const {
  return mm.copy_out(addr, src, len);
}

inline Result<std::string> Path::get(const MemoryManager& mm) const {
  return mm.copy_in_string(addr, kGuestPathMax);
}

inline Result<std::string> Path::get(const MemoryManager& mm, uint64_t max) const {
  return mm.copy_in_string(addr, max);
}

// A guest address whose type a command decides (fcntl's and ioctl's third
// argument): the typed view of it.
template <typename T>
In<T> in_at(uint64_t addr) {
  return {{addr}};
}
template <typename T>
Out<T> out_at(uint64_t addr) {
  return {{addr}};
}
inline Bytes bytes_at(uint64_t addr) {
  return {{addr}};
}

}  // namespace elfuse
