// Result<T>: a value or a Linux errno. No exceptions on the syscall path.
#pragma once

#include <cerrno>
#include <cstdint>
#include <utility>
#include <variant>

namespace elfuse {

// A positive Linux errno value (ENOENT, EFAULT, ...).
struct Errno {
  int value;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Errno e) : v_(e) {}                 // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  int error() const { return std::get<1>(v_).value; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T value_or(T other) const { return ok() ? value() : other; }

 private:
  std::variant<T, Errno> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Errno e) : err_(e.value) {}  // NOLINT
  bool ok() const { return err_ == 0; }
  explicit operator bool() const { return ok(); }
  int error() const { return err_; }
  void value() const {}

 private:
  int err_ = 0;
};

inline Result<void> Ok() {
  return {};
}

}  // namespace elfuse

// TRY(expr): evaluate a Result; on error return its errno from the enclosing
// function (which must return a Result), otherwise yield the value.
#define TRY(expr)                                                       \
  ({                                                                    \
    auto _try_result = (expr);                                          \
    if (!_try_result.ok()) return ::elfuse::Errno{_try_result.error()}; \
    std::move(_try_result).value();                                     \
  })
