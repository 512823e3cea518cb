// ptrace. A guest process's registers and memory live in its VM (its vCPUs
// and elfuse's translation of its addresses), which a host tracer cannot
// see through the host's ptrace, so no guest process is ever traced and no
// guest traces another. The answers are Linux's for a caller a security
// policy forbids to attach (as Yama's ptrace_scope 3 does): PTRACE_TRACEME,
// PTRACE_ATTACH and PTRACE_SEIZE are EPERM, and any other request finds no
// tracee (kernel/ptrace.c, ptrace_check_attach: ESRCH).
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

// ptrace(request, pid, addr, data): PTRACE_TRACEME first; then the task
// (ESRCH when there is no such pid or tid); PTRACE_SEIZE's addr and options
// (EIO), then the attach itself (EPERM); other requests: ESRCH.
int64_t sys_ptrace(SyscallContext&, const SyscallArgs& a) {
  constexpr uint64_t kOptionsMask = 0xff | PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP;
  long request = static_cast<long>(a.a[0]);
  if (request == PTRACE_TRACEME) return -EPERM;
  pid_t pid = static_cast<pid_t>(a.a[1]);
  char path[32];
  snprintf(path, sizeof path, "/proc/%d", pid);
  if (pid <= 0 || ::access(path, F_OK) != 0) return -ESRCH;  // a tid is found too
  if (request == PTRACE_SEIZE && (a.a[2] != 0 || (a.a[3] & ~kOptionsMask))) return -EIO;
  if (request == PTRACE_ATTACH || request == PTRACE_SEIZE) return -EPERM;
  return -ESRCH;
}

}  // namespace elfuse
