// futex(2) on the host address of the guest word: guest memory is host
// memory, so the host kernel's futex does the waiting and waking, and the
// semantics (value checks, bitsets, requeue, timeouts, EAGAIN/ETIMEDOUT/
// EINTR) are the kernel's own.
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <optional>
#include <vector>

#include "abi/linux.h"
#include "kernel/exitless.h"
#include "kernel/process.h"
#include "syscalls/table.h"

namespace elfuse {
namespace {

// The host address of an aligned guest u32 the guest may read (the kernel's
// futex get_user); EFAULT otherwise. Alignment is checked first (EINVAL),
// as in kernel/futex/core.c get_futex_key.
Result<uint32_t*> futex_word(const MemoryManager& mm, uint64_t addr) {
  if (addr % 4) return Errno{EINVAL};
  std::vector<iovec> r = TRY(mm.host_ranges(addr, 4, PROT_READ));
  if (r.size() != 1) return Errno{EFAULT};
  return static_cast<uint32_t*>(r[0].iov_base);
}

// Which arguments an operation uses (kernel/futex/syscalls.c).
bool uses_timeout(int cmd) {
  return cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_LOCK_PI ||
         cmd == FUTEX_LOCK_PI2 || cmd == FUTEX_WAIT_REQUEUE_PI;
}
bool uses_uaddr2(int cmd) {
  return cmd == FUTEX_REQUEUE || cmd == FUTEX_CMP_REQUEUE || cmd == FUTEX_WAKE_OP ||
         cmd == FUTEX_CMP_REQUEUE_PI || cmd == FUTEX_WAIT_REQUEUE_PI;
}

// A private FUTEX_WAKE, FUTEX_WAKE_BITSET or FUTEX_WAKE_OP never touches the
// (first) word: its key is (mm, address) (kernel/futex/core.c
// get_futex_key), checked for alignment and access_ok only; FUTEX_WAKE_OP
// then operates on uaddr2 alone (futex_wake_op, futex_atomic_op_inuser). So
// at an address the guest has not mapped (or cannot read), NULL included, it
// wakes nobody there and returns 0 (or FUTEX_WAKE_OP's count on uaddr2), as
// the guest's syscall entry answers FUTEX_WAKE on PVM. The host answers it
// on a word of elfuse's that nobody waits on, so that the kernel checks the
// other arguments (a zero bitset is EINVAL). Known limit: a thread still
// waiting on a word that was unmapped meanwhile is not woken (Linux wakes
// it).
bool wakes_private_without_word(uint64_t addr, int op) {
  int cmd = op & FUTEX_CMD_MASK;
  return (op & FUTEX_PRIVATE_FLAG) &&
         (cmd == FUTEX_WAKE || cmd == FUTEX_WAKE_BITSET || cmd == FUTEX_WAKE_OP) && addr % 4 == 0 &&
         addr <= kTaskSizeMax - 4;
}
uint32_t g_unwaited_word;

// The futex2 calls (Linux 6.7); glibc 2.36's headers do not name them.
constexpr long kNrFutexWake = 454;
constexpr long kNrFutexWait = 455;
constexpr long kNrFutexRequeue = 456;

}  // namespace

int64_t sys_futex(SyscallContext& ctx, const SyscallArgs& a) {
  int op = static_cast<int>(a.a[1]);
  int cmd = op & FUTEX_CMD_MASK;
  Result<uint32_t*> word = futex_word(ctx.mm, a.a[0]);
  if (!word.ok() && word.error() == EFAULT && wakes_private_without_word(a.a[0], op))
    word = &g_unwaited_word;
  if (!word.ok()) return -word.error();
  timespec ts;
  const timespec* timeout = nullptr;
  uint64_t val2 = a.a[3];  // val2 for requeue and wake_op: passed in the timeout slot
  if (uses_timeout(cmd) && a.a[3]) {
    if (auto r = ctx.mm.copy_in(&ts, a.a[3], sizeof ts); !r.ok()) return -r.error();
    timeout = &ts;
  }
  uint32_t* word2 = nullptr;
  if (uses_uaddr2(cmd)) {
    Result<uint32_t*> w2 = futex_word(ctx.mm, a.a[4]);
    if (!w2.ok()) return -w2.error();
    word2 = *w2;
  }
  // A waiter is counted from before the kernel reads the word (the guest
  // entry answers FUTEX_WAKE_PRIVATE itself only while nobody waits).
  std::optional<FutexWaitScope> waiting;
  if (uses_timeout(cmd)) waiting.emplace(ctx.proc);
  long r = uses_timeout(cmd) ? syscall(SYS_futex, *word, op, static_cast<uint32_t>(a.a[2]), timeout,
                                       word2, static_cast<uint32_t>(a.a[5]))
                             : syscall(SYS_futex, *word, op, static_cast<uint32_t>(a.a[2]), val2,
                                       word2, static_cast<uint32_t>(a.a[5]));
  return host_rax(r);
}

namespace {

// futex2 flags (include/uapi/linux/futex.h) and their checks in
// kernel/futex/futex.h (futex2_to_flags, futex_flags_valid,
// futex_validate_input). Only 32-bit futexes exist; FUTEX2_NUMA makes the
// word two u32s (value, node: 8 bytes, 8-aligned), which the host kernel
// reads and writes at the word's host address; FUTEX2_MPOL takes the node
// from the host mapping's memory policy (elfuse sets none).
constexpr uint32_t kFutex2SizeMask = 3;
constexpr uint32_t kFutex2SizeU32 = 2;
constexpr uint32_t kFutex2Numa = 4;
constexpr uint32_t kFutex2Mpol = 8;
constexpr uint32_t kFutex2Private = 128;
constexpr uint32_t kFutex2ValidMask = kFutex2SizeMask | kFutex2Numa | kFutex2Mpol | kFutex2Private;

bool futex2_flags_valid(uint64_t flags) {
  return (flags & ~uint64_t{kFutex2ValidMask}) == 0 && (flags & kFutex2SizeMask) == kFutex2SizeU32;
}
// A value or mask must fit the futex's size (32 bits).
bool futex2_input_valid(uint64_t v) {
  return (v >> 32) == 0;
}
// The host address of a futex2 word: 4 bytes, or 8 with FUTEX2_NUMA
// (get_futex_key: aligned to that size, EINVAL; then EFAULT).
Result<uint32_t*> futex2_word(const MemoryManager& mm, uint64_t addr, uint64_t flags) {
  const uint64_t size = (flags & kFutex2Numa) ? 8 : 4;
  if (addr % size) return Errno{EINVAL};
  std::vector<iovec> r = TRY(mm.host_ranges(addr, size, PROT_READ));
  if (r.size() != 1) return Errno{EFAULT};
  return static_cast<uint32_t*>(r[0].iov_base);
}

// futex2_setup_timeout: the clock (only with a timeout), the copy, the
// range (timespec64_valid). The host gets the copy.
Result<const timespec*> futex2_timeout(const MemoryManager& mm, uint64_t guest, int clock,
                                       timespec* ts) {
  if (!guest) return static_cast<const timespec*>(nullptr);
  if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) return Errno{EINVAL};
  TRY(mm.copy_in(ts, guest, sizeof *ts));
  if (ts->tv_sec < 0 || static_cast<uint64_t>(ts->tv_nsec) >= 1000000000) return Errno{EINVAL};
  return static_cast<const timespec*>(ts);
}

struct Waitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};
static_assert(sizeof(Waitv) == 24);

