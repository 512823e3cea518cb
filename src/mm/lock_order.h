// elfuse's lock order, and the memory manager's lock.
//
// A thread that holds a lock of this list takes only locks further down it,
// never one above, and never the same one twice (none is recursive):
//
//   1. Process::view_mu        commit_exec, while it replaces the image; the
//                              peer server (kernel/peer.cc answer) while it
//                              answers another process from it.
//   2. Process::threads_mu     the thread list; fork holds it across the host
//                              fork (kernel/fork.cc), the peer server inside
//                              view_mu.
//   3. Process::seccomp_mu     inside threads_mu (clone, TSYNC); never held
//                              with the memory manager's lock.
//   4. MemoryManager::mu_      the AddressSpace, page tables, layout and
//                              runs of one process (src/mm/memory_manager.h).
//                              Taken inside view_mu (exec builds and drops
//                              memory managers; the peer server reads
//                              /proc/PID/maps), inside threads_mu (fork),
//                              or alone (every memory syscall and copy).
//   5. KvmVm::vcpu_mu_         the VM's vCPU list: HwVm::invalidate takes it
//                              under the memory manager's lock (ShadowSync
//                              narrowed/freed), to kick running vCPUs. It
//                              waits only for vCPUs inside KVM_RUN, never for
//                              a thread that waits for the memory lock.
//
// Leaves, which hold no other lock and are taken under none of the above
// in a way that nests with the memory lock: ProcMemRegistry::mu
// (kernel/proc_mem.h), peer's ask lock (kernel/peer.cc), the guest rlimit
// lock (syscalls/sys_info.cc), safe_copy's disposition lock
// (base/safe_copy.cc). Host signal handlers take no lock and never call
// the memory manager (they record signals; frames are written from the run
// loop).
//
// Inside the memory manager: every public member function that reads or
// changes the AddressSpace takes mu_ once, at its entry; the work is done
// by private members that expect mu_ held (their names end in _locked where
// a public one of the same name exists, e.g. munmap / munmap_locked) and
// never call a public member, nor copy_in / copy_out. with_vmas() runs a
// caller's function under mu_: that function must not call back into the
// memory manager. The memory manager calls out only to ShadowSync (the VM:
// lock 5), PhysAllocator's growth (Vm::register_memory, no lock) and the
// host kernel.
#pragma once

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <new>

namespace elfuse {

// A std::mutex that knows which thread holds it: taking it again from that
// thread (a re-entry that would hang) is a fatal error with a message, and
// members that expect it held can check that they are.
class CheckedMutex {
 public:
  void lock() {
    if (held_by_me()) reentered();
    mu_.lock();
    owner_.store(pthread_self(), std::memory_order_relaxed);
  }
  void unlock() {
    owner_.store(pthread_t{}, std::memory_order_relaxed);
    mu_.unlock();
  }
  // Only the owner itself stores its id, so this is exact for the caller.
  bool held_by_me() const {
    return pthread_equal(owner_.load(std::memory_order_relaxed), pthread_self()) != 0;
  }
  // A forked child: the parent's thread held it across the host fork
  // (MemoryManager::lock_for_fork); the child's copy is a new, free mutex.
  void reset_in_child() {
    new (&mu_) std::mutex();
    owner_.store(pthread_t{}, std::memory_order_relaxed);
  }

 private:
  [[noreturn]] static void reentered();

  std::mutex mu_;
  std::atomic<pthread_t> owner_{pthread_t{}};
};

}  // namespace elfuse
