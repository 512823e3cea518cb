// The loop a guest thread lives in: run the vCPU, act on each exit.
#pragma once

namespace elfuse {

class Process;
class Thread;

// Runs the thread until the process ends; never returns (the host process
// exits with the guest's status, or dies by the guest's fatal signal).
[[noreturn]] void run_thread(Process& proc, Thread& thread);

}  // namespace elfuse
