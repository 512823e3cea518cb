// Between elfuse processes. Every guest process is its own elfuse host
// process (a guest fork forks elfuse), so what the guest may see of
// ANOTHER guest process of the same run, /proc/<pid>/..., must come from
// that process's elfuse: the host's /proc/<pid> describes elfuse. This is
// the run-wide registry of those processes and a request channel between
// them: a MAP_SHARED anonymous region the first elfuse maps before the
// guest exists (no descriptor, no name; only elfuse's host memory holds
// it, inherited by every fork), one slot per live process, and a
// futex-based request/answer per slot, answered by a host thread of the
// target's elfuse (the server, started with its first peer).
// docs/internals.md, "Between elfuse processes".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace elfuse {

class Process;

namespace peer {

// The first elfuse, at start-up: maps the registry and takes the first
// slot for `proc` (its pid and fd floor must be set). Fatal when the
// region cannot be mapped.
void start_run(Process& proc);

// fork_process, in the parent, before the host fork: starts this
// process's server (it has a peer from now on) and reserves a slot for
// the child. EAGAIN when every slot holds a live process (the fork is
// refused, as for a process limit: an unregistered guest process would
// show its elfuse).
Result<int> reserve_child_slot(Process& proc);
// After the host fork, in the parent: the child's pid, or -1 when the
// fork failed (the slot is freed).
void child_forked(int slot, int pid);
// In the child, before its guest runs: the slot is its own; its server
// starts.
void become_child(Process& proc, int slot);

// The process is about to end (exit_group, its last thread's exit):
// requests to it are answered ENOENT from now on.
void leaving();

// Another process of this run, as the host names it now (live, exiting,
// or a zombie not reaped yet; a pid reused by a host process is none).
struct Peer {
  int pid = 0;
  int fd_floor = 0;
};
std::optional<Peer> find(int pid);
// Whether any other process of the run may exist (cheap: no /proc read).
bool others_exist();

// The host's thread group of task `tid` (Tgid: in /proc/<tid>/status), or 0.
int host_tgid(int tid);

// A question to another process's elfuse, answered from its guest state.
enum class Query : uint32_t {
  kFile = 1,   // a generated /proc file (fs/proc/procfs.h OwnProcFile `file`)
  kTasks = 2,  // its guest threads' tids, decimal, one per line
  kExe = 3,    // its program's path (the guest's name of it)
};
// ENOENT when the process is gone or exiting (or `tid` is no guest thread
// of it), EACCES when it cannot answer now (stopped, or no answer within
// the time limit).
Result<std::string> ask(int pid, Query q, uint32_t file = 0, int tid = 0,
                        bool thread_level = false);

// The guest tids of another process, from ask(kTasks).
Result<std::vector<int>> guest_tids(int pid);

// The server's answer to ask(kFile) about `proc` (its view lock held): the
// text of generated file `file` of task `tid` (thread_level) or of the
// process. Defined by /proc (src/fs/proc/procfs.cc), above this layer.
Result<std::string> answer_file(Process& proc, uint32_t file, int tid, bool thread_level);

}  // namespace peer
}  // namespace elfuse