// futex_parse_waitv: entry by entry, the copy (EFAULT), then its flags,
// reserved field and value (EINVAL). Addresses are looked at later.
Result<std::vector<Waitv>> parse_waitv(const MemoryManager& mm, uint64_t guest, uint32_t nr) {
  std::vector<Waitv> out(nr);
  for (uint32_t i = 0; i < nr; i++) {
    TRY(mm.copy_in(&out[i], guest + uint64_t{i} * sizeof(Waitv), sizeof(Waitv)));
    if (!futex2_flags_valid(out[i].flags) || out[i].reserved || !futex2_input_valid(out[i].val))
      return Errno{EINVAL};
  }
  return out;
}

}  // namespace

// futex_waitv(2), kernel/futex/syscalls.c: up to FUTEX_WAITV_MAX waiters,
// flags must be 0, the timeout absolute on clockid (MONOTONIC or REALTIME),
// each entry checked as parse_waitv says; their addresses made host
// addresses, and the host kernel waits on them.
int64_t sys_futex_waitv(SyscallContext& ctx, const SyscallArgs& a) {
  constexpr uint32_t kFutexWaitvMax = 128;
  uint32_t nr = static_cast<uint32_t>(a.a[1]);
  if (a.a[2] != 0 || nr == 0 || nr > kFutexWaitvMax || a.a[0] == 0) return -EINVAL;
  timespec ts;
  Result<const timespec*> timeout = futex2_timeout(ctx.mm, a.a[3], static_cast<int>(a.a[4]), &ts);
  if (!timeout.ok()) return -timeout.error();
  Result<std::vector<Waitv>> waiters = parse_waitv(ctx.mm, a.a[0], nr);
  if (!waiters.ok()) return -waiters.error();
  for (Waitv& w : *waiters) {
    Result<uint32_t*> word = futex2_word(ctx.mm, w.uaddr, w.flags);
    if (!word.ok()) return -word.error();
    w.uaddr = reinterpret_cast<uint64_t>(*word);
  }
  FutexWaitScope waiting(ctx.proc);
  return host_rax(
      syscall(SYS_futex_waitv, waiters->data(), nr, 0, *timeout, static_cast<int>(a.a[4])));
}

