// Scheduling: nice values (getpriority/setpriority), policies and
// parameters (sched_*), CPU affinity and getcpu. Guest pids/tids are host
// pids/tids and each guest thread runs on its own host thread, so the host's
// scheduler state is the guest's: the calls go to the host, with the
// kernel's own argument checks done first where a guest pointer is involved
// (kernel/sched/syscalls.c, kernel/sched/core.c, kernel/sys.c), and the I/O
// priorities (block/ioprio.c).
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

static_assert(sizeof(struct sched_param) == 4);

namespace {

// do_sched_setscheduler(): a NULL param or a negative pid is EINVAL before
// the param is read (EFAULT).
int64_t set_sched(SyscallContext& ctx, long nr, int pid, int policy, uint64_t param,
                  bool with_policy) {
  if (param == 0 || pid < 0) return -EINVAL;
  struct sched_param p {};
  auto c = ctx.mm.copy_in(&p, param, sizeof(p));
  if (!c) return -c.error();
  long r = with_policy ? ::syscall(nr, pid, policy, &p) : ::syscall(nr, pid, &p);
  return host_rax(r);
}

// The kernel's cpumask_size(): what sched_getaffinity returns for a large
// enough buffer (it returns min(len, cpumask_size())).
unsigned host_cpumask_size() {
  static const unsigned size = [] {
    std::vector<unsigned char> buf(1u << 16);
    long r = ::syscall(SYS_sched_getaffinity, 0, buf.size(), buf.data());
    return r > 0 ? static_cast<unsigned>(r) : 128u;
  }();
  return size;
}

}  // namespace

// getpriority(which, who): the raw syscall returns 20 - nice (1..40) so that
// no result is negative (getpriority(2) "C library/kernel differences"); the
// host's raw value is the guest's raw value.
int64_t sys_getpriority(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_getpriority, arg_int(a.a[0]), arg_int(a.a[1])));
}

int64_t sys_setpriority(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_setpriority, arg_int(a.a[0]), arg_int(a.a[1]), arg_int(a.a[2])));
}

int64_t sys_sched_getscheduler(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_sched_getscheduler, arg_int(a.a[0])));
}

// sched_setscheduler(pid, policy, param): a negative policy is EINVAL first.
int64_t sys_sched_setscheduler(SyscallContext& ctx, const SyscallArgs& a) {
  int policy = arg_int(a.a[1]);
  if (policy < 0) return -EINVAL;
  return set_sched(ctx, SYS_sched_setscheduler, arg_int(a.a[0]), policy, a.a[2], true);
}

int64_t sys_sched_setparam(SyscallContext& ctx, const SyscallArgs& a) {
  return set_sched(ctx, SYS_sched_setparam, arg_int(a.a[0]), 0, a.a[1], false);
}

// sched_getparam(pid, param): EINVAL for NULL or pid < 0, then the task
// lookup (ESRCH), then the copy out (EFAULT).
int64_t sys_sched_getparam(SyscallContext& ctx, const SyscallArgs& a) {
  int pid = arg_int(a.a[0]);
  if (a.a[1] == 0 || pid < 0) return -EINVAL;
  struct sched_param p {};
  if (::syscall(SYS_sched_getparam, pid, &p) < 0) return -static_cast<int64_t>(errno);
  auto c = ctx.mm.copy_out(a.a[1], &p, sizeof(p));
  return c ? 0 : -c.error();
}

int64_t sys_sched_get_priority_max(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_sched_get_priority_max, arg_int(a.a[0])));
}

int64_t sys_sched_get_priority_min(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_sched_get_priority_min, arg_int(a.a[0])));
}

// sched_rr_get_interval(pid, tp): the interval is found (EINVAL for pid < 0,
// ESRCH) before it is stored (EFAULT).
int64_t sys_sched_rr_get_interval(SyscallContext& ctx, const SyscallArgs& a) {
  struct timespec ts {};
  if (::syscall(SYS_sched_rr_get_interval, arg_int(a.a[0]), &ts) < 0)
    return -static_cast<int64_t>(errno);
  auto c = ctx.mm.copy_out(a.a[1], &ts, sizeof(ts));
  return c ? 0 : -c.error();
}

