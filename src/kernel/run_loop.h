// The loop a guest thread lives in: run the vCPU, act on each exit.
#pragma once

namespace elfuse {

class Process;
class Thread;

// Runs the thread until it leaves the process (exit(2), another thread's
// execve, or its own execve handed to the leader), then returns; `thread`
// is gone by then. The end of the process (exit_group, the last exit, a
// fatal signal) never returns: the host process ends with the guest's
// status or dies by the guest's fatal signal.
void run_thread(Process& proc, Thread& thread);

}  // namespace elfuse
