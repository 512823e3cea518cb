// The typed syscall boundary: from a TYPED row of syscalls.def to a handler
// with typed parameters. The row's types declare the handler
//   TYPED(3, close, kFull, rNone, wYes, tPlain, int64_t, UFd, None, ...)
//   -> int64_t sys_close(SyscallContext&, UFd);
// and Thunk<&sys_close>::call, the table's entry, decodes each register
// once with its type's decode() (syscalls/args.h) and turns the handler's
// result into RAX: an int64_t is already the RAX value (>= 0 or -errno), a
// Result<T> goes through to_rax. No allocation, no indirection beyond the
// table's one call. See docs/internals.md "The syscall boundary".
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "syscalls/args.h"
#include "syscalls/syscall.h"

namespace elfuse {

namespace typed_detail {

template <typename... T>
struct List {};

// R(SyscallContext&, A...) for the row's types, the Nones left out (they
// must be the trailing columns).
template <typename R, typename Acc, typename... Rest>
struct Sig;
template <typename R, typename... Acc>
struct Sig<R, List<Acc...>> {
  using type = R(SyscallContext&, Acc...);
};
template <typename R, typename... Acc, typename H, typename... Rest>
struct Sig<R, List<Acc...>, H, Rest...>
    : Sig<R, std::conditional_t<std::is_same_v<H, None>, List<Acc...>, List<Acc..., H>>, Rest...> {
  static_assert(!std::is_same_v<H, None> || (std::is_same_v<Rest, None> && ...),
                "a TYPED row's None columns must be the trailing ones");
};

template <typename T>
struct IsResult : std::false_type {};
template <typename T>
struct IsResult<Result<T>> : std::true_type {};

}  // namespace typed_detail

// The handler type a TYPED row declares.
template <typename R, typename... A>
using TypedHandler = typename typed_detail::Sig<R, typed_detail::List<>, A...>::type;

// The handler's result as RAX.
template <typename R>
inline int64_t result_rax(const R& r) {
  if constexpr (std::is_same_v<R, int64_t>) {
    return r;
  } else {
    static_assert(typed_detail::IsResult<R>::value,
                  "a typed handler returns int64_t (RAX) or Result<T>");
    return to_rax(r);
  }
}

template <auto F>
struct Thunk;

template <typename R, typename... A, R (*F)(SyscallContext&, A...)>
struct Thunk<F> {
  static_assert(sizeof...(A) <= 6, "at most six syscall arguments");
  static_assert((SyscallArgType<A> && ...), "every parameter needs a type of syscalls/args.h");

  static int64_t call(SyscallContext& ctx, const SyscallArgs& a) {
    return call_with(ctx, a, std::index_sequence_for<A...>{});
  }

 private:
  template <size_t... I>
  static int64_t call_with(SyscallContext& ctx, const SyscallArgs& a, std::index_sequence<I...>) {
    return result_rax(F(ctx, A::decode(a.a[I])...));
  }
};

// The --trace kind of a TYPED row's column.
template <typename T>
constexpr ArgKind trace_kind() {
  return T::kTrace;
}

}  // namespace elfuse