// sched_getaffinity(2), kernel/sched/core.c: len must cover nr_cpu_ids bits
// and be a multiple of sizeof(long) (EINVAL); returns the bytes written,
// min(len, cpumask size). Guest tid = host tid, so pid 0 is this thread.
int64_t sys_sched_getaffinity(SyscallContext& ctx, const SyscallArgs& a) {
  unsigned len = arg_uint(a.a[1]);
  if (len & (sizeof(long) - 1)) return -EINVAL;
  std::vector<unsigned char> mask(std::min(len, 1u << 16));
  // pid 0 is the calling thread: on its exitless worker (another host
  // thread, whose mask elfuse sets) the thread by its tid.
  int pid = arg_int(a.a[0]);
  if (pid == 0 && ctx.on_worker) pid = ctx.thread.tid;
  long r = ::syscall(SYS_sched_getaffinity, pid, mask.size(), mask.data());
  if (r < 0) return -static_cast<int64_t>(errno);
  auto c = ctx.mm.copy_out(a.a[2], mask.data(), static_cast<uint64_t>(r));
  return c ? r : -c.error();
}

int64_t sys_sched_yield(SyscallContext&, const SyscallArgs&) {
  return host_rax(::syscall(SYS_sched_yield));
}

// sched_setaffinity(pid, len, mask), kernel/sched/syscalls.c
// get_user_cpu_mask(): only min(len, cpumask_size()) bytes are read (EFAULT),
// a shorter mask is zero-extended; then the host applies it (EINVAL for a
// mask with no usable CPU, ESRCH, EPERM). pid 0 is the calling thread, which
// is the host thread running this guest thread.
int64_t sys_sched_setaffinity(SyscallContext& ctx, const SyscallArgs& a) {
  unsigned len = std::min(arg_uint(a.a[1]), host_cpumask_size());
  std::vector<unsigned char> mask(host_cpumask_size(), 0);
  auto c = ctx.mm.copy_in(mask.data(), a.a[2], len);
  if (!c) return -c.error();
  return host_rax(::syscall(SYS_sched_setaffinity, arg_int(a.a[0]), mask.size(), mask.data()));
}

// getcpu(cpu, node, tcache): the CPU this host thread (= this vCPU) runs on.
// Either pointer may be NULL; a bad one is EFAULT, after the other was stored
// (kernel/sys.c). The third argument is unused since Linux 2.6.24.
int64_t sys_getcpu(SyscallContext& ctx, const SyscallArgs& a) {
  unsigned cpu = 0, node = 0;
  if (::syscall(SYS_getcpu, &cpu, &node, nullptr) < 0) return -static_cast<int64_t>(errno);
  bool bad = false;
  if (a.a[0] != 0 && !ctx.mm.copy_out(a.a[0], &cpu, sizeof(cpu))) bad = true;
  if (a.a[1] != 0 && !ctx.mm.copy_out(a.a[1], &node, sizeof(node))) bad = true;
  return bad ? -EFAULT : 0;
}

// membarrier(cmd, flags, cpu_id), kernel/sched/membarrier.c. Guest threads
// are host threads of this process running KVM_RUN, and guest memory is
// this process's memory, so the host's barrier on this process is the
// guest's (docs/internals.md "membarrier"). What the host process cannot
// show is execve: elfuse does not exec on the host, so the host keeps
// registrations Linux would drop (membarrier_exec_mmap). The guest's own
// registrations since its last execve are kept in Process and checked
// first; the host checks the rest (and a fork's reset) itself.
int64_t sys_membarrier(SyscallContext& ctx, const SyscallArgs& a) {
  constexpr int kQuery = 0, kPrivExp = 1 << 3, kRegPrivExp = 1 << 4, kPrivExpSync = 1 << 5,
                kRegPrivExpSync = 1 << 6, kPrivExpRseq = 1 << 7, kRegPrivExpRseq = 1 << 8,
                kRegGlobalExp = 1 << 2, kGetRegistrations = 1 << 9;
  constexpr unsigned kFlagCpu = 1;
  const int cmd = arg_int(a.a[0]);
  const unsigned flags = arg_uint(a.a[1]);
  const int cpu = arg_int(a.a[2]);
  auto host = [&] { return ::syscall(SYS_membarrier, cmd, flags, cpu); };
  const bool flags_ok = cmd == kPrivExpRseq ? (flags == 0 || flags == kFlagCpu) : flags == 0;
  if (!flags_ok) return host_rax(host());  // EINVAL
  int need = 0;
  switch (cmd) {
    case kPrivExp:
      need = kRegPrivExp;
      break;
    case kPrivExpSync:
      need = kRegPrivExpSync;
      break;
    case kPrivExpRseq:
      need = kRegPrivExpRseq;
      break;
    case kRegGlobalExp:
    case kRegPrivExp:
    case kRegPrivExpSync:
    case kRegPrivExpRseq: {
      long r = host();
      if (r == 0) ctx.proc.membarrier_registered.fetch_or(cmd);
      return host_rax(r);
    }
    case kGetRegistrations: {
      long r = host();
      if (r < 0) return host_rax(r);
      return r & ctx.proc.membarrier_registered.load();
    }
    default:
      return host_rax(host());
  }
  if (!(ctx.proc.membarrier_registered.load() & need)) {
    // A command this kernel does not have is EINVAL before the EPERM.
    long mask = ::syscall(SYS_membarrier, kQuery, 0, 0);
    if (mask >= 0 && !(mask & cmd)) return host_rax(host());
    return -EPERM;
  }
  return host_rax(host());
}

