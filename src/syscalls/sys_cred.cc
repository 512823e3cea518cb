// Credentials: setuid, setgid, setreuid, setregid, setresuid, setresgid,
// setfsuid, setfsgid, setgroups (kernel/sys.c, kernel/groups.c). A guest
// thread is a host thread, so each is the host's raw call on the calling
// thread: Linux's credentials are per thread, and a C library that wants the
// POSIX per-process behaviour (glibc's and musl's setxid broadcast) signals
// its other threads, each of which makes the same call, under elfuse as
// natively. elfuse itself keeps what it needs from its old credentials
// open (the /dev/kvm descriptor, src/hv/pvm/create.cc), so a guest that drops
// root can still fork and execve.
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

// The id arguments are the low 32 bits (uid_t/gid_t); -1 means "unchanged".
int64_t sys_setuid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setuid, arg_uint(a.a[0])));
}
int64_t sys_setgid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setgid, arg_uint(a.a[0])));
}
int64_t sys_setreuid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setreuid, arg_uint(a.a[0]), arg_uint(a.a[1])));
}
int64_t sys_setregid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setregid, arg_uint(a.a[0]), arg_uint(a.a[1])));
}
int64_t sys_setresuid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(
      ::syscall(SYS_setresuid, arg_uint(a.a[0]), arg_uint(a.a[1]), arg_uint(a.a[2])));
}
int64_t sys_setresgid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(
      ::syscall(SYS_setresgid, arg_uint(a.a[0]), arg_uint(a.a[1]), arg_uint(a.a[2])));
}
// setfsuid/setfsgid never fail: they return the previous id either way.
int64_t sys_setfsuid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setfsuid, arg_uint(a.a[0])));
}
int64_t sys_setfsgid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setfsgid, arg_uint(a.a[0])));
}

// setgroups(size, list), kernel/groups.c: EPERM without CAP_SETGID (or when
// the user namespace forbids it), then EINVAL for size > NGROUPS_MAX, then
// EFAULT for the list. A size out of range goes to the host as is, which
// answers the first two. When the list cannot be read, a host call with an
// invalid size tells EPERM from the EFAULT Linux would give.
int64_t sys_setgroups(SyscallContext& ctx, const SyscallArgs& a) {
  constexpr unsigned kNgroupsMax = 65536;  // include/uapi/linux/limits.h
  int size = arg_int(a.a[0]);
  if (static_cast<unsigned>(size) > kNgroupsMax)
    return host_rax(::syscall(SYS_setgroups, size, nullptr));
  std::vector<gid_t> groups(static_cast<size_t>(size));
  if (size > 0) {
    auto c = ctx.mm.copy_in(groups.data(), a.a[1], groups.size() * sizeof(gid_t));
    if (!c) {
      if (::syscall(SYS_setgroups, -1, nullptr) < 0 && errno == EPERM) return -EPERM;
      return -c.error();
    }
  }
  return host_rax(::syscall(SYS_setgroups, size, groups.data()));
}

}  // namespace elfuse
