// fork, vfork and clone without CLONE_VM: a real host process (guest pid =
// host pid) whose VM is new and whose memory is the host's copy-on-write
// copy of the parent's reservation.
#pragma once

#include <cstdint>

#include "base/result.h"

namespace elfuse {

class Process;
class Thread;

struct CloneRequest {
  uint64_t flags = 0;       // CLONE_* without the exit signal
  int exit_signal = 0;      // sent to the parent when the child ends
  uint64_t stack = 0;       // child's RSP, 0 to keep the parent's
  uint64_t parent_tid = 0;  // CLONE_PARENT_SETTID
  uint64_t child_tid = 0;   // CLONE_CHILD_SETTID / CLONE_CHILD_CLEARTID
  uint64_t tls = 0;         // CLONE_SETTLS
  // A vfork with CLONE_VM, run on a copy (do_clone): Linux's child shares
  // the parent's memory, so the fork advice (MADV_DONTFORK,
  // MADV_WIPEONFORK) does not apply to it.
  bool shares_memory = false;
  // CLONE_PIDFD: the descriptor the parent's pidfd will take (the lowest
  // free one, reserved before the host fork); the child closes its copy.
  int pidfd_slot = -1;
};

// Returns the child's pid in the parent and 0 in the child, whose thread
// continues on a new vCPU with the parent's registers.
Result<int> fork_process(Process& proc, Thread& thread, const CloneRequest& req);

// Called in the parent after every successful fork of a guest process
// (the sandbox's process count, --report): set once at start-up by the
// layer that owns it, so that fork names nothing above kernel/.
using ForkHook = void (*)();
void set_fork_hook(ForkHook hook);

}  // namespace elfuse
