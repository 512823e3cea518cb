// Process and thread state: exit, exit_group, arch_prctl, set_tid_address,
// robust lists, rseq, personality, prctl.
#include <asm/prctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hv/hypervisor.h"
#include "kernel/process.h"
#include "syscalls/table.h"

namespace elfuse {

// exit(2) ends the calling thread; with one thread it ends the process.
int64_t sys_exit(SyscallContext& ctx, const SyscallArgs& a) {
  ctx.outcome = Outcome::kExitThread;
  ctx.exit_code = static_cast<int>(a.a[0] & 0xff);
  return 0;
}

int64_t sys_exit_group(SyscallContext& ctx, const SyscallArgs& a) {
  ctx.outcome = Outcome::kExitGroup;
  ctx.exit_code = static_cast<int>(a.a[0] & 0xff);
  return 0;
}

// arch/x86/kernel/process_64.c do_arch_prctl_64 and do_arch_prctl_common.
int64_t sys_arch_prctl(SyscallContext& ctx, const SyscallArgs& a) {
  constexpr uint64_t kTaskSizeMax = 0x7ffffffff000;
  Vcpu& vcpu = *ctx.thread.vcpu;
  uint64_t arg = a.a[1];
  switch (static_cast<int>(a.a[0])) {
    case ARCH_SET_FS:
    case ARCH_SET_GS:
      if (arg >= kTaskSizeMax) return -EPERM;
      return to_rax(a.a[0] == ARCH_SET_FS ? vcpu.set_fs_base(arg) : vcpu.set_gs_base(arg));
    case ARCH_GET_FS:
    case ARCH_GET_GS: {
      Result<uint64_t> base = a.a[0] == ARCH_GET_FS ? vcpu.fs_base() : vcpu.gs_base();
      if (!base.ok()) return -base.error();
      uint64_t v = *base;
      return to_rax(ctx.mm.copy_out(arg, &v, sizeof v));
    }
    case ARCH_GET_CPUID:
      return 1;  // CPUID is never made to fault here
    case ARCH_SET_CPUID:
      return -ENODEV;  // no CPUID faulting, as on CPUs without it
    default:
      return -EINVAL;
  }
}

int64_t sys_set_tid_address(SyscallContext& ctx, const SyscallArgs& a) {
  ctx.thread.clear_child_tid = a.a[0];
  return ctx.thread.tid;
}

// kernel/futex/syscalls.c: the head's size must be sizeof(robust_list_head).
int64_t sys_set_robust_list(SyscallContext& ctx, const SyscallArgs& a) {
  if (a.a[1] != 24) return -EINVAL;
  ctx.thread.robust_list = a.a[0];
  ctx.thread.robust_list_len = a.a[1];
  return 0;
}

int64_t sys_get_robust_list(SyscallContext& ctx, const SyscallArgs& a) {
  // One thread per process so far: any other tid is not ours.
  if (a.a[0] != 0 && static_cast<int>(a.a[0]) != ctx.thread.tid) return -ESRCH;
  uint64_t head = ctx.thread.robust_list, len = ctx.thread.robust_list_len;
  if (auto r = ctx.mm.copy_out(a.a[1], &head, 8); !r.ok()) return -r.error();
  return to_rax(ctx.mm.copy_out(a.a[2], &len, 8));
}

// Restartable sequences are not provided; glibc then runs without them, as
// on a kernel older than 4.18.
int64_t sys_rseq(SyscallContext&, const SyscallArgs&) { return -ENOSYS; }

// kernel/exec_domain.c: 0xffffffff queries.
int64_t sys_personality(SyscallContext& ctx, const SyscallArgs& a) {
  int old = ctx.proc.personality;
  if (static_cast<uint32_t>(a.a[0]) != 0xffffffff) ctx.proc.personality = static_cast<int>(a.a[0]);
  return old;
}

int64_t sys_prctl(SyscallContext& ctx, const SyscallArgs& a) {
  switch (static_cast<int>(a.a[0])) {
    case PR_SET_NAME: {
      char name[16] = {};
      // kernel/sys.c: strncpy_from_user of 15 bytes, always terminated.
      for (int i = 0; i < 15; i++) {
        if (auto r = ctx.mm.copy_in(&name[i], a.a[1] + i, 1); !r.ok()) return -r.error();
        if (!name[i]) break;
      }
      return host_rax(prctl(PR_SET_NAME, name, 0, 0, 0));
    }
    case PR_GET_NAME: {
      char name[16] = {};
      if (prctl(PR_GET_NAME, name, 0, 0, 0) < 0) return -errno;
      return to_rax(ctx.mm.copy_out(a.a[1], name, sizeof name));
    }
    case PR_GET_DUMPABLE:
    case PR_SET_DUMPABLE:
    case PR_GET_KEEPCAPS:
    case PR_SET_KEEPCAPS:
    case PR_GET_TIMERSLACK:
    case PR_SET_TIMERSLACK:
    case PR_GET_NO_NEW_PRIVS:
    case PR_SET_NO_NEW_PRIVS:
    case PR_CAPBSET_READ:
      // Integer-only options: the host's answer is the guest's.
      return host_rax(prctl(static_cast<int>(a.a[0]), a.a[1], a.a[2], a.a[3], a.a[4]));
    default:
      return -EINVAL;
  }
}

}  // namespace elfuse
