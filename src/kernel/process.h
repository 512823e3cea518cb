// A guest process (one host process, one VM) and its threads (one host
// thread and one vCPU each). Guest pid = host pid, guest tid = host tid.
#pragma once

#include <signal.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hv/hypervisor.h"
#include "kernel/proc_mem.h"
#include "kernel/seccomp_filter.h"
#include "kernel/signal.h"
#include "mm/guest_limits.h"
#include "mm/memory_manager.h"

namespace elfuse {

// Guest-visible file descriptors are host descriptors below fd_floor;
// elfuse's own descriptors live at or above it, where the guest can neither
// see, dup over nor close them.
struct FdRules {
  int floor = 1024;             // first fd reserved for elfuse
  uint64_t nofile_soft = 1024;  // RLIMIT_NOFILE as the guest sees it (hard <= floor)
  uint64_t nofile_hard = 1024;
  bool guest_fd(int64_t fd) const { return fd >= 0 && fd < floor; }
};

// The kernel's struct k_sigaction as rt_sigaction passes it (x86_64).
struct GuestSigaction {
  uint64_t handler = 0;  // SIG_DFL (0), SIG_IGN (1) or a guest address
  uint64_t flags = 0;
  uint64_t restorer = 0;
  uint64_t mask = 0;
};
static_assert(sizeof(GuestSigaction) == 32);

// The host worker of a thread's exitless syscalls (kernel/exitless.h). The
// owner stops and joins it first (exitless_stop_worker); destroying a
// Thread only frees it (a forked child has the parent's Thread objects, not
// their host threads).
struct ExitlessWorker;
struct ExitlessWorkerFree {
  void operator()(ExitlessWorker* w) const;
};

class Thread {
 public:
  int tid = 0;
  std::unique_ptr<Vcpu> vcpu;    // replaced by execve and in a forked child
  uint64_t clear_child_tid = 0;  // set_tid_address
  uint64_t robust_list = 0;
  uint64_t robust_list_len = 0;
  uint64_t sigmask = 0;  // blocked signals, bit (sig-1)
  // sigaltstack: the kernel's sas_ss_sp, sas_ss_size, sas_ss_flags.
  uint64_t altstack_sp = 0, altstack_size = 0;
  int altstack_flags = SS_DISABLE;
  ThreadSignals signals;  // pending signals and delivery state (kernel/signal.h)
  // seccomp(2) SECCOMP_MODE_STRICT: every syscall but read, write, exit
  // and rt_sigreturn kills (src/syscalls/dispatch.cc); none is answered
  // without the host (exitless_seccomp_strict). Inherited by new threads
  // and kept by fork and execve, as the kernel's task->seccomp.
  bool seccomp_strict = false;
  // SECCOMP_MODE_FILTER: the newest of the thread's filters
  // (kernel/seccomp_filter.h), run by dispatch_syscall before every call.
  // seccomp_filtered is set once the thread has one (the one branch a
  // thread without filters pays). Another thread's TSYNC replaces them:
  // seccomp_filter is read and written under Process::seccomp_mu. Inherited
  // by new threads and kept by fork and execve.
  std::atomic<bool> seccomp_filtered{false};
  std::shared_ptr<const SeccompFilter> seccomp_filter;
  // prctl(PR_SET_NO_NEW_PRIVS): the guest's own flag (the host thread always
  // has it: elfuse's self-confinement, base/self_confine.h). Inherited by new
  // threads and kept by fork and execve, as the kernel's task flag. Atomic:
  // another thread's seccomp TSYNC sets it.
  std::atomic<bool> no_new_privs{false};
  std::unique_ptr<ExitlessWorker, ExitlessWorkerFree> worker;
  int64_t exitless_last_trap = 0;       // steady-clock ns of the last allowlisted trap
  bool timing_first_exit_seen = false;  // ELFUSE_TIMING (base/timing.h)
  int64_t timing_last_run_end = 0;
};

struct PreparedExec;

// What the kernel keeps in mm_struct about the image exec built, for
// /proc/self/{stat,statm,status,cmdline,environ,auxv} (src/fs/proc/procfs.h).
struct ExecLayout {
  uint64_t start_code = 0, end_code = 0, start_data = 0, end_data = 0;
  uint64_t start_brk = 0, start_stack = 0;
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  std::vector<uint8_t> saved_auxv;  // mm->saved_auxv: the pairs, AT_NULL included
};

class Process;
class Sysroot;

// Shadow invalidation goes to whatever VM the process has now (execve and
// fork replace it).
class ProcessShadowSync final : public ShadowSync {
 public:
  explicit ProcessShadowSync(Process& proc) : proc_(proc) {}
  void narrowed(uint64_t pa, uint64_t len) override;
  void freed(uint64_t pa, uint64_t len) override;
  bool extend(uint64_t old_end, uint64_t new_end) override;
  void reprotect_begin() override;
  void reprotect_end() override;

