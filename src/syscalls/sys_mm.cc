// Memory syscalls: argument decoding only; the semantics live in
// MemoryManager (src/mm/memory_manager.cc).
#include <sys/mman.h>

#include "kernel/process.h"
#include "mm/memory_manager.h"
#include "syscalls/syscall.h"
#include "syscalls/table.h"

namespace elfuse {

// mmap(addr, length, prot, flags, fd, offset)
int64_t sys_mmap(SyscallContext& ctx, const SyscallArgs& a) {
  const int flags = static_cast<int>(a.a[3]);
  const int fd = static_cast<int>(a.a[4]);
  // arch/x86/kernel/sys_x86_64.c checks the offset before the fd; elfuse's
  // own descriptors are invisible to the guest (EBADF as for a closed fd).
  if (!(a.a[5] & 0xfff) && !(flags & MAP_ANONYMOUS) && !ctx.proc.fds.guest_fd(fd))
    return -EBADF;
  return to_rax(ctx.mm.mmap(a.a[0], a.a[1], static_cast<int>(a.a[2]), flags, fd, a.a[5]));
}

int64_t sys_munmap(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.munmap(a.a[0], a.a[1]));
}

int64_t sys_mprotect(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.mprotect(a.a[0], a.a[1], static_cast<int>(a.a[2])));
}

// mremap(old_address, old_size, new_size, flags, new_address)
int64_t sys_mremap(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(
      ctx.mm.mremap(a.a[0], a.a[1], a.a[2], static_cast<int>(a.a[3]), a.a[4]));
}

int64_t sys_madvise(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.madvise(a.a[0], a.a[1], static_cast<int>(a.a[2])));
}

// brk never fails: it returns the (possibly unchanged) break.
int64_t sys_brk(SyscallContext& ctx, const SyscallArgs& a) {
  return static_cast<int64_t>(ctx.mm.brk(a.a[0]));
}

}  // namespace elfuse
