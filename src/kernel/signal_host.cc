// The host side of signals: elfuse's host handler for the signals the
// guest catches, the vCPU kick and the guest's SIGURG (which share one host
// signal), the host thread's mask that mirrors the guest's, the signals
// inherited from elfuse's parent, and the waits (sigsuspend-like and
// rt_sigtimedwait) done on the host. Delivery into the guest is signal.cc;
// docs/internals.md, "Faults and signals" and "SIGURG".
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>

#include "base/log.h"
#include "kernel/exitless.h"
#include "kernel/fault.h"
#include "kernel/process.h"
#include "kernel/signal.h"
#include "kernel/signal_internal.h"

// The restorer of elfuse's own host handlers. Installed through the raw
// rt_sigaction syscall (glibc refuses signals 32 and 33, which a guest may
// catch), which on x86_64 needs SA_RESTORER and a restorer.
extern "C" void elfuse_host_sigreturn();
asm(R"(
	.text
	.globl elfuse_host_sigreturn
	.type elfuse_host_sigreturn, @function
elfuse_host_sigreturn:
	movq $15, %rax
	syscall
	.size elfuse_host_sigreturn, .-elfuse_host_sigreturn
	.section .note.GNU-stack,"",@progbits
	.text
)");

namespace elfuse::signal_internal {

// ------------------------------------------------------------ host side

thread_local ThreadSignals* t_signals = nullptr;
// Signals the host handler took on a host thread not attached yet (only
// kLibcInternal can come there): handed to the thread by
// signals_attach_thread.
struct EarlySignals {
  uint64_t pending = 0;
  siginfo_t info[64];
};
thread_local EarlySignals t_early;

long raw_sigaction(int sig, const HostSigaction* act) {
  return syscall(SYS_rt_sigaction, sig, act, nullptr, 8);
}

long raw_setmask(uint64_t mask) {
  return syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, nullptr, 8);
}

// The host handler for every signal the guest catches. Async-signal-safe:
// it writes the thread's info slot and pending bit, keeps further instances
// of the signal pending in the host kernel until this one is delivered (by
// adding it to the mask the host restores), and stops KVM_RUN.
void host_handler(int sig, siginfo_t* si, void* ucv) {
  int saved_errno = errno;
  uint64_t b = sigbit(sig);
  if ((b & kFaultSignals) && si->si_code > 0) {
    // The CPU raised it in elfuse itself (a guest signal from kill() has
    // si_code <= 0): let it kill elfuse when the instruction re-executes.
    HostSigaction dfl{};
    raw_sigaction(sig, &dfl);
    errno = saved_errno;
    return;
  }
  ThreadSignals* ts = t_signals;
  if (ts) {
    if (!(ts->pending.load(std::memory_order_relaxed) & b)) {
      memcpy(&ts->info[sig - 1], si, sizeof(siginfo_t));
      ts->pending.fetch_or(b, std::memory_order_release);
    }
    auto* uc = static_cast<ucontext_t*>(ucv);
    uint64_t m;
    memcpy(&m, &uc->uc_sigmask, sizeof m);
    m |= b;
    memcpy(&uc->uc_sigmask, &m, sizeof m);
    ts->host_mask.fetch_or(b, std::memory_order_relaxed);
    interrupt_current_vcpu_from_signal_handler();
    exitless_wake_from_signal_handler();
  } else {
    // A guest thread's host thread before signals_attach_thread: keep it
    // (blocked) for the thread.
    if (!(t_early.pending & b)) {
      memcpy(&t_early.info[sig - 1], si, sizeof(siginfo_t));
      t_early.pending |= b;
    }
    auto* uc = static_cast<ucontext_t*>(ucv);
    uint64_t m;
    memcpy(&m, &uc->uc_sigmask, sizeof m);
    m |= b;
    memcpy(&uc->uc_sigmask, &m, sizeof m);
  }
  errno = saved_errno;
}

