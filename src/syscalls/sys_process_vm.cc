// process_vm_readv and process_vm_writev (mm/process_vm_access.c).
//
// The argument checks come first, in the kernel's order: flags (EINVAL), the
// local iovec array (import_iovec: more than UIO_MAXIOV EINVAL, unreadable
// EFAULT, a negative length EINVAL, a segment beyond TASK_SIZE EFAULT; no
// bytes asked for: 0), the remote array (iovec_from_user: the same count,
// copy and length checks; no remote bytes: 0), then the target task.
//
// The caller's own process (its pid or the tid of one of its threads) is
// served from guest memory through the memory manager's checked copies
// (copy_in, copy_out: never a host fault, a file page past EOF is EFAULT), a
// page-bounded piece at a time on both sides, so that the transfer stops at
// the first page Linux would fault on and returns the bytes moved (EFAULT
// when none). Remote pages need PROT_READ (readv) or PROT_WRITE (writev), as
// pin_user_pages_remote without FOLL_FORCE; the local side the opposite.
//
// Another process is another elfuse's VM, and there is no channel to its
// guest memory yet (issue 14): the answer is Linux's when ptrace access is
// denied (mm_access: EPERM), after ESRCH for a task that does not exist or
// has no memory any more (a zombie).
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernel/process.h"
#include "kernel/thread.h"
#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

namespace {

struct GuestIovec {
  uint64_t base;
  uint64_t len;
};
static_assert(sizeof(GuestIovec) == sizeof(iovec));

// The guest's iovec array (nr already checked against UIO_MAXIOV), copied
// whole (EFAULT), lengths negative as ssize_t EINVAL.
Result<std::vector<GuestIovec>> copy_iovecs(const MemoryManager& mm, uint64_t addr, uint64_t nr) {
  std::vector<GuestIovec> v(nr);
  if (nr > 0) TRY(mm.copy_in(v.data(), addr, nr * sizeof(GuestIovec)));
  for (const GuestIovec& g : v)
    if (static_cast<int64_t>(g.len) < 0) return Errno{EINVAL};
  return v;
}

// import_iovec for the local array: access_ok (EFAULT for a segment beyond
// TASK_SIZE) and the total clamped to MAX_RW_COUNT (the last segments cut).
Result<std::vector<GuestIovec>> local_iovecs(const MemoryManager& mm, uint64_t addr, uint64_t nr,
                                             uint64_t* total) {
  if (nr > kIovMax) return Errno{EINVAL};
  std::vector<GuestIovec> v = TRY(copy_iovecs(mm, addr, nr));
  uint64_t sum = 0;
  for (GuestIovec& g : v) {
    if (!linux_access_ok(g.base, g.len)) return Errno{EFAULT};
    g.len = std::min<uint64_t>(g.len, kMaxRwCount - sum);
    sum += g.len;
  }
  *total = sum;
  return v;
}

// iovec_from_user for the remote array: no access_ok (the addresses are
// the target's, checked when its pages are pinned).
Result<std::vector<GuestIovec>> remote_iovecs(const MemoryManager& mm, uint64_t addr, uint64_t nr) {
  if (nr > kIovMax) return Errno{EINVAL};
  return copy_iovecs(mm, addr, nr);
}

// Whether pid names the caller's own process: its pid, or the tid of one of
// its guest threads (find_get_task_by_vpid finds any task).
bool own_process(Process& proc, int pid) {
  if (pid == proc.pid) return true;
  std::lock_guard lock(proc.threads_mu);
  for (const auto& t : proc.threads)
    if (t->tid == pid) return true;
  return false;
}

// Another pid: ESRCH when no guest task has it (also one of elfuse's own
// host threads) or it has no mm left (a zombie, mm_access gives NULL),
// otherwise EPERM (no cross-process access yet).
int64_t other_process_answer(int pid) {
  if (pid <= 0) return -ESRCH;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d", pid);
  if (access(path, F_OK) == 0) return -ESRCH;  // elfuse's thread, not a guest's
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "re");
  if (!f) return -ESRCH;
  char buf[512];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* paren = std::strrchr(buf, ')');
  if (!paren || paren[1] != ' ') return -ESRCH;
  char state = paren[2];
  if (state == 'Z' || state == 'X') return -ESRCH;
  return -EPERM;
}

// Bytes from addr to the end of its page.
uint64_t to_page_end(uint64_t addr) {
  return kPageSize - (addr & (kPageSize - 1));
}

int64_t process_vm_rw(SyscallContext& ctx, const SyscallArgs& a, bool write) {
  int pid = arg_int(a.a[0]);
  uint64_t lvec = a.a[1], liovcnt = a.a[2], rvec = a.a[3], riovcnt = a.a[4];
  if (a.a[5] != 0) return -EINVAL;
  uint64_t local_total = 0;
  auto local = local_iovecs(ctx.mm, lvec, liovcnt, &local_total);
  if (!local.ok()) return -local.error();
  if (local_total == 0) return 0;
  auto remote = remote_iovecs(ctx.mm, rvec, riovcnt);
  if (!remote.ok()) return -remote.error();
  bool any = false;
  for (const GuestIovec& r : *remote) any |= r.len > 0;
  if (!any) return 0;
  if (!own_process(ctx.proc, pid)) return other_process_answer(pid);

  // readv: remote -> buffer -> local; writev: local -> buffer -> remote.
  // Each piece stays inside one page on both sides, so a failed copy means
  // that page is the first one Linux could not pin or copy.
  static thread_local uint8_t buf[4096];
  const std::vector<GuestIovec>& l = *local;
  size_t li = 0;
  uint64_t loff = 0, moved = 0;
  for (const GuestIovec& r : *remote) {
    for (uint64_t roff = 0; roff < r.len;) {
      while (li < l.size() && loff == l[li].len) {
        li++;
        loff = 0;
      }
      if (li == l.size()) return static_cast<int64_t>(moved);
      uint64_t raddr = r.base + roff, laddr = l[li].base + loff;
      uint64_t len = std::min({r.len - roff, l[li].len - loff, to_page_end(raddr),
                               to_page_end(laddr), uint64_t{sizeof buf}});
      uint64_t src = write ? laddr : raddr, dst = write ? raddr : laddr;
      if (!ctx.mm.copy_in(buf, src, len).ok() || !ctx.mm.copy_out(dst, buf, len).ok())
        return moved ? static_cast<int64_t>(moved) : -EFAULT;
      moved += len;
      roff += len;
      loff += len;
    }
  }
  return static_cast<int64_t>(moved);
}

}  // namespace

int64_t sys_process_vm_readv(SyscallContext& ctx, const SyscallArgs& a) {
  return process_vm_rw(ctx, a, false);
}

int64_t sys_process_vm_writev(SyscallContext& ctx, const SyscallArgs& a) {
  return process_vm_rw(ctx, a, true);
}

}  // namespace elfuse
