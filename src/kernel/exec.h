// Starting a program in a process: the first program elfuse runs, and every
// execve after it. Two phases, as in the kernel's fs/exec.c: prepare checks
// everything that can fail with an errno while nothing has changed yet;
// commit replaces the process image (past Linux's "point of no return").
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "loader/elf.h"

namespace elfuse {

class Process;
class Thread;

struct ExecRequest {
  int dirfd = -100;  // AT_FDCWD
  std::string path;  // as the caller gave it (AT_EXECFN)
  int flags = 0;     // execveat: AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW
  std::vector<std::string> argv;
  std::vector<std::string> envp;
};

struct PreparedExec {
  ExecRequest request;
  UniqueFd fd;           // the program, open for reading
  std::string exe_path;  // absolute path for /proc/self/exe
};

// Opens and checks the program and its interpreter. Errors carry the errno
// execve(2) would return (ENOENT, EACCES, ENOEXEC, ELIBBAD...) and a message.
ElfOr<PreparedExec> prepare_exec(ExecRequest request);

// Replaces the image of `proc`: close-on-exec descriptors closed, caught
// signals reset, a new VM, memory, program, stack and vCPU for `thread`.
// A failure here leaves nothing to return to; the caller kills the guest.
Result<void> commit_exec(Process& proc, Thread& thread, PreparedExec& prepared);

}  // namespace elfuse