// ------------------------------------------------------------ SIGURG
//
// SIGURG is the kick and an ordinary guest signal at once. Its host handler
// is always installed and the signal never blocked on a host thread, so a
// kick always gets through; the handler tells them apart by the siginfo:
//
//  - a kick is SI_TKILL with si_pid = elfuse's own pid. The host kernel
//    makes a tgkill's siginfo itself, and refuses SI_TKILL in a made-up
//    siginfo sent to another thread (rt_tgsigqueueinfo, rt_sigqueueinfo,
//    pidfd_send_signal: EPERM), so no other process can produce one. Inside
//    the process, the guest's sends that would (tgkill, tkill, a made-up
//    SI_TKILL to itself) are relayed by elfuse in another encoding.
//  - a relayed guest SIGURG has si_code kRelayCode and elfuse's random
//    cookie in bytes the kernel carries but no siginfo layout uses
//    (RelayTail); the original si_code and whether it was thread-directed
//    travel there too. Without the cookie the code is taken as it came.
//  - anything else is the guest's SIGURG, thread-directed when SI_TKILL
//    (another process's tgkill), process-directed otherwise.
//
// The guest's SIGURG is then kept as Linux would: thread-directed in the
// thread's ThreadSignals, process-directed in g_shared_urg, discarded when
// the guest's disposition ignores it and the target does not block it
// (kernel/signal.c sig_ignored). A process-directed one that came to a
// thread that blocks it, or to a host thread that is no guest thread (the
// exitless worker), is left for a guest thread that does not block it,
// which is kicked.

constexpr int kRelayCode = -77;
struct RelayTail {  // at byte 32 of the siginfo: past si_value
  uint64_t cookie;
  int32_t code;
  int32_t thread;
};
constexpr size_t kRelayTailOffset = 32;
static_assert(kRelayTailOffset + sizeof(RelayTail) <= 48);  // within kernel_siginfo
uint64_t g_cookie = 0;

// The guest's disposition of SIGURG ignores it (SIG_IGN or SIG_DFL).
std::atomic<bool> g_urg_ignored{true};

// The process-directed SIGURG (the shared pending set's bit): 0 empty,
// 1 being written, 2 pending, 3 being taken.
struct SharedUrg {
  std::atomic<int> state{0};
  siginfo_t info;
};
SharedUrg g_shared_urg;

bool shared_urg_put(const siginfo_t& info) {
  int empty = 0;
  if (!g_shared_urg.state.compare_exchange_strong(empty, 1)) return false;
  memcpy(&g_shared_urg.info, &info, sizeof info);
  g_shared_urg.state.store(2, std::memory_order_release);
  return true;
}

bool shared_urg_take(siginfo_t* info) {
  int full = 2;
  if (!g_shared_urg.state.compare_exchange_strong(full, 3)) return false;
  memcpy(info, &g_shared_urg.info, sizeof *info);
  g_shared_urg.state.store(0, std::memory_order_release);
  return true;
}

bool shared_urg_pending() {
  return g_shared_urg.state.load(std::memory_order_acquire) == 2;
}

void shared_urg_discard() {
  int full = 2;
  g_shared_urg.state.compare_exchange_strong(full, 0);
}

// Guest threads, for the handler (which may take no lock): tid, whether the
// guest mask blocks SIGURG, whether the thread waits for it in
// rt_sigtimedwait. Slots are never freed, only emptied.
struct UrgSlot {
  std::atomic<int> tid{0};
  std::atomic<bool> blocks{false};
  std::atomic<bool> waits{false};
};
constexpr int kUrgSlots = 4096;  // above SHIM_MAX_VCPUS
UrgSlot g_urg_slots[kUrgSlots];
std::atomic<int> g_urg_slots_used{0};

void slot_attach(ThreadSignals& ts, int tid) {
  for (int i = 0; i < kUrgSlots; i++) {
    int free_tid = 0;
    if (!g_urg_slots[i].tid.compare_exchange_strong(free_tid, tid)) continue;
    g_urg_slots[i].waits.store(false);
    ts.slot = i;
    int used = g_urg_slots_used.load();
    while (used < i + 1 && !g_urg_slots_used.compare_exchange_weak(used, i + 1)) {
    }
    return;
  }
}

void slot_detach(ThreadSignals& ts) {
  if (ts.slot < 0) return;
  g_urg_slots[ts.slot].tid.store(0);
  ts.slot = -1;
}

void slot_set_waits(ThreadSignals& ts, bool waits) {
  if (ts.slot >= 0) g_urg_slots[ts.slot].waits.store(waits);
}

long raw_tgkill(int pid, int tid, int sig) {
  return syscall(SYS_tgkill, pid, tid, sig);
}