 private:
  Process& proc_;
};

class Process {
 public:
  Process(uint8_t* reservation, uint64_t reservation_size)
      : reservation(reservation), reservation_size(reservation_size) {}
  MemoryManager& mm() { return *memory; }

  // Guest-physical memory: one host reservation, for the life of the process.
  uint8_t* const reservation;
  const uint64_t reservation_size;
  std::unique_ptr<Vm> vm;
  std::unique_ptr<MemoryManager> memory;
  ProcessShadowSync shadow_sync{*this};

  int pid = 0;
  FdRules fds;  // RLIMIT_NOFILE too
  // The guest's other resource limits that elfuse keeps (mm/guest_limits.h);
  // fork copies them with the process, execve keeps them.
  GuestRlimits limits;
  std::array<GuestSigaction, 64> sigactions{};  // index sig-1
  std::string exe_path;                         // absolute host path of the running program
  ExecLayout exec_layout;                       // set by commit_exec
  std::vector<std::unique_ptr<Thread>> threads;
  int personality = 0;
  // Shown in uname(2) and AT_* values.
  uint64_t auxv_hwcap = 0, auxv_hwcap2 = 0;
  bool no_aslr_option = false;  // --no-aslr
  bool vdso_enabled = true;     // false: --no-vdso (src/vdso/vdso.h)
  // The VM has the host's vDSO data pages (vdso_attach succeeded; not on a
  // backend that refuses Vm::map_host_readonly): without them no vDSO can
  // be mapped, not even by arch_prctl(ARCH_MAP_VDSO_64).
  bool vdso_attached = false;
  // vfork: the parent waits until this descriptor (the child's end of a
  // pipe) is closed by the child's execve or exit. -1 otherwise.
  int vfork_done_fd = -1;
  // membarrier(2) registrations since the last execve, as the
  // MEMBARRIER_CMD_REGISTER_* bits the guest made (MEMBARRIER_CMD_GET_
  // REGISTRATIONS answers them); the host process's may be older.
  std::atomic<int> membarrier_registered{0};
  // A thread of this process is in seccomp's strict mode or has a filter:
  // the process page answers nothing in the guest (pid, ppid, futex
  // wakes), so that every call of that thread reaches dispatch_syscall
  // (src/kernel/exitless.h).
  std::atomic<bool> seccomp_strict_seen{false};
  // Guards every Thread::seccomp_filter of the process (TSYNC writes other
  // threads' filters).
  std::mutex seccomp_mu;
  // The mem files the guest opened (kernel/proc_mem.h), this process's
  // owner token for them (0 until the first; a forked child starts with
  // 0) and the number of execve's so far (an fd opened before one reaches
  // an mm that is gone).
  ProcMemRegistry proc_mem;
  uint64_t proc_mem_token = 0;
  uint64_t exec_count = 0;
  // --sysroot DIR (src/fs/sysroot.h); null: guest paths are host paths.
  std::shared_ptr<const Sysroot> sysroot;

  // Threads (src/kernel/thread.h). threads_mu guards `threads` and the
  // fields below; a Thread object lives as long as its host thread runs
  // the guest, and only that host thread removes it.
  std::mutex threads_mu;
  std::condition_variable threads_cv;  // `threads` shrank, or a handoff came
  // de_thread (fs/exec.c): set while one thread waits for the others to
  // leave; every other thread ends at its next exit from the guest.
  std::atomic<bool> zapping{false};
  Thread* zapper = nullptr;
  // execve from a thread that is not the leader: the leader's host thread
  // (parked since its guest thread ended) runs the new program, so that
  // the program's tid is its pid again, as de_thread makes it.
  PreparedExec* handoff = nullptr;
  uint64_t handoff_sigmask = 0;
  bool handoff_no_new_privs = false;
  std::shared_ptr<const SeccompFilter> handoff_seccomp_filter;
  // Held by commit_exec while it replaces the image (memory, exe_path,
  // exec_layout) and by the peer server (kernel/peer.h) while it answers
  // another process from them; the guest's own threads need no lock for
  // that (de_thread stopped them).
  std::mutex view_mu;
};

inline void ProcessShadowSync::narrowed(uint64_t pa, uint64_t len) {
  proc_.vm->invalidate(pa, len, false);
}
inline void ProcessShadowSync::freed(uint64_t pa, uint64_t len) {
  proc_.vm->invalidate(pa, len, true);
}
inline void ProcessShadowSync::reprotect_begin() {
  proc_.vm->reprotect_begin();
}
inline void ProcessShadowSync::reprotect_end() {
  proc_.vm->reprotect_end();
}
inline bool ProcessShadowSync::extend(uint64_t, uint64_t new_end) {
  return proc_.vm->register_memory(new_end).ok();
}

}  // namespace elfuse
