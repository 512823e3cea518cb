// Sandboxing a process from within: seccomp and Landlock.
//
// seccomp: a guest's filter installed on the host would filter elfuse
// itself (every guest syscall is answered by host calls of elfuse's
// choosing), so none is ever installed for the guest. (elfuse's own filter,
// base/self_confine.h, is not the guest's: the guest's mode is
// Thread::seccomp_strict.)
// The guest gets Linux built with CONFIG_SECCOMP but without
// CONFIG_SECCOMP_FILTER: strict mode works (kernel/seccomp.c; the check is
// in src/syscalls/dispatch.cc), filters are EINVAL, and the queries that
// such a kernel answers (SECCOMP_GET_ACTION_AVAIL, SECCOMP_GET_NOTIF_SIZES)
// are the host's answers. prctl(PR_GET_SECCOMP / PR_SET_SECCOMP) agrees
// (sys_process.cc).
//
// Landlock: a host ruleset would confine elfuse too (it opens /dev/kvm for
// fork and execve, /proc/self/fd for its own lookups), so the guest gets
// Linux with Landlock disabled at boot: EOPNOTSUPP, the first check of all
// three calls (security/landlock/syscalls.c).
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel/exitless.h"
#include "kernel/process.h"
#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

// seccomp(op, flags, args), kernel/seccomp.c do_seccomp.
int64_t sys_seccomp(SyscallContext& ctx, const SyscallArgs& a) {
  unsigned op = arg_uint(a.a[0]);
  unsigned flags = arg_uint(a.a[1]);
  switch (op) {
    case SECCOMP_SET_MODE_STRICT:
      if (flags != 0 || a.a[2] != 0) return -EINVAL;
      ctx.thread.seccomp_strict = true;  // seccomp_set_mode_strict
      exitless_seccomp_strict(ctx.proc, ctx.thread);
      return 0;
    case SECCOMP_GET_ACTION_AVAIL: {
      if (flags != 0) return -EINVAL;
      uint32_t action;
      if (auto c = ctx.mm.copy_in(&action, a.a[2], sizeof action); !c) return -c.error();
      return host_rax(::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action));
    }
    case SECCOMP_GET_NOTIF_SIZES: {
      if (flags != 0) return -EINVAL;
      struct seccomp_notif_sizes sizes {};
      if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
        return -static_cast<int64_t>(errno);
      auto c = ctx.mm.copy_out(a.a[2], &sizes, sizeof sizes);
      return c ? 0 : -c.error();
    }
    default:  // SECCOMP_SET_MODE_FILTER without CONFIG_SECCOMP_FILTER, and unknown ops
      return -EINVAL;
  }
}

int64_t sys_landlock_create_ruleset(SyscallContext&, const SyscallArgs&) {
  return -EOPNOTSUPP;
}
int64_t sys_landlock_add_rule(SyscallContext&, const SyscallArgs&) {
  return -EOPNOTSUPP;
}
int64_t sys_landlock_restrict_self(SyscallContext&, const SyscallArgs&) {
  return -EOPNOTSUPP;
}

}  // namespace elfuse
