// Process file descriptors: pidfd_open, pidfd_send_signal, pidfd_getfd
// (kernel/pid.c, kernel/signal.c). Guest pids are host pids, so a pidfd is
// the host's pidfd of that process (or thread): poll, waitid(P_PIDFD) and
// the other calls that take one see the kernel's own object.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

// pidfd_open(pid, flags): a new fd, close-on-exec, checked against the
// guest's fd limit.
int64_t sys_pidfd_open(SyscallContext& ctx, const SyscallArgs& a) {
  long r = ::syscall(SYS_pidfd_open, static_cast<pid_t>(a.a[0]), arg_uint(a.a[1]));
  return new_fd_result(ctx.proc, r);
}

// pidfd_send_signal(pidfd, sig, info, flags): the flags, the fd and the
// target are checked before the siginfo is copied (EFAULT last); the host
// makes the checks on the guest's copy of it, as rt_sigqueueinfo does.
int64_t sys_pidfd_send_signal(SyscallContext& ctx, const SyscallArgs& a) {
  int pidfd = guest_dirfd(ctx.proc, a.a[0]);
  int sig = arg_int(a.a[1]);
  unsigned flags = arg_uint(a.a[3]);
  siginfo_t info;
  void* host_info = nullptr;
  if (a.a[2] != 0) {
    host_info = &info;
    if (!ctx.mm.copy_in(&info, a.a[2], sizeof info)) host_info = kHostFaultingAddress;
  }
  return host_rax(::syscall(SYS_pidfd_send_signal, pidfd, sig, host_info, flags));
}

// pidfd_getfd(pidfd, targetfd, flags): a duplicate of another process's fd.
// That process's elfuse descriptors (at or above the floor) are not its
// guest's: they answer EBADF as a closed fd would, after the pidfd and
// permission checks.
int64_t sys_pidfd_getfd(SyscallContext& ctx, const SyscallArgs& a) {
  int pidfd = guest_dirfd(ctx.proc, a.a[0]);
  int target = guest_dirfd(ctx.proc, a.a[1]);
  long r = ::syscall(SYS_pidfd_getfd, pidfd, target, arg_uint(a.a[2]));
  return new_fd_result(ctx.proc, r);
}

}  // namespace elfuse
