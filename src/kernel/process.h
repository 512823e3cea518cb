// A guest process (one host process, one VM) and its threads (one host
// thread and one vCPU each). Guest pid = host pid, guest tid = host tid.
#pragma once

#include <signal.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mm/memory_manager.h"

namespace elfuse {

class Vcpu;

// Guest-visible file descriptors are host descriptors below fd_floor;
// elfuse's own descriptors live at or above it, where the guest can neither
// see, dup over nor close them.
struct FdRules {
  int floor = 1024;           // first fd reserved for elfuse
  uint64_t nofile_soft = 1024;  // RLIMIT_NOFILE as the guest sees it (<= floor)
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

class Thread {
 public:
  int tid = 0;
  Vcpu* vcpu = nullptr;
  uint64_t clear_child_tid = 0;  // set_tid_address
  uint64_t robust_list = 0;
  uint64_t robust_list_len = 0;
  uint64_t sigmask = 0;          // blocked signals, bit (sig-1)
  uint64_t altstack_sp = 0, altstack_size = 0;
  int altstack_flags = SS_DISABLE;
};

class Process {
 public:
  Process(std::unique_ptr<MemoryManager> mm) : mm_(std::move(mm)) {}
  MemoryManager& mm() { return *mm_; }

  int pid = 0;
  FdRules fds;
  std::array<GuestSigaction, 64> sigactions{};  // index sig-1
  std::string exe_path;          // absolute host path of the running program
  std::vector<std::unique_ptr<Thread>> threads;
  int personality = 0;
  // Shown in uname(2) and AT_* values.
  uint64_t auxv_hwcap = 0, auxv_hwcap2 = 0;

 private:
  std::unique_ptr<MemoryManager> mm_;
};

}  // namespace elfuse
