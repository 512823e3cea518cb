#include "syscalls/dispatch.h"

#include <signal.h>
#include <sys/syscall.h>

#include <bitset>
#include <cerrno>

#include "base/log.h"
#include "kernel/fault.h"
#include "kernel/process.h"
#include "syscalls/table.h"
#include "syscalls/trace.h"

namespace elfuse {
namespace {

FILE* g_trace = nullptr;
std::bitset<1024> g_reported;

int64_t enosys(const SyscallArgs& args, const SyscallInfo* info) {
  uint64_t slot = args.nr < g_reported.size() ? args.nr : g_reported.size() - 1;
  if (!g_reported.test(slot)) {
    g_reported.set(slot);
    if (info)
      log_error("syscall %s (%llu) is not implemented; it returns ENOSYS", info->name,
                static_cast<unsigned long long>(args.nr));
    else
      log_error("unknown syscall %llu; it returns ENOSYS",
                static_cast<unsigned long long>(args.nr));
  }
  return -ENOSYS;
}

int64_t call_handler(SyscallContext& ctx, const SyscallArgs& args) {
  const SyscallInfo* info = syscall_info(args.nr);
  if (info && info->status == SyscallStatus::kAbsent) return -ENOSYS;  // decided: no notice
  if (!info || !info->handler) return enosys(args, info);
  return info->handler(ctx, args);
}

}  // namespace

void set_trace_output(FILE* out) {
  g_trace = out;
}

// kernel/seccomp.c __secure_computing_strict: in strict mode only these
// four run; anything else ends the task with SIGKILL.
static bool strict_mode_allows(uint64_t nr) {
  return nr == SYS_read || nr == SYS_write || nr == SYS_exit || nr == SYS_rt_sigreturn;
}

int64_t dispatch_syscall(SyscallContext& ctx, const SyscallArgs& args) {
  if (__builtin_expect(ctx.thread.seccomp_strict, 0) && !strict_mode_allows(args.nr))
    die_by_signal(SIGKILL);
  if (__builtin_expect(g_trace == nullptr, 1)) return call_handler(ctx, args);
  TraceRecord record = trace_begin(ctx, args);
  if (record.no_return) trace_end(g_trace, record, 0);
  int64_t result = call_handler(ctx, args);
  if (!record.no_return) trace_end(g_trace, record, result);
  return result;
}

}  // namespace elfuse
