#include "syscalls/dispatch.h"

#include <linux/seccomp.h>
#include <signal.h>
#include <sys/syscall.h>

#include <algorithm>
#include <bitset>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include "base/log.h"
#include "kernel/fault.h"
#include "kernel/process.h"
#include "kernel/seccomp_filter.h"
#include "kernel/signal.h"
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

namespace {

// kernel/seccomp.c __seccomp_filter: runs the thread's filters over the
// call. True when the call goes on to its handler; false when the filter
// decided it (*result is what the guest gets in RAX).
bool seccomp_filter_allows(SyscallContext& ctx, const SyscallArgs& args, int64_t* result) {
  if (ctx.on_worker) {
    // The worker runs nothing for a thread with filters: the filter reads
    // the call's address and may signal or kill the thread itself.
    ctx.refuse = true;
    *result = 0;
    return false;
  }
  std::shared_ptr<const SeccompFilter> filter;
  {
    std::lock_guard lock(ctx.proc.seccomp_mu);
    filter = ctx.thread.seccomp_filter;
  }
  SeccompData data{};
  data.nr = static_cast<int32_t>(args.nr);
  data.arch = kAuditArchX86_64;
  data.instruction_pointer = ctx.thread.vcpu->regs().rcx;  // after `syscall`
  for (int i = 0; i < 6; i++) data.args[i] = args.a[i];
  uint32_t ret = seccomp_run_filters(filter.get(), data);
  uint32_t action = ret & SECCOMP_RET_ACTION_FULL;
  uint32_t value = ret & SECCOMP_RET_DATA;
  switch (action) {
    case SECCOMP_RET_ALLOW:
    case SECCOMP_RET_LOG:  // logged by the audit subsystem, which the guest has not
      return true;
    case SECCOMP_RET_ERRNO:
      *result = -static_cast<int64_t>(std::min<uint32_t>(value, kMaxErrno));
      return false;
    case SECCOMP_RET_TRACE:       // no tracer with PTRACE_O_TRACESECCOMP
    case SECCOMP_RET_USER_NOTIF:  // no listener (NEW_LISTENER is refused)
      *result = -ENOSYS;
      return false;
    case SECCOMP_RET_TRAP: {
      // syscall_rollback: the handler sees RAX as it was, the call's
      // number, and it stays there after the handler returns.
      siginfo_t info;
      memset(&info, 0, sizeof info);
      info.si_signo = SIGSYS;
      info.si_code = 1;  // SYS_SECCOMP
      info.si_errno = static_cast<int>(value);
      info.si_call_addr = reinterpret_cast<void*>(data.instruction_pointer);
      info.si_syscall = data.nr;
      info.si_arch = data.arch;
      signals_force_info(ctx.proc, ctx.thread, info);
      *result = static_cast<int64_t>(args.nr);
      return false;
    }
    case SECCOMP_RET_KILL_THREAD: {
      // Only the thread ends unless it is the last one (then the process
      // dies by SIGSYS with a core dump, as for KILL_PROCESS).
      bool last;
      {
        std::lock_guard lock(ctx.proc.threads_mu);
        last = ctx.proc.threads.size() <= 1;
      }
      if (!last) {
        ctx.outcome = Outcome::kExitThread;
        ctx.exit_code = SIGSYS;
        *result = 0;
        return false;
      }
      die_by_signal(SIGSYS);
    }
    default:  // SECCOMP_RET_KILL_PROCESS and actions the kernel does not know
      die_by_signal(SIGSYS);
  }
}

}  // namespace

int64_t dispatch_syscall(SyscallContext& ctx, const SyscallArgs& args) {
  if (__builtin_expect(
          ctx.thread.seccomp_strict | ctx.thread.seccomp_filtered.load(std::memory_order_relaxed),
          0)) {
    if (ctx.thread.seccomp_strict) {
      if (!strict_mode_allows(args.nr)) die_by_signal(SIGKILL);
    } else if (int64_t result; !seccomp_filter_allows(ctx, args, &result)) {
      return result;
    }
  }
  if (__builtin_expect(g_trace == nullptr, 1)) return call_handler(ctx, args);
  TraceRecord record = trace_begin(ctx, args);
  if (record.no_return) trace_end(g_trace, record, 0);
  int64_t result = call_handler(ctx, args);
  if (!record.no_return) trace_end(g_trace, record, result);
  return result;
}

}  // namespace elfuse