// Whether the thread group leader blocks SIGURG: the target whose mask
// decides whether a process-directed signal is ignored (kill_pid_info
// sends to the leader; sig_ignored looks at its mask).
bool leader_blocks_urg(int pid) {
  int used = g_urg_slots_used.load(std::memory_order_acquire);
  for (int i = 0; i < used; i++)
    if (g_urg_slots[i].tid.load(std::memory_order_relaxed) == pid)
      return g_urg_slots[i].blocks.load(std::memory_order_relaxed);
  return false;
}

// complete_signal: a process-directed SIGURG the receiving thread cannot
// take goes to a guest thread that can; kick it (it finds g_shared_urg at
// its next exit, or ends its wait).
void kick_urg_taker(int pid, int self_tid) {
  int used = g_urg_slots_used.load(std::memory_order_acquire);
  for (int i = 0; i < used; i++) {
    int tid = g_urg_slots[i].tid.load(std::memory_order_relaxed);
    if (tid == 0 || tid == self_tid) continue;
    if (g_urg_slots[i].blocks.load(std::memory_order_relaxed) &&
        !g_urg_slots[i].waits.load(std::memory_order_relaxed))
      continue;
    raw_tgkill(pid, tid, kKickSignal);
    return;
  }
}

enum class UrgKind { kKick, kThread, kProcess };

// What a host SIGURG is; a relayed one is decoded in place.
UrgKind classify_urg(siginfo_t& info, int pid) {
  if (info.si_code == SI_TKILL && info.si_pid == pid) return UrgKind::kKick;
  char* bytes = reinterpret_cast<char*>(&info);
  if (info.si_code == kRelayCode) {
    RelayTail tail;
    memcpy(&tail, bytes + kRelayTailOffset, sizeof tail);
    if (g_cookie != 0 && tail.cookie == g_cookie) {
      info.si_code = tail.code;
      memset(bytes + kRelayTailOffset, 0, sizeof tail);
      return tail.thread ? UrgKind::kThread : UrgKind::kProcess;
    }
  }
  return info.si_code == SI_TKILL ? UrgKind::kThread : UrgKind::kProcess;
}

// Keeps a guest SIGURG that came to the calling host thread (`ts`: its
// guest thread, or nullptr). Async-signal-safe.
void keep_guest_urg(ThreadSignals* ts, UrgKind kind, const siginfo_t& info, int pid) {
  bool ignored = g_urg_ignored.load(std::memory_order_relaxed);
  if (kind == UrgKind::kThread) {
    // A thread-directed SIGURG for a host thread that is no guest thread
    // (the worker's tid, which the guest does not know of) has no taker.
    if (!ts) return;
    if (ignored && !(ts->guest_mask.load(std::memory_order_relaxed) & kUrg)) return;
    if (!(ts->pending.load(std::memory_order_relaxed) & kUrg)) {
      memcpy(&ts->info[SIGURG - 1], &info, sizeof info);
      ts->pending.fetch_or(kUrg, std::memory_order_release);
    }
    return;
  }
  if (ignored && !leader_blocks_urg(pid)) return;
  shared_urg_put(info);
  bool takes = ts && (!(ts->guest_mask.load(std::memory_order_relaxed) & kUrg) ||
                      (ts->slot >= 0 && g_urg_slots[ts->slot].waits.load()));
  if (!takes) kick_urg_taker(pid, static_cast<int>(syscall(SYS_gettid)));
}

// The host handler of SIGURG: no SA_RESTART (a blocking host call returns
// EINTR), SA_NODEFER (never blocked, not even by itself).
void urg_handler(int, siginfo_t* si, void*) {
  int saved_errno = errno;
  int pid = static_cast<int>(syscall(SYS_getpid));
  siginfo_t info;
  memcpy(&info, si, sizeof info);
  // A kick needs nothing more than the interrupted KVM_RUN or host call
  // (and immediate_exit, for a bare tgkill that comes just before KVM_RUN).
  UrgKind kind = classify_urg(info, pid);
  if (kind != UrgKind::kKick) keep_guest_urg(t_signals, kind, info, pid);
  interrupt_current_vcpu_from_signal_handler();
  exitless_wake_from_signal_handler();
  errno = saved_errno;
}

uint64_t host_mask_for(Thread& t) {
  return (t.sigmask | t.signals.pending.load(std::memory_order_acquire)) & ~kHostKeeps;
}

