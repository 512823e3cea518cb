// The SIGSEGV/SIGBUS handler of base/safe_copy.h and the fault windows.
#include "base/safe_copy.h"

#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

extern "C" {
size_t elfuse_safe_copy(void* dst, const void* src, size_t n);
int elfuse_safe_load32(const uint32_t* p, uint32_t* out);
int elfuse_safe_cmpxchg32(uint32_t* p, uint32_t* expected, uint32_t desired);
void elfuse_safe_copy_sigreturn();
struct SafeCopyFixup {
  uintptr_t start, end, fixup;
};
extern const SafeCopyFixup elfuse_safe_copy_fixups[];
extern const uint64_t elfuse_safe_copy_nfixups;
}

namespace elfuse::safe_copy {
namespace {

constexpr uint64_t bit(int sig) {
  return uint64_t{1} << (sig - 1);
}
constexpr uint64_t kFaultSignals = bit(SIGSEGV) | bit(SIGBUS);
constexpr uint64_t kSaRestorer = 0x04000000;  // SA_RESTORER (arch/x86/include/uapi/asm/signal.h)

using Handler = void (*)(int, siginfo_t*, void*);
// SIG_DFL and SIG_IGN, as the kernel's sigaction holds them.
constexpr uintptr_t kDfl = 0;
constexpr uintptr_t kIgn = 1;

struct KernelSigaction {  // the kernel's struct sigaction on x86_64
  uintptr_t handler;
  uint64_t flags;
  void (*restorer)();
  uint64_t mask;
};

long raw_sigaction(int sig, const KernelSigaction* act, KernelSigaction* old) {
  return syscall(SYS_rt_sigaction, sig, act, old, 8);
}

// What the handler does with a signal that is not a routine's fault. Two
// slots per signal: set_disposition writes the one not in use and then
// switches, so the handler never reads a half-written one.
struct Disposition {
  uintptr_t handler = kDfl;
  uint64_t flags = 0;
  uint64_t mask = 0;
};
struct Slots {
  Disposition d[2];
  std::atomic<int> cur{0};
};
Slots g_segv, g_bus;
std::mutex g_mu;  // install and set_disposition
std::atomic<bool> g_installed{false};

Slots& slots(int sig) {
  return sig == SIGBUS ? g_bus : g_segv;
}

bool is_function(uintptr_t h) {
  return h != kDfl && h != kIgn;
}

// The per-thread state of the fault windows (the handler reads it).
struct Window {
  int depth = 0;
  uint64_t blocked = 0;   // fault signals the thread had blocked before
  uint64_t deferred = 0;  // sent ones that came meanwhile
  siginfo_t info[2];      // theirs (SIGSEGV, SIGBUS)
};
thread_local Window t_window;

int slot_of(int sig) {
  return sig == SIGBUS ? 1 : 0;
}

void reset_default(int sig) {
  KernelSigaction dfl{};
  raw_sigaction(sig, &dfl, nullptr);
}

// A signal sent by kill(), tgkill() or sigqueue() is always si_code <= 0;
// the CPU's faults are > 0 (SEGV_MAPERR, BUS_ADRERR...).
bool sent(const siginfo_t* si) {
  return si->si_code <= 0;
}

void on_fault(int sig, siginfo_t* si, void* ucv) {
  const int saved_errno = errno;
  auto* uc = static_cast<ucontext_t*>(ucv);
  greg_t& rip = uc->uc_mcontext.gregs[REG_RIP];
  if (!sent(si)) {
    const auto pc = static_cast<uintptr_t>(rip);
    for (uint64_t i = 0; i < elfuse_safe_copy_nfixups; i++) {
      const SafeCopyFixup& f = elfuse_safe_copy_fixups[i];
      if (pc >= f.start && pc < f.end) {
        rip = static_cast<greg_t>(f.fixup);
        errno = saved_errno;
        return;
      }
    }
  }
  const uint64_t b = bit(sig);
  Window& w = t_window;
  if (sent(si) && w.depth > 0 && (w.blocked & b)) {
    // The window opened what the thread had blocked: keep the signal for
    // when it closes (~FaultWindow), as if it had stayed blocked.
    if (!(w.deferred & b)) {
      memcpy(&w.info[slot_of(sig)], si, sizeof *si);
      w.deferred |= b;
    }
    errno = saved_errno;
    return;
  }
  const Slots& s = slots(sig);
  const Disposition d = s.d[s.cur.load(std::memory_order_acquire)];
  if (d.handler == kIgn) {
    // A fault outside the routines with the signal ignored: the kernel's
    // force_sig_fault would reset it to the default and kill.
    if (!sent(si)) reset_default(sig);
  } else if (d.handler == kDfl) {
    // Die by the signal: a fault re-executes its instruction, a sent
    // signal is sent again (blocked until this handler returns).
    reset_default(sig);
    if (sent(si)) syscall(SYS_tgkill, getpid(), gettid(), sig);
  } else {
    if (d.flags & SA_SIGINFO)
      reinterpret_cast<Handler>(d.handler)(sig, si, ucv);
    else
      reinterpret_cast<void (*)(int)>(d.handler)(sig);
    if (w.depth > 0) {
      // elfuse's host handler keeps further instances blocked in the mask
      // the kernel restores; inside a window the routines need them open
      // (a further sent one finds the first pending and is merged, as
      // Linux merges a non-realtime signal).
      uint64_t m;
      memcpy(&m, &uc->uc_sigmask, sizeof m);
      m &= ~kFaultSignals;
      memcpy(&uc->uc_sigmask, &m, sizeof m);
    }
  }
  errno = saved_errno;
}

KernelSigaction kernel_action(const Disposition& d) {
  KernelSigaction k{};
  k.handler = reinterpret_cast<uintptr_t>(on_fault);
  k.flags = SA_SIGINFO | SA_ONSTACK | kSaRestorer;
  k.restorer = elfuse_safe_copy_sigreturn;
  if (is_function(d.handler)) {
    // The chained handler's own restart and nesting choices, and its mask.
    k.flags |= d.flags & (SA_RESTART | SA_NODEFER);
    k.mask = d.mask;
  } else {
    // Ignored or default: a host call that a sent signal interrupts goes on
    // as if nothing had come.
    k.flags |= SA_RESTART;
  }
  return k;
}

void install_locked() {
  if (g_installed.load(std::memory_order_relaxed)) return;
  for (int sig : {SIGSEGV, SIGBUS}) {
    KernelSigaction old{};
    raw_sigaction(sig, nullptr, &old);
    Slots& s = slots(sig);
    s.d[0] = Disposition{old.handler, old.flags, old.mask};
    s.cur.store(0, std::memory_order_release);
    KernelSigaction k = kernel_action(s.d[0]);
    raw_sigaction(sig, &k, nullptr);
  }
  g_installed.store(true, std::memory_order_release);
}

void ensure_installed() {
  if (!g_installed.load(std::memory_order_acquire)) install();
}

// Queues a sent signal again, as it came: to this thread (tgkill,
// rt_tgsigqueueinfo) or to the process. rt_sigqueueinfo refuses a
// non-negative si_code from a thread other than the leader: then kill().
void requeue(int sig, siginfo_t* info) {
  const pid_t pid = getpid();
  if (info->si_code == SI_TKILL) {
    syscall(SYS_rt_tgsigqueueinfo, pid, gettid(), sig, info);
  } else if (syscall(SYS_rt_sigqueueinfo, pid, sig, info) != 0) {
    kill(pid, sig);
  }
}

}  // namespace

void install() {
  std::lock_guard lock(g_mu);
  install_locked();
}

void set_disposition(int sig, Handler handler, uint64_t flags, uint64_t mask) {
  std::lock_guard lock(g_mu);
  install_locked();
  Slots& s = slots(sig);
  const int next = 1 - s.cur.load(std::memory_order_relaxed);
  s.d[next] = Disposition{reinterpret_cast<uintptr_t>(handler), flags, mask};
  s.cur.store(next, std::memory_order_release);
  KernelSigaction k = kernel_action(s.d[next]);
  raw_sigaction(sig, &k, nullptr);
}

FaultWindow::FaultWindow() : reblock_(0) {
  ensure_installed();
  Window& w = t_window;
  if (w.depth++ > 0) return;
  // Until the old mask is known, a sent signal delivered on the way out of
  // rt_sigprocmask counts as blocked before (deferred: at worst a little
  // late).
  w.blocked = kFaultSignals;
  uint64_t set = kFaultSignals, old = 0;
  syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, &old, 8);
  w.blocked = old & kFaultSignals;
  reblock_ = w.blocked;
}

FaultWindow::~FaultWindow() {
  Window& w = t_window;
  if (w.depth > 1) {
    w.depth--;
    return;
  }
  // Only the fault signals go back: a handler that ran meanwhile may have
  // changed the rest of the mask on purpose.
  if (reblock_) syscall(SYS_rt_sigprocmask, SIG_BLOCK, &reblock_, nullptr, 8);
  w.depth = 0;
  w.blocked = 0;
  while (w.deferred) {
    int sig = (w.deferred & bit(SIGSEGV)) ? SIGSEGV : SIGBUS;
    siginfo_t info;
    memcpy(&info, &w.info[slot_of(sig)], sizeof info);
    w.deferred &= ~bit(sig);
    requeue(sig, &info);
  }
}

size_t copy(void* dst, const void* src, size_t n) {
  return elfuse_safe_copy(dst, src, n);
}

bool load32(const uint32_t* p, uint32_t* out) {
  return elfuse_safe_load32(p, out) != 0;
}

int cmpxchg32(uint32_t* p, uint32_t* expected, uint32_t desired) {
  return elfuse_safe_cmpxchg32(p, expected, desired);
}

}  // namespace elfuse::safe_copy
