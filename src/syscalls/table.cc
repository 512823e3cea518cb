#include "syscalls/table.h"

#include <array>
#include <cstddef>

namespace elfuse {
namespace {

#define ELFUSE_HANDLER_kFull(name) &sys_##name
#define ELFUSE_HANDLER_kPartial(name) &sys_##name
#define ELFUSE_HANDLER_kRefused(name) &sys_##name
#define ELFUSE_HANDLER_kAbsent(name) nullptr
#define ELFUSE_HANDLER_kEnosys(name) nullptr

using enum ArgKind;
using enum RestartRule;
using enum WorkerRule;
using enum TraceStyle;
constexpr SyscallInfo kTable[] = {
#define SYSCALL(nr, name, status, restart, worker, trace, a0, a1, a2, a3, a4, a5) \
  {nr,                                                                            \
   #name,                                                                         \
   SyscallStatus::status,                                                         \
   ELFUSE_HANDLER_##status(name),                                                 \
   {a0, a1, a2, a3, a4, a5},                                                      \
   trace,                                                                         \
   restart,                                                                       \
   worker,                                                                        \
   false},
#define TYPED(nr, name, status, restart, worker, trace, result, a0, a1, a2, a3, a4, a5)       \
  {nr,                                                                                        \
   #name,                                                                                     \
   SyscallStatus::status,                                                                     \
   &Thunk<&sys_##name>::call,                                                                 \
   {trace_kind<a0>(), trace_kind<a1>(), trace_kind<a2>(), trace_kind<a3>(), trace_kind<a4>(), \
    trace_kind<a5>()},                                                                        \
   trace,                                                                                     \
   restart,                                                                                   \
   worker,                                                                                    \
   true},
#include "syscalls/syscalls.def"
#undef SYSCALL
#undef TYPED
};

constexpr size_t kMaxNr = 512;

constexpr std::array<int16_t, kMaxNr> build_index() {
  std::array<int16_t, kMaxNr> index{};
  for (auto& i : index) i = -1;
  for (size_t i = 0; i < std::size(kTable); i++) index[kTable[i].nr] = static_cast<int16_t>(i);
  return index;
}
constexpr auto kIndex = build_index();

}  // namespace

const SyscallInfo* syscall_info(uint64_t nr) {
  if (nr >= kMaxNr || kIndex[nr] < 0) return nullptr;
  return &kTable[kIndex[nr]];
}

}  // namespace elfuse