uint64_t caught_mask(Process& proc) {
  uint64_t m = 0;
  for (int sig = 1; sig <= 64; sig++)
    if (proc.sigactions[sig - 1].handler > kSigIgn) m |= sigbit(sig);
  return m & ~kHostKeeps;
}

}  // namespace elfuse::signal_internal

namespace elfuse {

using namespace signal_internal;

void signals_attach_thread(Thread& thread) {
  slot_attach(thread.signals, thread.tid);
  t_signals = &thread.signals;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // From here the handler records into thread.signals; what it kept before
  // goes there too (pending, so blocked by the mask set below).
  for (int sig = 1; sig <= 64; sig++) {
    if (!(t_early.pending & sigbit(sig))) continue;
    if (!(thread.signals.pending.load() & sigbit(sig)))
      record_signal(thread.signals, sig, t_early.info[sig - 1]);
  }
  t_early.pending = 0;
  signals_sync_host_mask(thread);
}

uint64_t signals_block_for_fork() {
  uint64_t all = kAllSignals, old = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof all);
  return old;
}

void signals_unblock_after_fork(uint64_t saved_host_mask) {
  raw_setmask(saved_host_mask);
}

void signals_on_fork_child(Thread& thread) {
  // Host signals are blocked here (signals_block_for_fork): nothing is
  // recorded while the parent's records go.
  thread.signals.pending.store(0);
  signals_sync_host_mask(thread);
}

void signals_detach_thread() {
  raw_setmask(kAllSignals);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (t_signals) slot_detach(*t_signals);
  t_signals = nullptr;
}

void signals_sync_host_mask(Thread& t) {
  t.signals.guest_mask.store(t.sigmask, std::memory_order_relaxed);
  if (t.signals.slot >= 0) g_urg_slots[t.signals.slot].blocks.store(t.sigmask & kUrg);
  // A signal recorded while this runs stays blocked (the handler adds it to
  // host_mask); loop until what was set covers everything recorded.
  for (int i = 0; i < 4; i++) {
    uint64_t want = host_mask_for(t);
    raw_setmask(want);
    t.signals.host_mask.store(want);
    if (!(t.signals.pending.load() & ~kHostKeeps & ~want)) return;
  }
}

namespace {
uint64_t g_inherited_ignored = 0;
}  // namespace

void signals_record_inherited() {
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    HostSigaction old{};
    if (syscall(SYS_rt_sigaction, sig, nullptr, &old, 8) == 0 &&
        old.handler == reinterpret_cast<void (*)(int, siginfo_t*, void*)>(SIG_IGN))
      g_inherited_ignored |= sigbit(sig);
  }
}

void signals_inherit(Process& proc) {
  for (int sig = 1; sig <= 64; sig++)
    if (g_inherited_ignored & sigbit(sig)) proc.sigactions[sig - 1].handler = kSigIgn;
  g_urg_ignored.store(proc.sigactions[SIGURG - 1].handler <= kSigIgn);
}

void signals_install_kick_handler() {
  while (g_cookie == 0)
    if (getrandom(&g_cookie, sizeof g_cookie, 0) != sizeof g_cookie) g_cookie = 0;
  HostSigaction h{};
  h.handler = urg_handler;
  h.flags = SA_SIGINFO | SA_NODEFER | kSaRestorer;
  h.restorer = elfuse_host_sigreturn;
  h.mask = 0;
  if (raw_sigaction(kKickSignal, &h) != 0) fatal("cannot install the SIGURG handler");
}

long signals_relay_urg(int tid, const siginfo_t& info) {
  siginfo_t relayed;
  memcpy(&relayed, &info, sizeof relayed);
  RelayTail tail{g_cookie, info.si_code, tid != 0};
  memcpy(reinterpret_cast<char*>(&relayed) + kRelayTailOffset, &tail, sizeof tail);
  relayed.si_signo = SIGURG;
  relayed.si_code = kRelayCode;
  int pid = getpid();
  if (tid != 0) return syscall(SYS_rt_tgsigqueueinfo, pid, tid, SIGURG, &relayed);
  return syscall(SYS_rt_sigqueueinfo, pid, SIGURG, &relayed);
}

bool signals_kept_urg(Thread& t) {
  return (t.signals.pending.load(std::memory_order_acquire) & kUrg) || shared_urg_pending();
}

bool signals_take_kept_urg(Thread& t, siginfo_t* info) {
  if (t.signals.pending.load(std::memory_order_acquire) & kUrg) {
    *info = take_signal(t.signals, SIGURG);
    return true;
  }
  return shared_urg_take(info);
}