namespace {
// include/uapi/linux/sched/types.h: SCHED_ATTR_SIZE_VER0; the kernel reads
// at most a page of struct sched_attr (kernel/sched/syscalls.c).
constexpr uint32_t kSchedAttrSizeVer0 = 48;
constexpr uint32_t kSchedAttrMax = kPageSize;
}  // namespace

// sched_setattr(pid, attr, flags), kernel/sched/syscalls.c: NULL attr,
// pid < 0 or any flag is EINVAL; then sched_copy_attr reads attr->size
// (EFAULT), refuses a size above a page or below SCHED_ATTR_SIZE_VER0 (0
// means VER0), reads `size` bytes (a larger struct than the kernel's must
// end in zeros) and on E2BIG writes the kernel's size back. The host does
// those checks on a copy of the guest's bytes; its size answer goes back to
// the guest, as the kernel's put_user would (its failure ignored, as there).
int64_t sys_sched_setattr(SyscallContext& ctx, const SyscallArgs& a) {
  int pid = arg_int(a.a[0]);
  if (a.a[1] == 0 || pid < 0 || arg_uint(a.a[2]) != 0) return -EINVAL;
  uint32_t size;
  if (auto c = ctx.mm.copy_in(&size, a.a[1], sizeof size); !c) return -c.error();
  std::vector<unsigned char> attr(kSchedAttrMax + sizeof size, 0);
  uint32_t copy = size == 0 ? kSchedAttrSizeVer0 : size;
  if (copy >= kSchedAttrSizeVer0 && copy <= kSchedAttrMax) {
    if (auto c = ctx.mm.copy_in(attr.data(), a.a[1], copy); !c) return -c.error();
  }
  memcpy(attr.data(), &size, sizeof size);
  long r = ::syscall(SYS_sched_setattr, pid, attr.data(), 0);
  if (r < 0 && errno == E2BIG) {
    (void)ctx.mm.copy_out(a.a[1], attr.data(), sizeof size);
    return -E2BIG;
  }
  return host_rax(r);
}

// sched_getattr(pid, attr, size, flags): size within [VER0, page], NULL
// attr, pid < 0 and flags are EINVAL first; then the task (ESRCH); then the
// whole `size` bytes must be below TASK_SIZE (access_ok, EFAULT) and are
// stored (copy_struct_to_user: the kernel's struct, zeros after it), with
// min(size, kernel size) in attr->size. The host fills a copy of the
// guest's buffer the same way: kernels before copy_struct_to_user (6.1)
// store only the kernel's struct and leave the bytes after it as they were,
// so the copy starts with the guest's bytes.
int64_t sys_sched_getattr(SyscallContext& ctx, const SyscallArgs& a) {
  int pid = arg_int(a.a[0]);
  unsigned usize = arg_uint(a.a[2]);
  if (a.a[1] == 0 || pid < 0 || usize > kSchedAttrMax || usize < kSchedAttrSizeVer0 ||
      arg_uint(a.a[3]) != 0)
    return -EINVAL;
  std::vector<unsigned char> attr(usize, 0);
  // Unreadable: the store below fails too (EFAULT).
  (void)ctx.mm.copy_in(attr.data(), a.a[1], usize);
  if (::syscall(SYS_sched_getattr, pid, attr.data(), usize, 0) < 0)
    return -static_cast<int64_t>(errno);
  if (!linux_access_ok(a.a[1], usize)) return -EFAULT;
  auto c = ctx.mm.copy_out(a.a[1], attr.data(), usize);
  return c ? 0 : -c.error();
}

// ioprio_set(which, who, ioprio) / ioprio_get(which, who), block/ioprio.c:
// integers only; guest pids, pgids and uids are the host's, and each guest
// thread is its host thread, so the host's I/O priorities are the guest's.
int64_t sys_ioprio_set(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_ioprio_set, arg_int(a.a[0]), arg_int(a.a[1]), arg_int(a.a[2])));
}
int64_t sys_ioprio_get(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_ioprio_get, arg_int(a.a[0]), arg_int(a.a[1])));
}

}  // namespace elfuse
