// Sandboxing a process from within: seccomp and Landlock.
//
// seccomp: a guest's filter installed on the host would filter elfuse
// itself (every guest syscall is answered by host calls of elfuse's
// choosing), so none is ever installed for the guest. (elfuse's own filter,
// base/self_confine.h, is not the guest's: the guest's mode is
// Thread::seccomp_strict or its filters, Thread::seccomp_filter.)
// Strict mode and filter mode are elfuse's: the check is in
// src/syscalls/dispatch.cc, which runs the thread's classic BPF filters
// (kernel/seccomp_filter.h) before every call. Installing one follows
// kernel/seccomp.c seccomp_set_mode_filter; user notification
// (SECCOMP_FILTER_FLAG_NEW_LISTENER) is refused with EINVAL, the answer of
// a kernel that has no such flag. The queries (SECCOMP_GET_ACTION_AVAIL,
// SECCOMP_GET_NOTIF_SIZES) are the host's answers. prctl(PR_GET_SECCOMP /
// PR_SET_SECCOMP) agrees (sys_process.cc).
//
// Landlock: a host ruleset would confine elfuse too (it opens /dev/kvm for
// fork and execve, /proc/self/fd for its own lookups), so the guest gets
// Linux with Landlock disabled at boot: EOPNOTSUPP, the first check of all
// three calls (security/landlock/syscalls.c).
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>
#include <mutex>

#include "kernel/exitless.h"
#include "kernel/process.h"
#include "kernel/seccomp_filter.h"
#include "syscalls/fs_common.h"
#include "syscalls/privilege.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

namespace {

// seccomp_may_assign_mode: a thread in one mode cannot enter the other.
bool may_assign_mode(const Thread& t, bool strict) {
  if (t.seccomp_strict) return strict;
  if (t.seccomp_filtered.load()) return !strict;
  return true;
}

constexpr unsigned kFilterFlags =
    SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC_ESRCH |
    SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

// seccomp_set_mode_filter(flags, filter).
int64_t set_mode_filter(SyscallContext& ctx, unsigned flags, uint64_t uprog) {
  if (flags & ~kFilterFlags) return -EINVAL;
  if ((flags & SECCOMP_FILTER_FLAG_TSYNC) && (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) &&
      !(flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH))
    return -EINVAL;
  if ((flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) &&
      !(flags & SECCOMP_FILTER_FLAG_NEW_LISTENER))
    return -EINVAL;
  // User notification (a listener fd whose holder answers the filtered
  // calls) is not provided: the flag is EINVAL, as on a kernel without it.
  if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) return -EINVAL;
  // seccomp_prepare_user_filter: struct sock_fprog {u16 len; sock_filter *filter}.
  struct {
    uint16_t len;
    uint16_t pad[3];
    uint64_t filter;
  } fprog;
  static_assert(sizeof fprog == 16);
  if (auto c = ctx.mm.copy_in(&fprog, uprog, sizeof fprog); !c) return -EFAULT;
  if (fprog.len == 0 || fprog.len > kBpfMaxInsns) return -EINVAL;
  // A filter needs no_new_privs or CAP_SYS_ADMIN in the caller's user
  // namespace (the host thread's capabilities are the guest thread's).
  if (!ctx.thread.no_new_privs && !host_has_cap(CAP_SYS_ADMIN)) return -EACCES;
  if (fprog.filter == 0) return -EINVAL;  // bpf_check_basics_ok
  auto filter = std::make_shared<SeccompFilter>();
  filter->prog.resize(fprog.len);
  if (auto c = ctx.mm.copy_in(filter->prog.data(), fprog.filter, fprog.len * sizeof(BpfInsn)); !c)
    return -EFAULT;
  if (int r = seccomp_check_program(filter->prog)) return r;
  filter->converted_len = seccomp_converted_len(filter->prog);
  filter->log = flags & SECCOMP_FILTER_FLAG_LOG;

  Process& proc = ctx.proc;
  Thread& self = ctx.thread;
  const bool tsync = flags & SECCOMP_FILTER_FLAG_TSYNC;
  std::unique_lock threads_lock(proc.threads_mu, std::defer_lock);
  if (tsync) threads_lock.lock();
  std::unique_lock lock(proc.seccomp_mu);
  if (!may_assign_mode(self, false)) return -EINVAL;
  // seccomp_attach_filter.
  if (filter->converted_len + seccomp_path_insns(self.seccomp_filter.get()) > kMaxInsnsPerPath)
    return -ENOMEM;
  if (tsync) {
    // seccomp_can_sync_threads: every other thread has no filter or one
    // of the caller's; otherwise the tid of the first that does not.
    for (const auto& t : proc.threads) {
      if (!t || t.get() == &self) continue;
      bool ok = !t->seccomp_strict &&
                seccomp_is_ancestor(t->seccomp_filter.get(), self.seccomp_filter.get());
      if (!ok) return (flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH) ? -ESRCH : t->tid;
    }
  }
  filter->prev = self.seccomp_filter;
  self.seccomp_filter = std::move(filter);
  self.seccomp_filtered.store(true);
  if (tsync) {
    // seccomp_sync_threads: the caller's filters and no_new_privs.
    for (const auto& t : proc.threads) {
      if (!t || t.get() == &self) continue;
      t->seccomp_filter = self.seccomp_filter;
      t->seccomp_filtered.store(true);
      if (self.no_new_privs) t->no_new_privs = true;
      exitless_seccomp_synced(*t);
    }
  }
  lock.unlock();
  if (threads_lock.owns_lock()) threads_lock.unlock();
  exitless_seccomp_strict(proc, self);  // nothing answered in the guest any more
  return 0;
}

}  // namespace

// seccomp(op, flags, args), kernel/seccomp.c do_seccomp.
int64_t sys_seccomp(SyscallContext& ctx, const SyscallArgs& a) {
  unsigned op = arg_uint(a.a[0]);
  unsigned flags = arg_uint(a.a[1]);
  switch (op) {
    case SECCOMP_SET_MODE_STRICT:
      if (flags != 0 || a.a[2] != 0) return -EINVAL;
      if (!may_assign_mode(ctx.thread, true)) return -EINVAL;
      ctx.thread.seccomp_strict = true;  // seccomp_set_mode_strict
      exitless_seccomp_strict(ctx.proc, ctx.thread);
      return 0;
    case SECCOMP_SET_MODE_FILTER:
      if (ctx.on_worker) {  // it changes the entry of the calling thread
        ctx.refuse = true;
        return 0;
      }
      return set_mode_filter(ctx, flags, a.a[2]);
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
    default:
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