void signals_urg_on_fork_child(Thread& thread) {
  // kernel/fork.c: the new process's shared pending set starts empty; the
  // parent's other threads are not in it.
  shared_urg_discard();
  int used = g_urg_slots_used.load();
  for (int i = 0; i < used; i++)
    if (i != thread.signals.slot) g_urg_slots[i].tid.store(0);
  if (thread.signals.slot >= 0) g_urg_slots[thread.signals.slot].tid.store(thread.tid);
}

void signals_wait(Process& proc, Thread& t) {
  // With every signal blocked on the host (SIGURG too), nothing can be
  // recorded between the check and the host's rt_sigsuspend, which
  // unblocks atomically.
  raw_setmask(kAllSignals);
  while (!signals_deliverable(t) && !t.signals.stop.load()) {
    uint64_t m = host_mask_for(t);
    syscall(SYS_rt_sigsuspend, &m, 8);
  }
  (void)proc;
  signals_sync_host_mask(t);
}

int64_t signals_timed_wait(Process& proc, Thread& t, uint64_t set, const timespec* timeout,
                           siginfo_t* info) {
  ThreadSignals& ts = t.signals;
  set &= ~kUnblockableSignals;
  timespec deadline{};
  if (timeout) {
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout->tv_sec;
    deadline.tv_nsec += timeout->tv_nsec;
    if (deadline.tv_nsec >= 1'000'000'000) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1'000'000'000;
    }
  }
  // A process-directed SIGURG may be given to this thread while it waits.
  if (set & kUrg) slot_set_waits(ts, true);
  int pid = getpid();
  int64_t result;
  for (;;) {
    // Caught signals are blocked during the check, then waited for along
    // with `set`: one that the guest would handle ends the wait (EINTR,
    // delivered on the way out), as a signal interrupts sigtimedwait under
    // Linux. SIGURG (kicks and the guest's) is blocked and waited for too,
    // and sorted out here.
    uint64_t caught = caught_mask(proc) & ~t.sigmask;
    raw_setmask(host_mask_for(t) | caught | kUrg);
    int sig = next_signal(ts.pending.load(std::memory_order_acquire) & set);
    if (sig) {
      *info = take_signal(ts, sig);
      result = sig;
      break;
    }
    if ((set & kUrg) && shared_urg_take(info)) {
      result = SIGURG;
      break;
    }
    // A caught SIGURG kept meanwhile, or another thread's execve.
    if (signals_deliverable(t) || ts.stop.load()) {
      result = -EINTR;
      break;
    }
    timespec left{};
    if (timeout) {
      timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      left.tv_sec = deadline.tv_sec - now.tv_sec;
      left.tv_nsec = deadline.tv_nsec - now.tv_nsec;
      if (left.tv_nsec < 0) {
        left.tv_sec--;
        left.tv_nsec += 1'000'000'000;
      }
      if (left.tv_sec < 0) left = timespec{};
    }
    uint64_t waitset = (set | caught | kUrg) & ~kUnblockableSignals;
    siginfo_t got;
    memset(&got, 0, sizeof got);
    long r = syscall(SYS_rt_sigtimedwait, &waitset, &got, timeout ? &left : nullptr, 8);
    if (r < 0) {
      if (errno == EINTR) continue;  // a handler ran: look again
      result = -errno;
      break;
    }
    if (r == SIGURG) {
      UrgKind kind = classify_urg(got, pid);
      if (kind == UrgKind::kKick) continue;
      if (set & kUrg) {
        *info = got;
        result = SIGURG;
        break;
      }
      keep_guest_urg(&ts, kind, got, pid);
      continue;
    }
    if (set & sigbit(static_cast<int>(r))) {
      *info = got;
      result = r;
    } else {
      record_signal(ts, static_cast<int>(r), got);
      result = -EINTR;
    }
    break;
  }
  if (set & kUrg) slot_set_waits(ts, false);
  signals_sync_host_mask(t);
  return result;
}

uint64_t signals_pending_blocked(Thread& t) {
  uint64_t host = 0;
  syscall(SYS_rt_sigpending, &host, 8);
  // The host's SIGURG is a kick or one kept here already.
  host &= ~kUrg;
  if (shared_urg_pending()) host |= kUrg;
  return (t.signals.pending.load() | host) & t.sigmask;
}

}  // namespace elfuse
