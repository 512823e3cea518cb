#include "kernel/thread.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/log.h"
#include "base/safe_copy.h"
#include "base/timing.h"
#include "kernel/exec.h"
#include "kernel/exitless.h"
#include "kernel/fault.h"
#include "kernel/fork.h"
#include "kernel/peer.h"
#include "kernel/process.h"
#include "kernel/run_loop.h"
#include "kernel/signal.h"

namespace elfuse {
namespace {

// Host stack of a thread's host thread: the syscall handlers and signal
// delivery (three 4 KiB XSAVE images at most) need far less; an execve
// that lands on this thread (the leader of a forked child) needs more.
constexpr size_t kHostStack = 1 << 20;

long raw_setmask(const uint64_t* set, uint64_t* old) {
  return syscall(SYS_rt_sigprocmask, SIG_SETMASK, set, old, 8);
}

// The handshake between clone_thread and the new host thread. Two owners
// (the parent returns while the child may still read it): the last one to
// drop its reference frees it.
struct Start {
  Process* proc;
  Thread* thread;
  uint64_t unshare_flags;
  std::atomic<int> tid{0};  // the child's host tid, posted by the child
  std::atomic<int> go{0};   // posted by the parent when the child may run
  std::atomic<int> refs{2};
  void unref() {
    if (refs.fetch_sub(1) == 1) delete this;
  }
};

void* thread_main(void* arg) {
  auto* st = static_cast<Start*>(arg);
  Process& proc = *st->proc;
  Thread& thread = *st->thread;
  uint64_t unshare_flags = st->unshare_flags;
  st->tid.store(static_cast<int>(gettid()));
  st->tid.notify_one();
  timing_mark("thread child: host thread started");
  st->go.wait(0);
  st->unref();
  // clone without CLONE_FS or CLONE_FILES (kernel/fork.c copy_fs,
  // copy_files): the host thread takes its own copy, as the task would.
  if (unshare_flags && unshare(static_cast<int>(unshare_flags)) < 0)
    fatal("clone: unshare: %s", strerror(errno));
  run_thread(proc, thread);
  host_thread_done(proc);
  return nullptr;
}

// kernel/futex/core.c handle_futex_death: the dying thread owned the
// robust futex at uaddr: mark it FUTEX_OWNER_DIED and wake one waiter.
// Returns false when the word cannot be read (the walk stops).
bool handle_futex_death(MemoryManager& mm, uint64_t uaddr, int tid, bool pi, bool pending_op) {
  if (uaddr % 4) return false;
  Result<std::vector<iovec>> r = mm.host_ranges(uaddr, 4, PROT_READ | PROT_WRITE);
  if (!r.ok() || r->size() != 1) return false;
  auto* word = static_cast<uint32_t*>((*r)[0].iov_base);
  // The word may be in a file overlay past the file's end: fault-tolerant
  // accesses (base/safe_copy.h), a fault stops the walk as the kernel's
  // get_user/futex_cmpxchg_value_locked failure does.
  safe_copy::FaultWindow window;
  for (;;) {
    uint32_t uval;
    if (!safe_copy::load32(word, &uval)) return false;
    // A pending non-PI lock whose word is still 0: the thread died between
    // the waker's unlock and its own acquisition; wake another waiter.
    if (pending_op && !pi && uval == 0) {
      syscall(SYS_futex, word, FUTEX_WAKE, 1, nullptr, nullptr, 0);
      return true;
    }
    if ((uval & FUTEX_TID_MASK) != static_cast<uint32_t>(tid)) return true;
    uint32_t mval = (uval & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    int swapped = safe_copy::cmpxchg32(word, &uval, mval);
    if (swapped < 0) return false;
    if (swapped == 0) continue;
    // The kernel wakes with FLAGS_SHARED; glibc waits on robust mutexes
    // with a shared futex for that reason.
    if (!pi && (uval & FUTEX_WAITERS)) syscall(SYS_futex, word, FUTEX_WAKE, 1, nullptr, nullptr, 0);
    return true;
  }
}

// kernel/futex/core.c exit_robust_list: struct robust_list_head { next,
// futex_offset, list_op_pending }, entries' bit 0 = PI, at most
// ROBUST_LIST_LIMIT entries (a circular list cannot hang the exit).
void exit_robust_list(Process& proc, Thread& t) {
  if (!t.robust_list) return;
  MemoryManager& mm = proc.mm();
  uint64_t head[3];
  if (!mm.copy_in(head, t.robust_list, sizeof head).ok()) return;
  uint64_t entry = head[0] & ~uint64_t{1};
  bool pi = head[0] & 1;
  int64_t offset = static_cast<int64_t>(head[1]);
  uint64_t pending = head[2] & ~uint64_t{1};
  bool pending_pi = head[2] & 1;
  for (int limit = 2048; entry != t.robust_list && limit > 0; limit--) {
    uint64_t next;
    bool ok = mm.copy_in(&next, entry, sizeof next).ok();
    if (entry != pending) handle_futex_death(mm, entry + offset, t.tid, pi, false);
    if (!ok) return;
    entry = next & ~uint64_t{1};
    pi = next & 1;
  }
  if (pending) handle_futex_death(mm, pending + offset, t.tid, pending_pi, true);
}

// Under threads_mu: the Thread leaves `threads` (and is destroyed); its
// vCPU goes back to the VM for the next thread.
void remove_locked(Process& proc, Thread& t) {
  if (t.vcpu && proc.vm) proc.vm->release_vcpu(std::move(t.vcpu));
  for (auto it = proc.threads.begin(); it != proc.threads.end(); ++it) {
    if (it->get() == &t) {
      proc.threads.erase(it);
      break;
    }
  }
  proc.threads_cv.notify_all();
}

}  // namespace

Result<int> clone_thread(Process& proc, Thread& parent, const CloneRequest& req) {
  // The parent stopped at a syscall exit: its registers, segments, FPU and
  // XSAVE state are the child's (kernel/fork.c copy_thread), then RAX = 0
  // and the new stack.
  timing_mark("clone thread: start");
  VcpuState state = TRY(parent.vcpu->save_state());
  if (req.stack) state.regs.rsp = req.stack;
  if (req.flags & CLONE_SETTLS) {
    state.new_fs_base = true;
    state.fs_base = req.tls;
  }
  timing_mark("clone thread: vCPU state saved");
  std::unique_ptr<Vcpu> vcpu = TRY(proc.vm->restore_vcpu(state));
  timing_mark("clone thread: vCPU restored");
  vcpu->finish_syscall(0);
  auto owned = std::make_unique<Thread>();
  Thread& child = *owned;
  child.vcpu = std::move(vcpu);
  // copy_process: the blocked mask is inherited, pending signals are not;
  // CLONE_VM without CLONE_VFORK clears the alternate stack; no robust list.
  child.sigmask = parent.sigmask;
  child.seccomp_strict = parent.seccomp_strict;  // copy_seccomp
  child.clear_child_tid = (req.flags & CLONE_CHILD_CLEARTID) ? req.child_tid : 0;

  auto* st = new Start;
  st->proc = &proc;
  st->thread = &child;
  st->unshare_flags =
      (req.flags & CLONE_FS ? 0 : CLONE_FS) | (req.flags & CLONE_FILES ? 0 : CLONE_FILES);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, kHostStack);
  // The host thread starts with every signal blocked (it inherits this
  // mask) until signals_attach_thread gives it the guest's: a signal that
  // came before would find no ThreadSignals to record into.
  uint64_t all = ~uint64_t{0}, old = 0;
  raw_setmask(&all, &old);
  pthread_t pt;
  int err = pthread_create(&pt, &attr, thread_main, st);
  raw_setmask(&old, nullptr);
  pthread_attr_destroy(&attr);
  if (err) {
    delete st;
    proc.vm->release_vcpu(std::move(child.vcpu));
    return Errno{err == EAGAIN ? EAGAIN : err};
  }
  timing_mark("clone thread: host thread created");
  st->tid.wait(0);
  int tid = st->tid.load();
  child.tid = tid;
  {
    std::lock_guard lock(proc.threads_mu);
    {
      // copy_seccomp, under the lock another thread's TSYNC takes: the
      // child has the parent's filters and no_new_privs as they are when
      // it joins the thread group.
      std::lock_guard seccomp_lock(proc.seccomp_mu);
      child.no_new_privs = parent.no_new_privs.load();  // copy_process: atomic_flags
      child.seccomp_filter = parent.seccomp_filter;
      child.seccomp_filtered.store(parent.seccomp_filter != nullptr);
    }
    proc.threads.push_back(std::move(owned));
  }
  // kernel/fork.c: parent_tid is written before clone returns and before
  // the child runs; child_tid (CLONE_CHILD_SETTID) before the child's
  // first user instruction. Both are in the shared memory. A fault is
  // ignored, as put_user's result is there.
  if (req.flags & CLONE_PARENT_SETTID) (void)proc.mm().copy_out(req.parent_tid, &tid, sizeof tid);
  if (req.flags & CLONE_CHILD_SETTID) (void)proc.mm().copy_out(req.child_tid, &tid, sizeof tid);
  st->go.store(1);
  st->go.notify_one();
  st->unref();
  timing_mark("clone thread: child released");
  return tid;
}

void wait_vfork_thread(Process& proc, Thread& parent, int tid) {
  // The thread leaves proc.threads when it exits and when its execve
  // passes de_thread (which stops this one first: its stop flag).
  std::unique_lock lock(proc.threads_mu);
  for (;;) {
    if (parent.signals.stop.load()) return;
    bool present = false;
    for (auto& t : proc.threads) present = present || t->tid == tid;
    if (!present) return;
    proc.threads_cv.wait_for(lock, std::chrono::milliseconds(10));
  }
}

void exit_thread(Process& proc, Thread& t, int code) {
  exitless_stop_worker(t);
  // kernel/exit.c do_exit -> exit_mm -> mm_release: robust futexes first
  // (futex_exit_release), then clear_child_tid: store 0 and wake one
  // waiter (pthread_join), with a shared futex as the kernel does.
  exit_robust_list(proc, t);
  if (t.clear_child_tid) {
    int zero = 0;
    if (proc.mm().copy_out(t.clear_child_tid, &zero, sizeof zero).ok()) {
      Result<std::vector<iovec>> r = proc.mm().host_ranges(t.clear_child_tid, 4, PROT_WRITE);
      if (r.ok() && r->size() == 1)
        syscall(SYS_futex, (*r)[0].iov_base, FUTEX_WAKE, 1, nullptr, nullptr, 0);
    }
  }
  signals_detach_thread();
  std::lock_guard lock(proc.threads_mu);
  // The last thread: the process ends with this thread's code (what Linux
  // reports, measured: the leader's own exit(9) before a last exit(5)
  // gives status 5; tests/guest/threads.c).
  if (proc.threads.size() <= 1) {
    peer::leaving();
    _exit(code);
  }
  remove_locked(proc, t);
}

void leave_thread(Process& proc, Thread& t) {
  exitless_stop_worker(t);
  signals_detach_thread();
  std::lock_guard lock(proc.threads_mu);
  remove_locked(proc, t);
}

bool de_thread(Process& proc, Thread& self, PreparedExec& prepared) {
  // The worker goes first, without threads_mu (a call it serves may take
  // it): whatever follows, this thread's calls are done with.
  exitless_stop_worker(self);
  bool leader = self.tid == proc.pid;
  std::unique_lock lock(proc.threads_mu);
  if (proc.threads.size() == 1 && leader) return true;
  if (proc.zapping.load()) {
    // Another thread's execve got there first: this one is killed by it
    // (de_thread sends SIGKILL to every other thread).
    lock.unlock();
    leave_thread(proc, self);
    return false;
  }
  proc.zapping.store(true);
  proc.zapper = &self;
  // zap_other_threads: each thread ends at its next exit from the guest;
  // a kick stops KVM_RUN, SIGURG (no SA_RESTART) a blocking host syscall.
  // Repeated, for a signal that came just before a host call began.
  while (proc.threads.size() > 1) {
    for (auto& t : proc.threads) {
      if (t.get() == &self) continue;
      t->signals.stop.store(true);
      if (t->vcpu) t->vcpu->kick();
      syscall(SYS_tgkill, proc.pid, t->tid, SIGURG);
    }
    proc.threads_cv.wait_for(lock, std::chrono::milliseconds(10));
  }
  proc.zapping.store(false);
  proc.zapper = nullptr;
  if (leader) return true;
  // The leader's host thread is parked (leader_park): it runs the new
  // program with the pid as its tid, as de_thread makes the exec'ing
  // thread take the leader's pid. This thread's vCPU goes with the VM.
  self.vcpu.reset();
  proc.handoff = new PreparedExec(std::move(prepared));
  proc.handoff_sigmask = self.sigmask;
  proc.handoff_no_new_privs = self.no_new_privs;
  {
    std::lock_guard seccomp_lock(proc.seccomp_mu);
    proc.handoff_seccomp_filter = self.seccomp_filter;
  }
  lock.unlock();
  signals_detach_thread();
  lock.lock();
  remove_locked(proc, self);
  return false;
}

void leader_park(Process& proc) {
  signals_detach_thread();
  std::unique_lock lock(proc.threads_mu);
  for (;;) {
    proc.threads_cv.wait(lock, [&] { return proc.handoff != nullptr; });
    std::unique_ptr<PreparedExec> prepared(proc.handoff);
    proc.handoff = nullptr;
    auto owned = std::make_unique<Thread>();
    Thread& t = *owned;
    t.tid = static_cast<int>(gettid());
    t.sigmask = proc.handoff_sigmask;
    t.no_new_privs = proc.handoff_no_new_privs;
    t.seccomp_filter = std::move(proc.handoff_seccomp_filter);
    t.seccomp_filtered.store(t.seccomp_filter != nullptr);
    proc.threads.push_back(std::move(owned));
    lock.unlock();
    // Past the point of no return: fs/exec.c kills the task with SIGSEGV.
    if (!commit_exec(proc, t, *prepared).ok()) die_by_signal(SIGSEGV);
    prepared.reset();
    run_thread(proc, t);
    lock.lock();
  }
}

void host_thread_done(Process& proc) {
  // The host thread-group leader never ends before the process: parked,
  // it keeps /proc/self and the process's host identity intact.
  if (gettid() == getpid()) leader_park(proc);
}

}  // namespace elfuse
