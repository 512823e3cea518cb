// What the parts of signal delivery share, and nothing outside them uses:
// signal.cc (delivery, dispositions, masks: the decisions), signal_host.cc
// (elfuse's host handlers, the kick and SIGURG, the host masks, waiting) and
// signal_frame.cc (the guest's rt_sigframe and rt_sigreturn). The public
// interface is kernel/signal.h.
#pragma once

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "kernel/process.h"
#include "kernel/signal.h"

// The restorer of elfuse's own host handlers (signal_host.cc).
extern "C" void elfuse_host_sigreturn();

namespace elfuse::signal_internal {

// ------------------------------------------------------------ constants

// The vCPU kick (KvmVcpu::kick, de_thread, the exitless worker's
// interrupt): a tgkill from elfuse's own pid. The guest's SIGURG is kept by
// elfuse itself (see "SIGURG" in signal_host.cc).
inline constexpr int kKickSignal = SIGURG;
inline constexpr uint64_t kUrg = sigbit(SIGURG);
// Signals elfuse never gives to the guest's control on the host.
inline constexpr uint64_t kHostKeeps = sigbit(kKickSignal) | kUnblockableSignals;
inline constexpr uint64_t kAllSignals = ~uint64_t{0};
// kernel/signal.c SYNCHRONOUS_MASK: dequeued before the others.
inline constexpr uint64_t kSynchronous = sigbit(SIGSEGV) | sigbit(SIGBUS) | sigbit(SIGILL) |
                                         sigbit(SIGTRAP) | sigbit(SIGFPE) | sigbit(SIGSYS);
// Signals the CPU raises for a fault in elfuse's own code too.
inline constexpr uint64_t kFaultSignals =
    sigbit(SIGSEGV) | sigbit(SIGBUS) | sigbit(SIGILL) | sigbit(SIGTRAP) | sigbit(SIGFPE);
// Default action: ignore (include/linux/signal.h sig_kernel_ignore).
inline constexpr uint64_t kDefaultIgnore =
    sigbit(SIGCHLD) | sigbit(SIGURG) | sigbit(SIGWINCH) | sigbit(SIGCONT);
// glibc's internal signals (SIGCANCEL, SIGSETXID): elfuse's host threads are
// glibc threads, and glibc's start_thread unblocks these two in every new
// thread before elfuse's code runs (pthread_attr_setsigmask_np filters them
// out), so a guest thread's host thread has them unblocked until
// signals_attach_thread. A guest thread-directed signal can come in that
// window (a SIGEV_THREAD_ID timer aimed at a thread just created: glibc's and
// musl's SIGEV_THREAD helper). They always get the host handler, which keeps
// such a signal for the thread (t_early), also when the guest's disposition
// is SIG_DFL: that default action is then taken at delivery.
inline constexpr uint64_t kLibcInternal = sigbit(32) | sigbit(33);
// Default action: stop (sig_kernel_stop).
inline constexpr uint64_t kDefaultStop =
    sigbit(SIGSTOP) | sigbit(SIGTSTP) | sigbit(SIGTTIN) | sigbit(SIGTTOU);

inline constexpr uint64_t kSigDfl = 0, kSigIgn = 1;
inline constexpr uint64_t kSaSiginfo = 0x4, kSaOnstack = 0x08000000, kSaRestart = 0x10000000,
                          kSaNodefer = 0x40000000, kSaResethand = 0x80000000,
                          kSaRestorer = 0x04000000;

// ------------------------------------------------------------ host side
// (signal_host.cc)

struct HostSigaction {  // the kernel's struct sigaction on x86_64
  void (*handler)(int, siginfo_t*, void*);
  uint64_t flags;
  void (*restorer)();
  uint64_t mask;
};

long raw_sigaction(int sig, const HostSigaction* act);

// The host handler for every signal the guest catches.
void host_handler(int sig, siginfo_t* si, void* ucv);

// The guest's disposition of SIGURG ignores it (SIG_IGN or SIG_DFL).
extern std::atomic<bool> g_urg_ignored;

// The process-directed SIGURG (the shared pending set's bit).
bool shared_urg_take(siginfo_t* info);
bool shared_urg_pending();
void shared_urg_discard();

// ------------------------------------------------------------ pending sets

// kernel/signal.c next_signal: synchronous signals first, then the lowest.
inline int next_signal(uint64_t set) {
  if (!set) return 0;
  if (set & kSynchronous) set &= kSynchronous;
  return __builtin_ctzll(set) + 1;
}

inline siginfo_t take_signal(ThreadSignals& ts, int sig) {
  siginfo_t info;
  memcpy(&info, &ts.info[sig - 1], sizeof info);
  ts.pending.fetch_and(~sigbit(sig), std::memory_order_acq_rel);
  return info;
}

inline void record_signal(ThreadSignals& ts, int sig, const siginfo_t& info) {
  memcpy(&ts.info[sig - 1], &info, sizeof info);
  ts.pending.fetch_or(sigbit(sig), std::memory_order_release);
}

inline siginfo_t kernel_info(int sig, int code, uint64_t addr) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = sig;
  info.si_code = code;
  memcpy(reinterpret_cast<char*>(&info) + 16, &addr, sizeof addr);  // si_addr
  return info;
}

// Kills the guest by `sig`, saying why it could not be delivered (signal.cc).
[[noreturn]] void die_undeliverable(int sig, const char* why);

// ------------------------------------------------------------ the frame
// (signal_frame.cc)

// The interrupted user context. At a fault exit in the PVM shim, RIP, RSP
// and RFLAGS are in the exception frame, not in the registers.
struct UserView {
  GuestRegs r;
  bool fault;
};

// Writes the user view back into the vCPU (and its exception frame).
void store_user(Thread& t, const UserView& u);

// Builds the rt_sigframe for `sig` below the user's stack (or on the
// alternate stack) and points the user view at the handler
// (signal_64.c get_sigframe, __setup_rt_frame; signal.c handle_signal).
// False when the frame cannot be written: the kernel's force_sigsegv case.
bool setup_frame(Process& proc, Thread& t, UserView& u, int sig, const siginfo_t& info,
                 const GuestSigaction& act, uint64_t saved_mask);

}  // namespace elfuse::signal_internal
