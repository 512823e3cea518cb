// Checked arithmetic on guest addresses and lengths. Overflow is an error the
// caller turns into the errno Linux gives, never a silently wrapped value.
#pragma once

#include <cstdint>
#include <optional>

#include "abi/linux.h"

namespace elfuse {

inline constexpr uint64_t kPageMask = kPageSize - 1;
inline constexpr uint64_t kHugePageSize = 2ull << 20;

inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// Rounds up to a page; nullopt when that overflows.
inline std::optional<uint64_t> page_round_up(uint64_t v) {
  auto r = checked_add(v, kPageMask);
  if (!r) return std::nullopt;
  return *r & ~kPageMask;
}

constexpr uint64_t page_round_down(uint64_t v) {
  return v & ~kPageMask;
}
constexpr bool page_aligned(uint64_t v) {
  return (v & kPageMask) == 0;
}
constexpr uint64_t align_down(uint64_t v, uint64_t a) {
  return v & ~(a - 1);
}
constexpr uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

}  // namespace elfuse
