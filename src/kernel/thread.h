// Guest threads: one host thread and one vCPU per guest thread, guest tid =
// host tid (docs/internals.md, "Threads"). What kernel/fork.c
// (copy_process with CLONE_THREAD), kernel/exit.c (do_exit, exit_group)
// and fs/exec.c (de_thread) do for threads, done with host threads.
#pragma once

#include <cstdint>

#include "base/result.h"

namespace elfuse {

class Process;
class Thread;
struct CloneRequest;
struct PreparedExec;

// clone/clone3 with CLONE_VM|CLONE_SIGHAND|CLONE_THREAD: a new host thread
// whose vCPU continues from the caller's registers with RAX = 0, RSP =
// req.stack and FS base = req.tls (CLONE_SETTLS). Returns the new tid,
// which is the host thread's tid, after CLONE_PARENT_SETTID and
// CLONE_CHILD_SETTID were written and before the new thread runs.
Result<int> clone_thread(Process& proc, Thread& parent, const CloneRequest& req);

// clone with CLONE_THREAD|CLONE_VFORK (kernel/fork.c wait_for_vfork_done):
// the creator sleeps until thread `tid` exits or execs (mm_release). The
// sleep is killable only: another thread's execve (de_thread) ends it.
void wait_vfork_thread(Process& proc, Thread& parent, int tid);

// exit(2) (kernel/exit.c do_exit for one thread): the robust list is walked
// (kernel/futex/core.c exit_robust_list), clear_child_tid is cleared and
// woken (kernel/fork.c mm_release), and the thread leaves the process. The
// last thread ends the process with its own exit code. Returns when
// the calling host thread must stop running the guest (run_thread returns).
void exit_thread(Process& proc, Thread& thread, int code);

// A thread stopped by another thread's execve (de_thread): it leaves
// without any of exit's side effects.
void leave_thread(Process& proc, Thread& thread);

// fs/exec.c de_thread, before commit_exec: every other thread leaves. True
// when the calling thread commits the exec itself (it is the leader);
// false when the leader's host thread takes `prepared` over (the caller
// has left the process and must end: Outcome::kThreadGone).
bool de_thread(Process& proc, Thread& thread, PreparedExec& prepared);

// For the host thread whose tid is the pid, after its guest thread ended
// while others go on: it waits, with every host signal blocked (so a
// process-directed signal goes to a thread that runs the guest), for an
// execve of another thread to hand the new program over. /proc/self stays
// valid because the host's thread-group leader stays alive.
[[noreturn]] void leader_park(Process& proc);

// The calling host thread's end once run_thread returned.
void host_thread_done(Process& proc);

}  // namespace elfuse
