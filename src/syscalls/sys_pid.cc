// Process identity: the ids (getpid, getppid, gettid), process groups and
// sessions (getpgrp, getpgid, setpgid, getsid, setsid). Guest pids are host
// pids and a guest process is one host process, so the host's process-group
// and session bookkeeping is the guest's: each call goes to the host with
// its integer arguments unchanged (kernel/sys.c).
#include <sys/syscall.h>
#include <unistd.h>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

// Guest pid/tid = host pid/tid: the handler runs on the guest thread's own
// host thread.
int64_t sys_getpid(SyscallContext&, const SyscallArgs&) {
  return ::syscall(SYS_getpid);
}
int64_t sys_getppid(SyscallContext&, const SyscallArgs&) {
  return ::syscall(SYS_getppid);
}
int64_t sys_gettid(SyscallContext&, const SyscallArgs&) {
  return ::syscall(SYS_gettid);
}

int64_t sys_getpgrp(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_getpgrp));
}

// getpgid(pid): pid 0 is the caller; ESRCH for no such process.
int64_t sys_getpgid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_getpgid, arg_int(a.a[0])));
}

// setpgid(pid, pgid): EINVAL for pgid < 0, ESRCH/EACCES/EPERM as
// setpgid(2) describes; the host checks them against the same processes.
int64_t sys_setpgid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setpgid, arg_int(a.a[0]), arg_int(a.a[1])));
}

int64_t sys_getsid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_getsid, arg_int(a.a[0])));
}

// setsid(): EPERM for a process-group leader. elfuse never makes the guest a
// group leader behind its back (it does not call setpgid/setsid itself), so
// the host's answer is the one Linux would give the guest.
int64_t sys_setsid(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_setsid));
}

}  // namespace elfuse
