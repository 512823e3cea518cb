// Memory syscalls: argument decoding only; the semantics live in
// MemoryManager (src/mm/memory_manager.cc).
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "abi/linux.h"
#include "base/checked.h"
#include "kernel/proc_mem.h"
#include "kernel/process.h"
#include "mm/memory_manager.h"
#include "syscalls/fs_common.h"
#include "syscalls/syscall.h"
#include "syscalls/table.h"

namespace elfuse {

// mmap(addr, length, prot, flags, fd, offset)
int64_t sys_mmap(SyscallContext& ctx, const SyscallArgs& a) {
  const int flags = static_cast<int>(a.a[3]);
  const int fd = static_cast<int>(a.a[4]);
  // arch/x86/kernel/sys_x86_64.c checks the offset before the fd; elfuse's
  // own descriptors are invisible to the guest (EBADF as for a closed fd).
  if (!(a.a[5] & 0xfff) && !(flags & MAP_ANONYMOUS) && !ctx.proc.fds.guest_fd(fd)) return -EBADF;
  // The guest's own mem file (kernel/proc_mem.h): the kernel's has no
  // ->mmap (do_mmap: ENODEV, after the length and offset checks).
  if (!(flags & MAP_ANONYMOUS) && a.a[1] != 0 && !(a.a[5] & 0xfff) && proc_mem_find(ctx.proc, fd))
    return -ENODEV;
  return to_rax(ctx.mm.mmap(a.a[0], a.a[1], static_cast<int>(a.a[2]), flags, fd, a.a[5]));
}

// remap_file_pages(start, size, prot, pgoff, flags): MemoryManager has
// Linux's emulation.
int64_t sys_remap_file_pages(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.remap_file_pages(a.a[0], a.a[1], a.a[2], a.a[3], a.a[4]));
}

int64_t sys_munmap(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.munmap(a.a[0], a.a[1]));
}

int64_t sys_mprotect(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.mprotect(a.a[0], a.a[1], static_cast<int>(a.a[2])));
}

// Protection keys. The guest runs with CR4.PKE clear (its CPUID says OSPKE
// 0), so it gets what Linux answers on a CPU without enabled protection
// keys (mm/mprotect.c): no key can be allocated or freed, and a key other
// than -1 fails after do_mprotect_pkey's range checks.
int64_t sys_pkey_alloc(SyscallContext&, const SyscallArgs&) {
  return -EINVAL;
}

int64_t sys_pkey_free(SyscallContext&, const SyscallArgs&) {
  return -EINVAL;
}

int64_t sys_pkey_mprotect(SyscallContext& ctx, const SyscallArgs& a) {
  const int pkey = static_cast<int>(a.a[3]);
  if (pkey == -1) return sys_mprotect(ctx, a);
  const uint64_t start = a.a[0], len = a.a[1];
  const int prot = static_cast<int>(a.a[2]);
  if ((prot & (PROT_GROWSDOWN | PROT_GROWSUP)) == (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if (start & (kPageSize - 1)) return -EINVAL;
  if (len == 0) return 0;
  const uint64_t end = start + ((len + kPageSize - 1) & ~(kPageSize - 1));  // wraps as Linux's
  if (end <= start) return -ENOMEM;
  return -EINVAL;
}

// mremap(old_address, old_size, new_size, flags, new_address)
int64_t sys_mremap(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.mremap(a.a[0], a.a[1], a.a[2], static_cast<int>(a.a[3]), a.a[4]));
}

int64_t sys_madvise(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.madvise(a.a[0], a.a[1], static_cast<int>(a.a[2])));
}

// mseal(start, len, flags): mm/mseal.c, see MemoryManager::mseal.
int64_t sys_mseal(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.mseal(a.a[0], a.a[1], a.a[2]));
}

// msync(addr, length, flags): mm/msync.c, see MemoryManager::msync.
int64_t sys_msync(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.msync(a.a[0], a.a[1], fs::arg_int(a.a[2])));
}