// futex_wake(uaddr, mask, nr, flags), kernel/futex/syscalls.c: the flags,
// the mask (32 bits, not 0), then the word; a private wake at an address
// the guest cannot read wakes nobody (as sys_futex's FUTEX_WAKE: its key
// is the address), unless FUTEX2_NUMA makes the kernel read the node.
int64_t sys_futex_wake(SyscallContext& ctx, const SyscallArgs& a) {
  const uint64_t mask = a.a[1], flags = a.a[3];
  if (!futex2_flags_valid(flags) || !futex2_input_valid(mask) || mask == 0) return -EINVAL;
  Result<uint32_t*> word = futex2_word(ctx.mm, a.a[0], flags);
  if (!word.ok() && word.error() == EFAULT && (flags & kFutex2Private) && !(flags & kFutex2Numa) &&
      linux_access_ok(a.a[0], 4))
    word = &g_unwaited_word;
  if (!word.ok()) return -word.error();
  return host_rax(
      syscall(kNrFutexWake, *word, mask, static_cast<int>(a.a[2]), static_cast<unsigned>(flags)));
}

// futex_wait(uaddr, val, mask, flags, timeout, clockid): the flags, val
// and mask (32 bits), the timeout (absolute on clockid), a zero mask
// (EINVAL), then the word; the host kernel waits. Interrupted, it is
// restarted as -ERESTARTSYS (src/kernel/signal.cc restart_class).
int64_t sys_futex_wait(SyscallContext& ctx, const SyscallArgs& a) {
  const uint64_t val = a.a[1], mask = a.a[2], flags = a.a[3];
  if (!futex2_flags_valid(flags) || !futex2_input_valid(val) || !futex2_input_valid(mask))
    return -EINVAL;
  timespec ts;
  Result<const timespec*> timeout = futex2_timeout(ctx.mm, a.a[4], static_cast<int>(a.a[5]), &ts);
  if (!timeout.ok()) return -timeout.error();
  if (mask == 0) return -EINVAL;
  Result<uint32_t*> word = futex2_word(ctx.mm, a.a[0], flags);
  if (!word.ok()) return -word.error();
  FutexWaitScope waiting(ctx.proc);
  return host_rax(syscall(kNrFutexWait, *word, val, mask, static_cast<unsigned>(flags), *timeout,
                          static_cast<int>(a.a[5])));
}

// futex_requeue(waiters[2], flags, nr_wake, nr_requeue): flags 0 and
// waiters not NULL (EINVAL), the two entries as futex_waitv's, nr_wake and
// nr_requeue not negative (EINVAL), then both words. waiters[0].val is
// compared with the first word (EAGAIN).
int64_t sys_futex_requeue(SyscallContext& ctx, const SyscallArgs& a) {
  if (a.a[1] != 0 || a.a[0] == 0) return -EINVAL;
  Result<std::vector<Waitv>> waiters = parse_waitv(ctx.mm, a.a[0], 2);
  if (!waiters.ok()) return -waiters.error();
  const int nr_wake = static_cast<int>(a.a[2]), nr_requeue = static_cast<int>(a.a[3]);
  if (nr_wake < 0 || nr_requeue < 0) return -EINVAL;
  for (Waitv& w : *waiters) {
    Result<uint32_t*> word = futex2_word(ctx.mm, w.uaddr, w.flags);
    if (!word.ok()) return -word.error();
    w.uaddr = reinterpret_cast<uint64_t>(*word);
  }
  return host_rax(syscall(kNrFutexRequeue, waiters->data(), 0, nr_wake, nr_requeue));
}

}  // namespace elfuse
