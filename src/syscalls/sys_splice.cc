// splice, tee, vmsplice, copy_file_range (fs/splice.c, fs/read_write.c).
// The host kernel moves the data between guest fds (= host fds); elfuse
// translates the loff_t in/out pointers and vmsplice's iovecs. An offset the
// guest cannot read becomes a faulting host pointer (uio_common.h), so the
// host checks everything Linux checks before that copy (EBADF, ESPIPE,
// EINVAL...) in Linux's order and then fails with EFAULT.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel/proc_mem.h"
#include "syscalls/fs_common.h"
#include "syscalls/table.h"
#include "syscalls/uio_common.h"

namespace elfuse {

using namespace fs;

namespace {

// include/linux/splice.h SPLICE_F_ALL.
constexpr unsigned kSpliceFlagsAll = 0xf;

// A guest loff_t* argument: NULL, a host copy, or a faulting pointer.
struct OffArg {
  uint64_t guest = 0;
  int64_t value = 0;
  bool copied = false;
  void* host() {
    if (!guest) return nullptr;
    return copied ? static_cast<void*>(&value) : uio::fault_ptr();
  }
};

OffArg off_in(const MemoryManager& mm, uint64_t guest) {
  OffArg o;
  o.guest = guest;
  if (guest) o.copied = mm.copy_in(&o.value, guest, sizeof(o.value)).ok();
  return o;
}

// Writes a copied offset back; false when the guest cannot take it.
bool off_out(MemoryManager& mm, const OffArg& o) {
  if (!o.guest || !o.copied) return true;
  return mm.copy_out(o.guest, &o.value, sizeof(o.value)).ok();
}

}  // namespace

// sys_splice / __do_splice: both offsets are written back after a transfer
// that did not fail (off_out first, then off_in), EFAULT if either cannot.
int64_t sys_splice(SyscallContext& ctx, const SyscallArgs& a) {
  // len 0 returns before anything is looked at; then flags, then the fds.
  if (a.a[4] == 0) return 0;
  if (arg_uint(a.a[5]) & ~kSpliceFlagsAll) return -EINVAL;
  auto in = guest_fd(ctx.proc, a.a[0]);
  if (!in) return -in.error();
  auto out = guest_fd(ctx.proc, a.a[2]);
  if (!out) return -out.error();
  // The guest's own mem file (kernel/proc_mem.h): the kernel's has no
  // splice_read or splice_write.
  if (proc_mem_find(ctx.proc, *in) || proc_mem_find(ctx.proc, *out)) return -EINVAL;
  OffArg oi = off_in(ctx.mm, a.a[1]);
  OffArg oo = off_in(ctx.mm, a.a[3]);
  long r = ::syscall(SYS_splice, *in, oi.host(), *out, oo.host(), a.a[4], arg_uint(a.a[5]));
  if (r < 0) return -errno;
  if (!off_out(ctx.mm, oo)) return -EFAULT;
  if (!off_out(ctx.mm, oi)) return -EFAULT;
  return r;
}

// sys_tee: flags, then len 0, then the fds.
int64_t sys_tee(SyscallContext& ctx, const SyscallArgs& a) {
  if (arg_uint(a.a[3]) & ~kSpliceFlagsAll) return -EINVAL;
  if (a.a[2] == 0) return 0;
  auto in = guest_fd(ctx.proc, a.a[0]);
  if (!in) return -in.error();
  auto out = guest_fd(ctx.proc, a.a[1]);
  if (!out) return -out.error();
  return host_rax(::syscall(SYS_tee, *in, *out, a.a[2], arg_uint(a.a[3])));
}

// vmsplice: flags (EINVAL), the fd and its direction (EBADF), then
// import_iovec (EINVAL beyond UIO_MAXIOV or for a negative length, EFAULT).
// The host maps or copies the guest's pages through their host addresses;
// pages the guest cannot access fault in the host at the same point.
int64_t sys_vmsplice(SyscallContext& ctx, const SyscallArgs& a) {
  unsigned flags = arg_uint(a.a[3]);
  if (flags & ~kSpliceFlagsAll) return -EINVAL;
  auto fd = guest_fd(ctx.proc, a.a[0]);
  if (!fd) return -fd.error();
  long fl = ::syscall(SYS_fcntl, *fd, F_GETFL);
  if (fl < 0 || (fl & O_PATH)) return -EBADF;
  // vmsplice_type: an fd open for writing fills the pipe (the guest's
  // buffers are read), one open only for reading drains it into them.
  int acc = static_cast<int>(fl) & O_ACCMODE;
  int prot = acc == O_RDONLY ? PROT_WRITE : PROT_READ;
  uint64_t nr = a.a[2];
  if (nr > kIovMax) return -EINVAL;
  uint64_t total = 0;
  auto iov = uio::import_iovec(ctx.mm, a.a[1], nr, prot, &total);
  if (!iov) return -iov.error();
  if (total == 0) return 0;
  return host_rax(::syscall(SYS_vmsplice, *fd, iov->data(), iov->size(), flags));
}

// copy_file_range: both fds (EBADF), both offsets read (EFAULT), then flags
// (EINVAL); after a transfer of more than 0 bytes both offsets are written
// back, EFAULT if either cannot be.
int64_t sys_copy_file_range(SyscallContext& ctx, const SyscallArgs& a) {
  auto in = guest_fd(ctx.proc, a.a[0]);
  if (!in) return -in.error();
  auto out = guest_fd(ctx.proc, a.a[2]);
  if (!out) return -out.error();
  // The guest's own mem file (kernel/proc_mem.h): proc has no
  // copy_file_range, and the other file is on another filesystem (EXDEV,
  // as vfs_copy_file_range answers).
  if (proc_mem_find(ctx.proc, *in) || proc_mem_find(ctx.proc, *out)) return -EXDEV;
  OffArg oi = off_in(ctx.mm, a.a[1]);
  OffArg oo = off_in(ctx.mm, a.a[3]);
  long r =
      ::syscall(SYS_copy_file_range, *in, oi.host(), *out, oo.host(), a.a[4], arg_uint(a.a[5]));
  if (r <= 0) return host_rax(r);
  bool ok = off_out(ctx.mm, oi);
  ok = off_out(ctx.mm, oo) && ok;
  return ok ? r : -EFAULT;
}

}  // namespace elfuse
