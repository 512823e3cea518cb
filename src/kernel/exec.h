// Starting a program in a process: the first program elfuse runs, and every
// execve after it. Two phases, as in the kernel's fs/exec.c: prepare checks
// everything that can fail with an errno while nothing has changed yet;
// commit replaces the process image (past Linux's "point of no return").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "loader/elf.h"

namespace elfuse {

class Process;
class Thread;
class Sysroot;

struct ExecRequest {
  int dirfd = -100;  // AT_FDCWD
  std::string path;  // the file to open; after prepare_exec: execfn
  // bprm->filename (AT_EXECFN, the task name, a script's argv entry);
  // empty: `path`. execveat makes it /dev/fd/N[/PATH].
  std::string execfn;
  // BINPRM_FLAGS_PATH_INACCESSIBLE: execveat relative to a close-on-exec
  // fd, whose /dev/fd name dies with the exec: a script gets ENOENT.
  bool path_inaccessible = false;
  int flags = 0;  // execveat: AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  // --sysroot: the program, #! interpreters and PT_INTERP resolve inside it.
  std::shared_ptr<const Sysroot> sysroot;
  // The calling program's exe (the guest's /proc/self/exe, a guest path
  // under --sysroot) and pid: a #! line naming /proc/self/exe runs it, as
  // the kernel opens the interpreter before the new program replaces the
  // caller. Empty at start-up: such a line is then EACCES (the caller is
  // elfuse, whose binary is never the guest's interpreter).
  std::string caller_exe;
  int caller_pid = 0;
};

struct PreparedExec {
  ExecRequest request;
  UniqueFd fd;           // the program, open for reading
  UniqueFd interp_fd;    // its PT_INTERP, opened and checked (open_interpreter)
  std::string exe_path;  // absolute path for /proc/self/exe
  // execveat(fd, "", AT_EMPTY_PATH): the task name is the file's own name
  // (fs/exec.c bprm->comm_from_dentry), not "N" from /dev/fd/N.
  bool comm_from_file = false;
};

// Opens and checks the program, following `#!` interpreters as
// fs/binfmt_script.c does (argv rewritten, at most 5 levels, then ELOOP),
// and parses the ELF it ends at, opening and checking its PT_INTERP
// interpreter as load_elf_binary() does before the point of no return.
// Errors carry the errno execve(2) would return (ENOENT, EACCES, ENOEXEC,
// ELOOP, ELIBBAD...) and a message.
ElfOr<PreparedExec> prepare_exec(ExecRequest request);

// Before the first program: a host thread starts building its VM (KVM_CREATE_VM,
// the first memslot, the vDSO's data slot, then a vCPU) while this thread
// reads the options, finds the program and loads it; the first commit_exec
// takes that VM. The thread is also the process's first pthread_create:
// elfuse's own C library installs its SIGSETXID handler (and unblocks
// signals 32 and 33 in the calling thread) at the first pthread_create
// (glibc nptl late_init), which must not happen later, over the guest's
// disposition and mask, when the guest makes its first thread. Failures are reported by
// commit_exec, after any error about the program itself, as when the VM was made there.
void start_first_vm(uint8_t* reservation, uint64_t size);

// Replaces the image of `proc`: close-on-exec descriptors closed, caught
// signals reset, a new VM, memory, program, stack and vCPU for `thread`.
// A failure here leaves nothing to return to; the caller kills the guest.
Result<void> commit_exec(Process& proc, Thread& thread, PreparedExec& prepared);

// What a family of syscalls (src/syscalls/) keeps per process and execve
// drops (fs/exec.c begin_new_exec: exit_itimers...): the family registers a
// hook here when elfuse starts (a static initializer of its own file), and
// commit_exec runs every hook, in registration order, once the old image
// is gone and caught signals are reset. exec names no family: the layers
// (docs/internals.md, "The shape").
using ExecHook = void (*)();
void register_exec_hook(ExecHook hook);

}  // namespace elfuse
