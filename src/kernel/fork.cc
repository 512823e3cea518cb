#include "kernel/fork.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "base/log.h"
#include "base/private_fd.h"
#include "base/timing.h"
#include "kernel/exitless.h"
#include "kernel/peer.h"
#include "kernel/process.h"
#include "kernel/signal.h"
#include "vdso/vdso.h"

namespace elfuse {
namespace {

// The child side: the inherited KVM descriptors belong to the parent's VM
// (KVM refuses them in another mm), so the child drops them and builds a VM
// of its own over the same (now copied) guest memory; the page tables and
// the shim are already in it.
void become_child(Process& proc, Thread& thread, const VcpuState& state, const CloneRequest& req,
                  int peer_slot) {
  timing_mark("fork child: host fork returned");
  signals_on_fork_child(thread);
  // kernel/fork.c: the pidfd is installed in the parent's table only.
  if (req.pidfd_slot >= 0) close(req.pidfd_slot);
  thread.timing_first_exit_seen = false;
  thread.timing_last_run_end = 0;
  timing_reset_exits();
  proc.pid = getpid();
  thread.tid = gettid();
  // Only the calling thread exists in the child (the host fork copies one
  // thread, as kernel/fork.c does): the others' Thread objects and vCPUs
  // (the parent VM's) go; the locks the parent held for the fork are new
  // ones here (fork_process).
  new (&proc.threads_mu) std::mutex();
  new (&proc.threads_cv) std::condition_variable();
  // The parent's mem files reach the parent's memory, not the child's.
  new (&proc.proc_mem.mu) std::mutex();
  proc.proc_mem_token = 0;
  new (&proc.view_mu) std::mutex();
  proc.mm().reset_lock_in_child();
  proc.mm().drop_locks_in_child();
  std::erase_if(proc.threads, [&](const std::unique_ptr<Thread>& t) { return t.get() != &thread; });
  proc.zapping.store(false);
  proc.zapper = nullptr;
  proc.handoff = nullptr;
  // The run's registry: this process's slot, and its server, before any
  // other process can learn its pid from it.
  peer::become_child(proc, peer_slot);
  // The same guest-physical memory as the parent's VM had registered.
  uint64_t registered = proc.vm->registered_memory();
  thread.vcpu.reset();
  proc.vm.reset();
  timing_mark("fork child: state reset, old VM dropped");
  proc.vm = create_vm_or_die(proc.reservation, proc.reservation_size, registered);
  timing_mark("fork child: VM created (KVM_CREATE_VM, memslots)");
  // The vDSO's data pages, where the copied page tables expect them.
  proc.vdso_attached = vdso_attach(*proc.vm).ok();
  // dup_mmap: no MADV_DONTFORK range, no page of a MADV_WIPEONFORK one.
  if (!req.shares_memory) proc.mm().fork_advice_in_child();
  VcpuState child_state = state;
  if (req.stack) child_state.regs.rsp = req.stack;
  if (req.flags & CLONE_SETTLS) {
    child_state.new_fs_base = true;
    child_state.fs_base = req.tls;
  }
  Result<std::unique_ptr<Vcpu>> vcpu = proc.vm->restore_vcpu(child_state);
  if (!vcpu.ok()) fatal("fork: cannot restore the vCPU in the child: %s", strerror(vcpu.error()));
  thread.vcpu = std::move(vcpu.value());
  timing_mark("fork child: vDSO attached, vCPU restored");
  // kernel/fork.c: the child's tid goes to child_tid in the child's memory.
  if (req.flags & CLONE_CHILD_SETTID) {
    int tid = thread.tid;
    (void)proc.mm().copy_out(req.child_tid, &tid, sizeof tid);
  }
  thread.clear_child_tid = (req.flags & CLONE_CHILD_CLEARTID) ? req.child_tid : 0;
  signals_urg_on_fork_child(thread);
  exitless_on_fork_child(proc, thread);
}

}  // namespace

namespace {
ForkHook g_fork_hook = nullptr;
}  // namespace

void set_fork_hook(ForkHook hook) {
  g_fork_hook = hook;
}

Result<int> fork_process(Process& proc, Thread& thread, const CloneRequest& req) {
  timing_mark("fork: start");
  VcpuState state = TRY(thread.vcpu->save_state());
  timing_mark("fork: vCPU state saved");
  bool vfork = req.flags & CLONE_VFORK;
  // A slot in the run's registry for the child (kernel/peer.h): EAGAIN
  // when the run has as many processes as slots.
  int peer_slot = TRY(peer::reserve_child_slot(proc));
  int done[2] = {-1, -1};
  if (vfork) {
    if (pipe2(done, O_CLOEXEC) < 0) {
      int err = errno;
      peer::child_forked(peer_slot, -1);
      return Errno{err};
    }
    done[0] = move_to_private_fd(done[0]);
    done[1] = move_to_private_fd(done[1]);
  }
  // Other threads may be creating or ending threads, or changing memory:
  // the child must copy neither a half-done change nor a lock held by a
  // thread it does not have (design.md: runtime locks held or reset around
  // fork). Order: threads_mu, then the memory lock (src/mm/lock_order.h).
  proc.threads_mu.lock();
  proc.mm().lock_for_fork();
  // Host signals blocked across the fork: the child tells the parent's
  // recorded signals from its own (signals_on_fork_child).
  const uint64_t host_mask = signals_block_for_fork();
  // glibc's fork() keeps its own state right in the child; a raw clone is
  // needed only for an exit signal other than SIGCHLD, or for CLONE_PARENT
  // (the child is the caller's parent's, with its exit signal: the host's
  // kernel/fork.c does both, the guest parent being the host parent).
  pid_t pid = req.exit_signal == SIGCHLD && !(req.flags & CLONE_PARENT)
                  ? fork()
                  : static_cast<pid_t>(syscall(
                        SYS_clone, req.exit_signal | (req.flags & CLONE_PARENT), 0, 0, 0, 0));
  if (pid != 0) {
    peer::child_forked(peer_slot, pid < 0 ? -1 : pid);
    if (pid > 0 && g_fork_hook) g_fork_hook();  // the sandbox's process count
    timing_mark("fork parent: host fork returned");
    signals_unblock_after_fork(host_mask);
    proc.mm().unlock_after_fork();
    proc.threads_mu.unlock();
  }
  if (pid < 0) {
    int err = errno;
    if (vfork) {
      close(done[0]);
      close(done[1]);
    }
    return Errno{err};
  }
  if (pid == 0) {
    if (vfork) {
      close(done[0]);
      proc.vfork_done_fd = done[1];
    }
    become_child(proc, thread, state, req, peer_slot);
    return 0;
  }
  if (req.flags & CLONE_PARENT_SETTID) {
    int child = pid;
    (void)proc.mm().copy_out(req.parent_tid, &child, sizeof child);
  }
  if (vfork) {
    // vfork(2): the parent sleeps until the child execs or exits, which
    // closes the child's end of the pipe.
    close(done[1]);
    char c;
    while (read(done[0], &c, 1) < 0 && errno == EINTR) {
    }
    close(done[0]);
  }
  return pid;
}

}  // namespace elfuse
