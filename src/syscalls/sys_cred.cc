// Credentials: the user and group ids (get*id, set*id, setfs*id) and the
// supplementary groups. A guest thread is a host thread with the host's
// credentials, so the calls are the host's on the calling thread.
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

int64_t sys_getuid(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_getuid));
}
int64_t sys_geteuid(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_geteuid));
}
int64_t sys_getgid(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_getgid));
}
int64_t sys_getegid(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_getegid));
}

// getgroups(2), kernel/groups.c: size 0 returns the count; a negative size
// is EINVAL, a too-small one EINVAL; NGROUPS_MAX bounds the list.
int64_t sys_getgroups(SyscallContext& ctx, const SyscallArgs& a) {
  int size = arg_int(a.a[0]);
  if (size < 0) return -EINVAL;
  std::vector<gid_t> groups(std::min(size, 65536));
  long r = ::syscall(SYS_getgroups, groups.size(), groups.data());
  if (r < 0) return -static_cast<int64_t>(errno);
  if (size == 0) return r;
  auto c = ctx.mm.copy_out(a.a[1], groups.data(), static_cast<uint64_t>(r) * sizeof(gid_t));
  return c ? r : -c.error();
}

namespace {
// getresuid/getresgid: kernel/sys.c writes the three ids one by one.
int64_t three_ids(SyscallContext& ctx, const SyscallArgs& a, long nr) {
  uint32_t ids[3];
  if (::syscall(nr, &ids[0], &ids[1], &ids[2]) < 0) return -static_cast<int64_t>(errno);
  for (int i = 0; i < 3; i++) {
    auto c = ctx.mm.copy_out(a.a[i], &ids[i], sizeof(ids[i]));
    if (!c) return -c.error();
  }
  return 0;
}
}  // namespace

int64_t sys_getresuid(SyscallContext& ctx, const SyscallArgs& a) {
  return three_ids(ctx, a, SYS_getresuid);
}
int64_t sys_getresgid(SyscallContext& ctx, const SyscallArgs& a) {
  return three_ids(ctx, a, SYS_getresgid);
}

// The set*id family, kernel/sys.c. Credentials are per thread in the kernel
// (glibc's setuid() makes every thread call it, by signal), and a guest
// thread is a host thread, so each call is the host's raw syscall on the
// calling thread: the host kernel does the permission checks (EPERM, and
// EINVAL for an id with no mapping in the user namespace), and getuid and
// friends, file access and kill() then see the new ids. The ids are 32 bits
// (uid_t); -1 means "unchanged" where the call has that.
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
  return host_rax(::syscall(SYS_setresuid, arg_uint(a.a[0]), arg_uint(a.a[1]), arg_uint(a.a[2])));
}
int64_t sys_setresgid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setresgid, arg_uint(a.a[0]), arg_uint(a.a[1]), arg_uint(a.a[2])));
}
// setfsuid/setfsgid never fail: they return the old id, changed or not.
int64_t sys_setfsuid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setfsuid, arg_uint(a.a[0])));
}
int64_t sys_setfsgid(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setfsgid, arg_uint(a.a[0])));
}

// setgroups(size, list), kernel/groups.c: the permission check (EPERM),
// then a size above NGROUPS_MAX (EINVAL), then the list is read (EFAULT).
// The host makes the first two checks; an oversized or unreadable guest
// list goes to it as an unreadable host pointer, so the errors come in the
// kernel's order.
int64_t sys_setgroups(SyscallContext& ctx, const SyscallArgs& a) {
  constexpr unsigned kNgroupsMax = 65536;  // include/uapi/linux/limits.h
  unsigned size = arg_uint(a.a[0]);
  if (size > kNgroupsMax) return host_rax(::syscall(SYS_setgroups, size, nullptr));
  std::vector<gid_t> groups(size);
  const gid_t* list = groups.data();
  if (size > 0 && !ctx.mm.copy_in(groups.data(), a.a[1], uint64_t{size} * sizeof(gid_t)))
    list = nullptr;
  return host_rax(::syscall(SYS_setgroups, size, list));
}

}  // namespace elfuse