// memfd_create(name, flags), mm/memfd.c: the flag checks first, then the
// name (at most MFD_NAME_MAX_LEN = NAME_MAX - strlen("memfd:") bytes: EINVAL
// beyond, EFAULT if unreadable), then the host's memfd_create, whose fd is
// the guest's (it maps like any regular file: MemoryManager::mmap).
int64_t sys_memfd_create(SyscallContext& ctx, const SyscallArgs& a) {
  constexpr unsigned kCloexec = 0x1, kAllowSealing = 0x2, kHugetlb = 0x4, kNoexecSeal = 0x8,
                     kExec = 0x10;
  constexpr unsigned kAll = kCloexec | kAllowSealing | kHugetlb | kNoexecSeal | kExec;
  constexpr unsigned kHugeMask = 0x3fu << 26;  // MFD_HUGE_MASK << MFD_HUGE_SHIFT
  constexpr uint64_t kNameMax = 255 - 6;
  const unsigned flags = fs::arg_uint(a.a[1]);
  if (!(flags & kHugetlb)) {
    if (flags & ~kAll) return -EINVAL;
  } else if (flags & ~(kAll | kHugeMask)) {
    return -EINVAL;
  }
  if ((flags & kExec) && (flags & kNoexecSeal)) return -EINVAL;
  auto name = ctx.mm.copy_in_string(a.a[0], kNameMax + 1);
  if (!name) return name.error() == ENAMETOOLONG ? -EINVAL : -EFAULT;
  long fd = ::syscall(SYS_memfd_create, name->c_str(), flags);
  return fs::new_fd_result(ctx.proc, fd);
}

// brk never fails: it returns the (possibly unchanged) break.
int64_t sys_brk(SyscallContext& ctx, const SyscallArgs& a) {
  return static_cast<int64_t>(ctx.mm.brk(a.a[0]));
}

// mincore(addr, length, vec), mm/mincore.c: addr must be page aligned
// (EINVAL); [addr, addr + length) must lie in the user address range
// (ENOMEM) and vec must have room for one byte a page there (EFAULT, a range
// check only: access_ok). Then, a VMA at a time and at most a page of vec
// at a time, each page's residency is found and stored (EFAULT); a page
// that is not mapped ends the call with ENOMEM, with the bytes for the pages
// before it already stored.
//
// A guest page is resident when the host page backing it is: every VMA has
// one contiguous run of guest-physical memory in the host reservation, so
// the host's mincore(2) on the run answers for the guest (untouched anonymous
// pages are not resident in either, MADV_DONTNEED makes them non-resident in
// both).
//
// Each piece's VMA is found and its host pages asked about under the
// memory manager's lock (MemoryManager::with_vmas), as Linux holds
// mmap_read_lock for a piece; the bytes go to the guest after it is
// released (copy_out takes it itself).
int64_t sys_mincore(SyscallContext& ctx, const SyscallArgs& a) {
  // The range must end below TASK_SIZE_MAX, what access_ok allows.
  uint64_t start = a.a[0], len = a.a[1], vec = a.a[2];
  if (start & (kPageSize - 1)) return -EINVAL;
  auto end = checked_add(start, len);
  if (!end || *end > kTaskSizeMax) return -ENOMEM;
  uint64_t pages = len / kPageSize + (len % kPageSize != 0);
  auto vec_end = checked_add(vec, pages);
  if (!vec_end || *vec_end > kTaskSizeMax) return -EFAULT;

  std::vector<unsigned char> tmp;
  while (pages > 0) {
    // The VMA and its host pages under the memory lock (mmap_read_lock),
    // the copy to the guest after it.
    uint64_t n = 0;
    int64_t err = ctx.mm.with_vmas([&](const AddressSpace& as) -> int64_t {
      const Vma* v = as.find(start);
      if (!v) return -ENOMEM;
      n = std::min({pages, kPageSize, (v->end - start) / kPageSize});
      tmp.assign(n, 0);
      if (::mincore(ctx.mm.host_phys(v->phys_of(start)), n * kPageSize, tmp.data()) < 0)
        return -static_cast<int64_t>(errno);
      return 0;
    });
    if (err) return err;
    // Bit 0 is residency; the others are reserved (mincore(2)) and zero.
    for (auto& b : tmp) b &= 1;
    auto c = ctx.mm.copy_out(vec, tmp.data(), n);
    if (!c) return -EFAULT;
    pages -= n;
    vec += n;
    start += n * kPageSize;
  }
  return 0;
}

// mlock(addr, len), mlock2(addr, len, flags), munlock, mlockall,
// munlockall: mm/mlock.c, see MemoryManager::mlock. mlock2 checks its
// flags first (EINVAL).
int64_t sys_mlock(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.mlock(a.a[0], a.a[1], Vma::kLocked));
}

int64_t sys_mlock2(SyscallContext& ctx, const SyscallArgs& a) {
  const unsigned flags = fs::arg_uint(a.a[2]);
  if (flags & ~MLOCK_ONFAULT) return -EINVAL;
  return to_rax(
      ctx.mm.mlock(a.a[0], a.a[1], (flags & MLOCK_ONFAULT) ? Vma::kLockedOnFault : Vma::kLocked));
}

int64_t sys_munlock(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.munlock(a.a[0], a.a[1]));
}

int64_t sys_mlockall(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.mlockall(fs::arg_int(a.a[0])));
}

int64_t sys_munlockall(SyscallContext& ctx, const SyscallArgs&) {
  return to_rax(ctx.mm.munlockall());
}

}  // namespace elfuse
