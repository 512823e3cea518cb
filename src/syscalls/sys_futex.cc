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
  constexpr uint64_t kTaskSizeMax = 0x7ffffffff000;  // access_ok's limit on x86_64
  int cmd = op & FUTEX_CMD_MASK;
  return (op & FUTEX_PRIVATE_FLAG) &&
         (cmd == FUTEX_WAKE || cmd == FUTEX_WAKE_BITSET || cmd == FUTEX_WAKE_OP) && addr % 4 == 0 &&
         addr <= kTaskSizeMax - 4;
}
uint32_t g_unwaited_word;

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

// futex_waitv(2), kernel/futex/syscalls.c: up to FUTEX_WAITV_MAX waiters,
// flags must be 0, each entry's flags FUTEX_32 (optionally FUTEX_PRIVATE_FLAG)
// with __reserved 0, the timeout absolute on clockid (MONOTONIC or REALTIME).
// The entries are copied in once, their addresses made host addresses, and
// the host kernel waits on them.
int64_t sys_futex_waitv(SyscallContext& ctx, const SyscallArgs& a) {
  struct Waiter {
    uint64_t val;
    uint64_t uaddr;
    uint32_t flags;
    uint32_t reserved;
  };
  static_assert(sizeof(Waiter) == 24);
  constexpr uint32_t kFutexWaitvMax = 128;
  constexpr uint32_t kFutex32 = 2;
  constexpr uint32_t kFutexPrivate = 128;
  uint32_t nr = static_cast<uint32_t>(a.a[1]);
  if (a.a[2] != 0 || nr == 0 || nr > kFutexWaitvMax || a.a[0] == 0) return -EINVAL;
  timespec ts;
  const timespec* timeout = nullptr;
  if (a.a[3]) {
    int clock = static_cast<int>(a.a[4]);
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) return -EINVAL;
    if (auto r = ctx.mm.copy_in(&ts, a.a[3], sizeof ts); !r.ok()) return -r.error();
    timeout = &ts;
  }
  std::vector<Waiter> waiters(nr);
  if (auto r = ctx.mm.copy_in(waiters.data(), a.a[0], uint64_t{nr} * sizeof(Waiter)); !r.ok())
    return -r.error();
  for (Waiter& w : waiters) {
    if ((w.flags & ~kFutexPrivate) != kFutex32 || w.reserved) return -EINVAL;
    Result<uint32_t*> word = futex_word(ctx.mm, w.uaddr);
    if (!word.ok()) return -word.error();
    w.uaddr = reinterpret_cast<uint64_t>(*word);
  }
  FutexWaitScope waiting(ctx.proc);
  return host_rax(
      syscall(SYS_futex_waitv, waiters.data(), nr, 0, timeout, static_cast<int>(a.a[4])));
}

}  // namespace elfuse
