// A syscall as the kernel layer carries it: the six argument registers, and
// the context a handler runs in (the calling thread, its process) with how
// control goes on afterwards. The run loop and the exitless worker build
// these; the handlers (src/syscalls/syscall.h) take them. A handler that
// changes control flow (exit, exec, sigreturn) says so in ctx.outcome
// instead of through a magic number.
#pragma once

#include <cstdint>

namespace elfuse {

class Process;
class Thread;
class MemoryManager;

enum class Outcome {
  kReturn,      // put the result in RAX and resume after the syscall
  kExitThread,  // the thread is gone (exit); exit_code holds the status
  kExitGroup,   // the process is gone (exit_group); exit_code holds the status
  kNoReturn,    // registers were replaced (execve, rt_sigreturn): do not touch RAX
  kThreadGone,  // the thread left the process (execve handed to the leader)
};

struct SyscallArgs {
  uint64_t nr;
  uint64_t a[6];
};

struct SyscallContext {
  Process& proc;
  Thread& thread;
  MemoryManager& mm;
  Outcome outcome = Outcome::kReturn;
  int exit_code = 0;
  // The call runs on the thread's exitless worker, another host thread
  // (kernel/exitless.h). A handler that would have to act on the calling
  // host thread itself sets `refuse` before it changes anything: the
  // thread then runs the call at an exit.
  bool on_worker = false;
  bool refuse = false;
};

}  // namespace elfuse
