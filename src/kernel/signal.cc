// Signal delivery into the guest. What Linux does in kernel/signal.c
// (get_signal, dequeue, sigaltstack), arch/x86/kernel/signal.c and
// signal_64.c (the rt_sigframe, handle_signal, syscall restart, sigreturn)
// and arch/x86/kernel/fpu/signal.c (the fpstate in the frame), done by the
// host on the guest's memory and registers. See docs/internals.md, "Faults
// and signals", for the design.
#include "kernel/signal.h"

#include <pthread.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>

#include "base/log.h"
#include "base/safe_copy.h"
#include "kernel/exitless.h"
#include "kernel/fault.h"
#include "kernel/process.h"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)  // include/uapi/linux/signal.h
#endif

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

namespace elfuse {
namespace {

// ------------------------------------------------------------ constants

// The vCPU kick (KvmVcpu::kick, de_thread, the exitless worker's
// interrupt): a tgkill from elfuse's own pid. The guest's SIGURG is kept by
// elfuse itself (see "SIGURG" below).
constexpr int kKickSignal = SIGURG;
constexpr uint64_t kUrg = sigbit(SIGURG);
// Signals elfuse never gives to the guest's control on the host.
constexpr uint64_t kHostKeeps = sigbit(kKickSignal) | kUnblockableSignals;
constexpr uint64_t kAllSignals = ~uint64_t{0};
// kernel/signal.c SYNCHRONOUS_MASK: dequeued before the others.
constexpr uint64_t kSynchronous = sigbit(SIGSEGV) | sigbit(SIGBUS) | sigbit(SIGILL) |
                                  sigbit(SIGTRAP) | sigbit(SIGFPE) | sigbit(SIGSYS);
// Signals the CPU raises for a fault in elfuse's own code too.
constexpr uint64_t kFaultSignals =
    sigbit(SIGSEGV) | sigbit(SIGBUS) | sigbit(SIGILL) | sigbit(SIGTRAP) | sigbit(SIGFPE);
// Default action: ignore (include/linux/signal.h sig_kernel_ignore).
constexpr uint64_t kDefaultIgnore =
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
constexpr uint64_t kLibcInternal = sigbit(32) | sigbit(33);
// Default action: stop (sig_kernel_stop).
constexpr uint64_t kDefaultStop =
    sigbit(SIGSTOP) | sigbit(SIGTSTP) | sigbit(SIGTTIN) | sigbit(SIGTTOU);

constexpr uint64_t kSigDfl = 0, kSigIgn = 1;
constexpr uint64_t kSaSiginfo = 0x4, kSaOnstack = 0x08000000, kSaRestart = 0x10000000,
                   kSaNodefer = 0x40000000, kSaResethand = 0x80000000, kSaRestorer = 0x04000000;

// arch/x86/include/uapi/asm/ucontext.h
constexpr uint64_t kUcFpXstate = 1, kUcSigcontextSs = 2, kUcStrictRestoreSs = 4;
// arch/x86/include/uapi/asm/sigcontext.h
constexpr uint32_t kFpXstateMagic1 = 0x46505853, kFpXstateMagic2 = 0x46505845;
constexpr uint64_t kFpXstateMagic2Size = 4;
constexpr uint64_t kXfeatureFpSse = 3;
// RFLAGS bits.
constexpr uint64_t kTF = 0x100, kDF = 0x400, kRF = 0x10000;
// arch/x86/kernel/signal_64.c FIX_EFLAGS: what sigreturn takes from the frame.
constexpr uint64_t kFixEflags =
    0x40000 | 0x800 | 0x400 | 0x100 | 0x80 | 0x40 | 0x10 | 0x4 | 0x1 | 0x10000;
// Linux's TASK_SIZE_MAX on x86_64 (4-level paging).
constexpr uint64_t kTaskSizeMax = 0x7ffffffff000;
constexpr uint16_t kUserCs = 0x33, kUserDs = 0x2b;

// ------------------------------------------------------------ guest layouts

// arch/x86/include/uapi/asm/sigcontext.h, struct sigcontext (64-bit).
struct GuestSigcontext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;
  uint64_t reserved1[8];
};
static_assert(sizeof(GuestSigcontext) == 256);

struct GuestStack {  // stack_t
  uint64_t sp;
  int32_t flags;
  int32_t pad;
  uint64_t size;
};
static_assert(sizeof(GuestStack) == 24);

struct GuestUcontext {  // arch/x86/include/uapi/asm/ucontext.h
  uint64_t uc_flags;
  uint64_t uc_link;
  GuestStack uc_stack;
  GuestSigcontext uc_mcontext;
  uint64_t uc_sigmask;
};
static_assert(sizeof(GuestUcontext) == 304);

struct GuestRtSigframe {  // arch/x86/include/asm/sigframe.h, 64-bit
  uint64_t pretcode;
  GuestUcontext uc;
  siginfo_t info;
};
static_assert(sizeof(GuestRtSigframe) == 440);
static_assert(sizeof(siginfo_t) == 128);

// struct _fpx_sw_bytes, in the FXSAVE area's software-reserved bytes.
struct FpxSwBytes {
  uint32_t magic1;
  uint32_t extended_size;
  uint64_t xfeatures;
  uint32_t xstate_size;
  uint32_t padding[7];
};
static_assert(sizeof(FpxSwBytes) == 48);
constexpr size_t kSwBytesOffset = 464;
constexpr size_t kMxcsrOffset = 24, kMxcsrMaskOffset = 28;
constexpr size_t kXstateBvOffset = 512;

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

struct HostSigaction {  // the kernel's struct sigaction on x86_64
  void (*handler)(int, siginfo_t*, void*);
  uint64_t flags;
  void (*restorer)();
  uint64_t mask;
};

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

// kernel/signal.c next_signal: synchronous signals first, then the lowest.
int next_signal(uint64_t set) {
  if (!set) return 0;
  if (set & kSynchronous) set &= kSynchronous;
  return __builtin_ctzll(set) + 1;
}

siginfo_t take_signal(ThreadSignals& ts, int sig) {
  siginfo_t info;
  memcpy(&info, &ts.info[sig - 1], sizeof info);
  ts.pending.fetch_and(~sigbit(sig), std::memory_order_acq_rel);
  return info;
}

void record_signal(ThreadSignals& ts, int sig, const siginfo_t& info) {
  memcpy(&ts.info[sig - 1], &info, sizeof info);
  ts.pending.fetch_or(sigbit(sig), std::memory_order_release);
}

siginfo_t kernel_info(int sig, int code, uint64_t addr) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_signo = sig;
  info.si_code = code;
  memcpy(reinterpret_cast<char*>(&info) + 16, &addr, sizeof addr);  // si_addr
  return info;
}

[[noreturn]] void die_undeliverable(int sig, const char* why) {
  const char* abbrev = sigabbrev_np(sig);
  log_error("guest killed by SIG%s: %s", abbrev ? abbrev : "?", why);
  die_by_signal(sig);
}

// ------------------------------------------------------------ altstack

// kernel/signal.c (include/linux/sched/signal.h) on_sig_stack & co.
bool on_altstack_raw(const Thread& t, uint64_t sp) {
  return sp > t.altstack_sp && sp - t.altstack_sp <= t.altstack_size;
}
bool on_altstack(const Thread& t, uint64_t sp) {
  if (t.altstack_flags & SS_AUTODISARM) return false;
  return on_altstack_raw(t, sp);
}
int sas_ss_flags(const Thread& t, uint64_t sp) {
  if (!t.altstack_size) return SS_DISABLE;
  return on_altstack(t, sp) ? SS_ONSTACK : 0;
}

// ------------------------------------------------------------ the user view

// The interrupted user context. At a fault exit in the PVM shim, RIP, RSP
// and RFLAGS are in the exception frame, not in the registers.
struct UserView {
  GuestRegs r;
  bool fault;
};

void store_user(Thread& t, const UserView& u) {
  GuestRegs& m = t.vcpu->mutable_regs();
  if (!u.fault) {
    m = u.r;
    return;
  }
  uint64_t krip = m.rip, krsp = m.rsp, krflags = m.rflags;
  m = u.r;
  m.rip = krip;
  m.rsp = krsp;
  m.rflags = krflags;
  if (!t.vcpu->set_fault_return(u.r.rip, u.r.rsp, u.r.rflags).ok())
    fatal("cannot rewrite the guest's exception frame");
}

// ------------------------------------------------------------ FPU state

// The state a signal handler starts with (fpu__clear_user_states): x87 and
// SSE at their reset values, every other component in its init state.
void init_fpu_area(uint8_t* area, uint32_t mxcsr_mask) {
  memset(area, 0, kXsaveAreaSize);
  uint16_t fcw = 0x37f;
  uint32_t mxcsr = 0x1f80;
  memcpy(area, &fcw, 2);
  memcpy(area + kMxcsrOffset, &mxcsr, 4);
  memcpy(area + kMxcsrMaskOffset, &mxcsr_mask, 4);
  uint64_t bv = kXfeatureFpSse;
  memcpy(area + kXstateBvOffset, &bv, 8);
}

uint32_t mxcsr_mask_of(const uint8_t* area) {
  uint32_t m;
  memcpy(&m, area + kMxcsrMaskOffset, 4);
  return m ? m : 0xffbf;  // the architectural default when the CPU reports 0
}

// MXCSR_MASK is a property of the CPU, the same for every vCPU: read once, so
// that sigreturn needs no KVM_GET_XSAVE (each vCPU ioctl costs a vcpu_load).
uint32_t cpu_mxcsr_mask(Vcpu& vcpu) {
  static std::atomic<uint32_t> cached{0};
  uint32_t m = cached.load(std::memory_order_relaxed);
  if (m) return m;
  alignas(64) uint8_t area[kXsaveAreaSize];
  if (!vcpu.get_xsave(area).ok()) fatal("KVM_GET_XSAVE failed");
  m = mxcsr_mask_of(area);
  cached.store(m, std::memory_order_relaxed);
  return m;
}

// arch/x86/kernel/fpu/signal.c __fpu_restore_sig / check_xstate_in_sigframe,
// for a 64-bit frame. Returns false for a frame the kernel would refuse
// (XRSTOR/FXRSTOR would fault): the caller sends SIGSEGV.
bool restore_fpu(MemoryManager& mm, Vcpu& vcpu, uint64_t fpstate) {
  uint32_t mxcsr_mask = cpu_mxcsr_mask(vcpu);
  alignas(64) uint8_t area[kXsaveAreaSize];
  init_fpu_area(area, mxcsr_mask);
  if (fpstate == 0) return vcpu.set_xsave(area).ok();  // no FPU state: init
  if (fpstate & 63) return false;                      // XRSTOR needs a 64-byte aligned image
  uint8_t legacy[512];
  if (!mm.copy_in(legacy, fpstate, sizeof legacy).ok()) return false;
  FpxSwBytes sw;
  memcpy(&sw, legacy + kSwBytesOffset, sizeof sw);
  uint64_t xcr0 = vcpu.xfeatures();
  uint32_t max_size = vcpu.xsave_user_size();
  bool fx_only = true;
  if (sw.magic1 == kFpXstateMagic1 && sw.xstate_size >= 512 + 64 && sw.xstate_size <= max_size &&
      sw.xstate_size <= sw.extended_size) {
    uint32_t magic2 = 0;
    if (mm.copy_in(&magic2, fpstate + sw.xstate_size, 4).ok() && magic2 == kFpXstateMagic2)
      fx_only = false;
  }
  uint32_t mxcsr;
  memcpy(&mxcsr, legacy + kMxcsrOffset, 4);
  if (mxcsr & ~mxcsr_mask) return false;  // FXRSTOR/XRSTOR #GP
  if (fx_only) {
    memcpy(area, legacy, sizeof legacy);
    uint64_t bv = kXfeatureFpSse;
    memcpy(area + kXstateBvOffset, &bv, 8);
  } else {
    memset(area, 0, kXsaveAreaSize);
    if (!mm.copy_in(area, fpstate, sw.xstate_size).ok()) return false;
    // XRSTOR faults on a compacted or reserved header, or on state
    // components XCR0 does not enable.
    uint64_t bv;
    memcpy(&bv, area + kXstateBvOffset, 8);
    for (size_t i = kXstateBvOffset + 8; i < kXstateBvOffset + 64; i++)
      if (area[i]) return false;
    if (bv & ~xcr0) return false;
    // Components outside fx_sw_bytes.xfeatures are set to their init state.
    bv &= sw.xfeatures | kXfeatureFpSse;
    memcpy(area + kXstateBvOffset, &bv, 8);
  }
  memcpy(area + kMxcsrMaskOffset, &mxcsr_mask, 4);
  return vcpu.set_xsave(area).ok();
}

// ------------------------------------------------------------ delivery

void apply_host_action(int sig, const GuestSigaction& act) {
  // SIGURG keeps its host handler, which follows the guest's disposition.
  if (sig == SIGURG) g_urg_ignored.store(act.handler <= kSigIgn);
  if (sigbit(sig) & kHostKeeps) return;
  HostSigaction h{};
  // SIGCHLD's SA_NOCLDSTOP and SA_NOCLDWAIT act in the host kernel, which
  // owns the children.
  if (sig == SIGCHLD) h.flags = act.flags & (SA_NOCLDSTOP | SA_NOCLDWAIT);
  if (act.handler == kSigIgn) {
    h.handler = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(SIG_IGN);
  } else if (act.handler == kSigDfl && !(sigbit(sig) & kLibcInternal)) {
    h.handler = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(SIG_DFL);
  } else {
    // No SA_RESTART: a host syscall the signal interrupts returns EINTR, and
    // the guest's own SA_RESTART decides (signals_on_syscall_return). All
    // signals blocked while the (short) handler runs.
    h.handler = host_handler;
    h.flags |= SA_SIGINFO | kSaRestorer;
    h.restorer = elfuse_host_sigreturn;
    h.mask = kAllSignals & ~kHostKeeps;
  }
  // SIGSEGV and SIGBUS keep elfuse's fault handler (base/safe_copy.h), which
  // hands what is not a fault of its copy routines to this disposition.
  if (sig == SIGSEGV || sig == SIGBUS) {
    safe_copy::set_disposition(sig, h.handler, h.flags, h.mask);
    return;
  }
  raw_sigaction(sig, &h);
}

enum class Restart { kNone, kSys, kNoIntr, kNoHand, kBlock };

// Which internal code Linux returns when a signal interrupts syscall `nr`
// (the host turns all of them into EINTR, as elfuse's host handlers have no
// SA_RESTART). -ERESTARTSYS: restarted unless a handler without SA_RESTART
// runs; -ERESTARTNOHAND: restarted only if no handler runs;
// -ERESTART_RESTARTBLOCK: restart_syscall (sleeps with a timeout). Others
// return EINTR as is.
Restart restart_class(const SyscallArgs& a) {
  switch (a.nr) {
    case SYS_read:
    case SYS_write:
    case SYS_readv:
    case SYS_writev:
    case SYS_pread64:
    case SYS_pwrite64:
    case SYS_preadv:
    case SYS_pwritev:
    case SYS_preadv2:
    case SYS_pwritev2:
    case SYS_open:
    case SYS_openat:
    case SYS_openat2:
    case SYS_creat:
    case SYS_wait4:
    case SYS_waitid:
    case SYS_accept:
    case SYS_accept4:
    case SYS_connect:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_recvmmsg:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_sendmmsg:
    case SYS_flock:
    case SYS_fcntl:
    case SYS_ioctl:
    case SYS_sendfile:
    case SYS_splice:
    case SYS_tee:
    case SYS_vmsplice:
    case SYS_copy_file_range:
    case SYS_getrandom:
    case SYS_mq_timedsend:  // ipc/mqueue.c wq_sleep
    case SYS_mq_timedreceive:
    case SYS_futex_waitv:  // futex_wait_multiple: -ERESTARTSYS (absolute timeout)
    case 455:              // futex_wait (futex2): __futex_wait, -ERESTARTSYS
      return Restart::kSys;
    case SYS_futex: {
      int op = static_cast<int>(a.a[1]) & 127;
      if (op == 6 /* FUTEX_LOCK_PI */) return Restart::kNoIntr;
      if ((op == 0 || op == 9) && a.a[3]) return Restart::kBlock;  // FUTEX_WAIT(_BITSET) timed
      return Restart::kSys;
    }
    case SYS_pause:
    case SYS_rt_sigsuspend:
    case SYS_select:
    case SYS_pselect6:
    case SYS_ppoll:
    case SYS_msgrcv:
    case SYS_msgsnd:
      return Restart::kNoHand;
    case SYS_poll:
      return static_cast<int>(a.a[2]) < 0 ? Restart::kNoHand : Restart::kBlock;
    case SYS_nanosleep:
      return Restart::kBlock;
    case SYS_clock_nanosleep:
      return (a.a[1] & TIMER_ABSTIME) ? Restart::kNoHand : Restart::kBlock;
    default:
      return Restart::kNone;
  }
}

// Builds the rt_sigframe for `sig` below the user's stack (or on the
// alternate stack) and points the user view at the handler
// (signal_64.c get_sigframe, __setup_rt_frame; signal.c handle_signal).
// False when the frame cannot be written: the kernel's force_sigsegv case.
bool setup_frame(Process& proc, Thread& t, UserView& u, int sig, const siginfo_t& info,
                 const GuestSigaction& act, uint64_t saved_mask) {
  if (!(act.flags & kSaRestorer)) return false;  // x86-64 requires a restorer
  MemoryManager& mm = proc.mm();
  Vcpu& vcpu = *t.vcpu;
  uint64_t sp = u.r.rsp;
  bool nested = on_altstack(t, sp);
  bool entering = false;
  sp -= 128;  // the red zone
  if ((act.flags & kSaOnstack) && sas_ss_flags(t, sp) == 0) {
    sp = t.altstack_sp + t.altstack_size;
    entering = true;
  }
  // The XSAVE image (64-byte aligned) with FP_XSTATE_MAGIC2 after it.
  uint32_t xsize = vcpu.xsave_user_size();
  uint64_t fp = (sp - (xsize + kFpXstateMagic2Size)) & ~uint64_t{63};
  uint64_t frame = ((fp - sizeof(GuestRtSigframe)) & ~uint64_t{15}) - 8;
  if (fp > sp || frame > fp) return false;                               // wrapped below 0
  if ((nested || entering) && !on_altstack_raw(t, frame)) return false;  // altstack overflow

  alignas(64) uint8_t area[kXsaveAreaSize];
  if (!vcpu.get_xsave(area).ok()) fatal("KVM_GET_XSAVE failed");
  uint32_t mxcsr_mask = mxcsr_mask_of(area);
  // fpu/signal.c save_sw_bytes / save_xstate_epilog.
  FpxSwBytes sw{};
  sw.magic1 = kFpXstateMagic1;
  sw.extended_size = xsize + kFpXstateMagic2Size;
  sw.xfeatures = vcpu.xfeatures();
  sw.xstate_size = xsize;
  memcpy(area + kSwBytesOffset, &sw, sizeof sw);
  uint64_t bv;
  memcpy(&bv, area + kXstateBvOffset, 8);
  bv |= kXfeatureFpSse;  // "for legacy compatibility", always set
  memcpy(area + kXstateBvOffset, &bv, 8);
  if (!mm.copy_out(fp, area, xsize).ok()) return false;
  uint32_t magic2 = kFpXstateMagic2;
  if (!mm.copy_out(fp + xsize, &magic2, sizeof magic2).ok()) return false;

  GuestRtSigframe f;
  memset(&f, 0, sizeof f);
  f.pretcode = act.restorer;
  f.uc.uc_flags = kUcFpXstate | kUcSigcontextSs | kUcStrictRestoreSs;
  f.uc.uc_link = 0;
  f.uc.uc_stack = {t.altstack_sp, t.altstack_flags, 0, t.altstack_size};
  GuestSigcontext& sc = f.uc.uc_mcontext;
  const GuestRegs& r = u.r;
  sc.r8 = r.r8, sc.r9 = r.r9, sc.r10 = r.r10, sc.r11 = r.r11;
  sc.r12 = r.r12, sc.r13 = r.r13, sc.r14 = r.r14, sc.r15 = r.r15;
  sc.rdi = r.rdi, sc.rsi = r.rsi, sc.rbp = r.rbp, sc.rbx = r.rbx;
  sc.rdx = r.rdx, sc.rax = r.rax, sc.rcx = r.rcx, sc.rsp = r.rsp;
  sc.rip = r.rip, sc.eflags = r.rflags;
  sc.cs = kUserCs, sc.gs = 0, sc.fs = 0, sc.ss = kUserDs;
  sc.err = t.signals.err, sc.trapno = t.signals.trapno, sc.cr2 = t.signals.cr2;
  sc.oldmask = saved_mask;
  sc.fpstate = fp;
  f.uc.uc_sigmask = saved_mask;
  // The siginfo is written only for SA_SIGINFO handlers.
  f.info = info;
  uint64_t len = (act.flags & kSaSiginfo) ? sizeof f : offsetof(GuestRtSigframe, info);
  if (!mm.copy_out(frame, &f, len).ok()) return false;

  // The handler starts with a fresh FPU state (fpu__clear_user_states).
  alignas(64) uint8_t fresh[kXsaveAreaSize];
  init_fpu_area(fresh, mxcsr_mask);
  if (!vcpu.set_xsave(fresh).ok()) fatal("KVM_SET_XSAVE failed");

  u.r.rdi = static_cast<uint64_t>(sig);
  u.r.rax = 0;
  u.r.rsi = frame + offsetof(GuestRtSigframe, info);
  u.r.rdx = frame + offsetof(GuestRtSigframe, uc);
  u.r.rip = act.handler;
  u.r.rsp = frame;
  u.r.rflags &= ~(kDF | kRF | kTF);
  return true;
}

// The default action of a signal that was recorded while caught but whose
// handler is SIG_DFL or SIG_IGN by the time it is delivered.
void default_action(Thread& t, int sig) {
  uint64_t b = sigbit(sig);
  if (b & kDefaultIgnore) return;
  if (b & kDefaultStop) {
    signals_sync_host_mask(t);
    syscall(SYS_tgkill, getpid(), gettid(), sig);  // the host disposition is SIG_DFL
    return;
  }
  die_by_signal(sig);
}

// get_signal + handle_signal, repeated while signals are deliverable (each
// handler frame goes on top of the previous one, as the kernel's
// exit_to_user_mode loop does). `restart` is the interrupted syscall's
// restart class (kNone when not from a syscall). Returns true when at least
// one handler frame was set up.
bool deliver(Process& proc, Thread& t, UserView& u, Restart restart, uint64_t nr) {
  ThreadSignals& ts = t.signals;
  bool delivered = false;
  for (;;) {
    // dequeue_signal: the thread's own pending set, then the process's.
    int sig = next_signal(ts.pending.load(std::memory_order_acquire) & ~t.sigmask);
    siginfo_t info;
    if (sig)
      info = take_signal(ts, sig);
    else if (!(t.sigmask & kUrg) && shared_urg_take(&info))
      sig = SIGURG;
    else
      break;
    GuestSigaction& act = proc.sigactions[sig - 1];
    if (act.handler == kSigIgn) continue;
    if (act.handler == kSigDfl) {
      default_action(t, sig);
      continue;
    }
    GuestSigaction used = act;
    if (!delivered && restart != Restart::kNone) {
      // handle_signal: the syscall return value for a handler that runs.
      if (restart == Restart::kNoIntr || (restart == Restart::kSys && (act.flags & kSaRestart))) {
        u.r.rax = nr;
        u.r.rip -= 2;  // back onto the `syscall` instruction
      }
    }
    uint64_t saved = ts.restore_mask ? ts.saved_mask : t.sigmask;
    if (!setup_frame(proc, t, u, sig, info, used, saved)) {
      // force_sigsegv: SIGSEGV, with SIGSEGV's handler reset when it was
      // SIGSEGV that could not be delivered.
      GuestSigaction& segv = proc.sigactions[SIGSEGV - 1];
      if (sig == SIGSEGV || segv.handler <= kSigIgn || (t.sigmask & sigbit(SIGSEGV)))
        die_undeliverable(SIGSEGV, "cannot write the signal frame");
      record_signal(ts, SIGSEGV, kernel_info(SIGSEGV, SI_KERNEL, 0));
      continue;
    }
    delivered = true;
    // signal_delivered: the handler's mask; the saved mask is consumed.
    uint64_t blocked = t.sigmask | act.mask;
    if (!(act.flags & kSaNodefer)) blocked |= sigbit(sig);
    t.sigmask = blocked & ~kUnblockableSignals;
    ts.restore_mask = false;
    if (t.altstack_flags & SS_AUTODISARM) {
      t.altstack_sp = 0;
      t.altstack_size = 0;
      t.altstack_flags = SS_DISABLE;
    }
    if (act.flags & kSaResethand) {
      act.handler = kSigDfl;
      apply_host_action(sig, act);
    }
  }
  if (!delivered && restart != Restart::kNone) {
    // arch_do_signal_or_restart, no handler: restart. restart_syscall is
    // not implemented; a timed sleep returns EINTR (documented).
    if (restart != Restart::kBlock) {
      u.r.rax = nr;
      u.r.rip -= 2;
    }
  }
  if (ts.restore_mask) {  // restore_saved_sigmask
    t.sigmask = ts.saved_mask;
    ts.restore_mask = false;
  }
  signals_sync_host_mask(t);
  return delivered;
}

// Linux keeps the temporary mask of ppoll, pselect6 and epoll_pwait when
// they return EINTR, until the signal is delivered. sys_poll.cc passes the
// mask to the host call itself; take it from the arguments again here.
void adopt_wait_mask(Process& proc, Thread& t, const SyscallArgs& a) {
  uint64_t ptr = 0, size = 0;
  switch (a.nr) {
    case SYS_ppoll:
      ptr = a.a[3], size = a.a[4];
      break;
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2:
      ptr = a.a[4], size = a.a[5];
      break;
    case SYS_pselect6: {
      uint64_t pack[2];
      if (!a.a[5] || !proc.mm().copy_in(pack, a.a[5], sizeof pack).ok()) return;
      ptr = pack[0], size = pack[1];
      break;
    }
    default:
      return;
  }
  uint64_t mask;
  if (!ptr || size != 8 || !proc.mm().copy_in(&mask, ptr, 8).ok()) return;
  signals_set_temporary_mask(t, mask);
}

}  // namespace

// ------------------------------------------------------------ public

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

bool signals_disposition_discards(int sig, const GuestSigaction& act) {
  // do_sigaction: setting SIG_IGN, or SIG_DFL for a signal whose default is
  // to ignore, discards it if pending (the host does the same for its own).
  return act.handler == kSigIgn || (act.handler == kSigDfl && (sigbit(sig) & kDefaultIgnore));
}

void signals_set_host_disposition(Thread& thread, int sig, const GuestSigaction& act) {
  apply_host_action(sig, act);
  if (signals_disposition_discards(sig, act)) {
    thread.signals.pending.fetch_and(~sigbit(sig));
    if (sig == SIGURG) shared_urg_discard();
    signals_sync_host_mask(thread);
  }
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

void signals_set_temporary_mask(Thread& t, uint64_t mask) {
  if (!t.signals.restore_mask) t.signals.saved_mask = t.sigmask;
  t.signals.restore_mask = true;
  t.sigmask = mask & ~kUnblockableSignals;
  signals_sync_host_mask(t);
}

void signals_on_syscall_return(Process& proc, Thread& t, const SyscallArgs& args, int64_t result) {
  // A forked child's records were reset by signals_on_fork_child; what it
  // has now was sent to it and is delivered on its first return.
  ThreadSignals& ts = t.signals;
  Restart restart = result == -EINTR ? restart_class(args) : Restart::kNone;
  if (result == -EINTR && !ts.restore_mask) adopt_wait_mask(proc, t, args);
  if (!signals_deliverable(t) && restart == Restart::kNone && !ts.restore_mask) return;
  UserView u{t.vcpu->regs(), false};
  // The shim stub's `jmp *%rcx`, done here: the frame then shows the
  // program's own return address, as under Linux.
  u.r.rip = u.r.rcx;
  deliver(proc, t, u, restart, args.nr);
  store_user(t, u);
}

void signals_on_resume(Process& proc, Thread& t) {
  ThreadSignals& ts = t.signals;
  if (!signals_deliverable(t) && !ts.restore_mask) return;
  // Inside the shim's supervisor code the user registers are not at hand;
  // the signal waits for the next exit (see docs/internals.md).
  if (!t.vcpu->at_user_boundary()) return;
  UserView u{t.vcpu->regs(), false};
  deliver(proc, t, u, Restart::kNone, 0);
  store_user(t, u);
}

void signals_on_fault(Process& proc, Thread& t, const GuestFault& f) {
  FaultSignal fs;
  if (f.write_to_readonly_host) {
    // KVM_RUN EFAULT: the host could not fault a page in, and KVM does not
    // say which. A page of a file mapping wholly past the end of the file
    // is Linux's SIGBUS/BUS_ADRERR (mm/filemap.c filemap_fault); anything
    // else has no fault address to report: keep the default action.
    auto va = proc.mm().find_sigbus_page(~0ull);
    if (!va) die_of_fault(proc, f);
    fs = {SIGBUS, BUS_ADRERR, *va};
  } else {
    bool mapped = f.vector == 14 && proc.mm().with_vmas([&](const AddressSpace& as) {
      return as.find(f.address) != nullptr;
    });
    fs = signal_for_fault(f, mapped);
    // A read of a vDSO data page the host kernel has no page for: its
    // fault handler's VM_FAULT_SIGBUS. A write or an instruction fetch
    // there is an access error first (the VMA is read-only, not
    // executable): SIGSEGV.
    constexpr uint64_t kPfWrite = 2, kPfFetch = 16;
    if (mapped && !(f.error_code & (kPfWrite | kPfFetch)) && proc.mm().host_page_sigbus(f.address))
      fs = {SIGBUS, BUS_ADRERR, f.address};
  }
  const GuestSigaction& act = proc.sigactions[fs.signo - 1];
  // force_sig_info_to_task: a blocked or ignored fault signal is reset to
  // the default action, which kills.
  if (act.handler <= kSigIgn || (t.sigmask & sigbit(fs.signo))) {
    if (fs.signo == SIGBUS) {
      log_error("guest killed by SIGBUS: address 0x%llx (%s)",
                static_cast<unsigned long long>(fs.address),
                f.write_to_readonly_host ? "past the end of the mapped file" : "no page there");
      die_by_signal(SIGBUS);
    }
    die_of_fault(proc, f);
  }
  ThreadSignals& ts = t.signals;
  ts.trapno = f.vector;
  ts.err = f.error_code;
  if (f.vector == 14) {
    // arch/x86/mm/fault.c set_signal_archinfo.
    ts.err = f.error_code | 4;                   // X86_PF_USER
    if (f.address >= kTaskSizeMax) ts.err |= 1;  // X86_PF_PROT
    ts.cr2 = f.write_to_readonly_host ? fs.address : f.address;
  }
  siginfo_t info = kernel_info(fs.signo, fs.code, fs.address);
  record_signal(ts, fs.signo, info);
  UserView u{t.vcpu->regs(), true};
  u.r.rip = f.rip;
  u.r.rsp = f.rsp;
  u.r.rflags = f.rflags;
  deliver(proc, t, u, Restart::kNone, 0);
  store_user(t, u);
}

void signals_force(Process& proc, Thread& t, int sig) {
  const GuestSigaction& act = proc.sigactions[sig - 1];
  if (act.handler <= kSigIgn || (t.sigmask & sigbit(sig)))
    die_undeliverable(sig, "forced by the kernel (blocked, ignored or without a handler)");
  record_signal(t.signals, sig, kernel_info(sig, SI_KERNEL, 0));
}

void signals_force_info(Process& proc, Thread& t, const siginfo_t& info) {
  int sig = info.si_signo;
  const GuestSigaction& act = proc.sigactions[sig - 1];
  if (act.handler <= kSigIgn || (t.sigmask & sigbit(sig))) die_by_signal(sig);
  record_signal(t.signals, sig, info);
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

uint64_t signals_deliverable(Thread& t) {
  uint64_t pending = t.signals.pending.load(std::memory_order_acquire);
  if (shared_urg_pending()) pending |= kUrg;
  return pending & ~t.sigmask;
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

void signals_on_exec(Process& proc) {
  for (int sig = 1; sig <= 64; sig++) {
    GuestSigaction& act = proc.sigactions[sig - 1];
    if (act.handler > kSigIgn) {
      act = GuestSigaction{};
      apply_host_action(sig, act);
    } else {
      act.flags = 0;
      act.mask = 0;
      act.restorer = 0;
      // Also at the first exec: these never keep the host's SIG_DFL.
      if (act.handler == kSigDfl && (sigbit(sig) & kLibcInternal)) apply_host_action(sig, act);
    }
  }
  for (auto& t : proc.threads) {
    t->altstack_sp = 0;
    t->altstack_size = 0;
    t->altstack_flags = SS_DISABLE;
  }
}

// restore_sigcontext (arch/x86/kernel/signal_64.c): CS and SS from the
// frame, forced to RPL 3; without UC_STRICT_RESTORE_SS, a 64-bit CS and an
// SS that is not a present DPL 3 writable data segment make SS __USER_DS
// (force_valid_ss). The return to user mode then loads them: anything but
// the 64-bit user code selector and the user data selector faults (#GP),
// since elfuse's guest has no LDT and no TLS descriptors (modify_ldt and
// set_thread_area are ENOSYS), the only other places a usable selector
// could come from. __USER32_CS (0x23) is the one selector Linux accepts
// that elfuse does not: it means 32-bit code, which elfuse cannot run.
// Returns the selector the IRET would fault on, with RPL 3, or 0.
uint16_t sigreturn_bad_selector(uint16_t frame_cs, uint16_t frame_ss, uint64_t uc_flags) {
  const uint16_t cs = frame_cs | 3;
  uint16_t ss = frame_ss | 3;
  if (!(uc_flags & kUcStrictRestoreSs) && cs == kUserCs && ss != kUserDs) ss = kUserDs;
  if (cs != kUserCs) return cs;
  if (ss != kUserDs) return ss;
  return 0;
}

int64_t signals_sigreturn(SyscallContext& ctx) {
  Thread& t = ctx.thread;
  MemoryManager& mm = ctx.mm;
  ctx.outcome = Outcome::kNoReturn;
  const GuestRegs& cur = t.vcpu->regs();
  uint64_t frame = cur.rsp - 8;
  GuestRtSigframe f;
  bool ok = mm.copy_in(&f, frame, sizeof f).ok();
  uint16_t bad_selector = 0;
  if (ok) {
    t.sigmask = f.uc.uc_sigmask & ~kUnblockableSignals;  // set_current_blocked
    const GuestSigcontext& sc = f.uc.uc_mcontext;
    GuestRegs r = cur;
    r.r8 = sc.r8, r.r9 = sc.r9, r.r10 = sc.r10, r.r11 = sc.r11;
    r.r12 = sc.r12, r.r13 = sc.r13, r.r14 = sc.r14, r.r15 = sc.r15;
    r.rdi = sc.rdi, r.rsi = sc.rsi, r.rbp = sc.rbp, r.rbx = sc.rbx;
    r.rdx = sc.rdx, r.rax = sc.rax, r.rcx = sc.rcx, r.rsp = sc.rsp, r.rip = sc.rip;
    // The flags the program had at its `syscall` (R11), with the
    // FIX_EFLAGS bits from the frame.
    bad_selector = sigreturn_bad_selector(sc.cs, sc.ss, f.uc.uc_flags);
    uint64_t user_flags = (cur.r11 & 0x3c7fd7) | 0x202;
    r.rflags = (user_flags & ~kFixEflags) | (sc.eflags & kFixEflags);
    ok = restore_fpu(mm, *t.vcpu, sc.fpstate);
    if (ok) {
      t.vcpu->mutable_regs() = r;
      // restore_altstack: do_sigaltstack with the restored stack pointer;
      // its errors other than EFAULT are ignored.
      const GuestStack& ss = f.uc.uc_stack;
      int mode = ss.flags & ~static_cast<int>(SS_AUTODISARM);
      bool same =
          t.altstack_sp == ss.sp && t.altstack_size == ss.size && t.altstack_flags == ss.flags;
      if (!same && !on_altstack(t, r.rsp) &&
          (mode == SS_DISABLE || mode == SS_ONSTACK || mode == 0)) {
        if (mode == SS_DISABLE) {
          t.altstack_sp = 0, t.altstack_size = 0, t.altstack_flags = SS_DISABLE;
        } else if (ss.size >= 2048 /* MINSIGSTKSZ */) {
          t.altstack_sp = ss.sp, t.altstack_size = ss.size, t.altstack_flags = ss.flags;
        }
      }
    }
  }
  signals_sync_host_mask(t);
  if (ok && bad_selector) {
    // The IRET to the restored context faults (#GP, the bad selector as
    // its error code): force_sig(SIGSEGV), SI_KERNEL, delivered from the
    // restored registers.
    const GuestSigaction& segv = ctx.proc.sigactions[SIGSEGV - 1];
    if (segv.handler <= kSigIgn || (t.sigmask & sigbit(SIGSEGV)))
      die_undeliverable(SIGSEGV, "rt_sigreturn to a bad CS or SS");
    t.signals.trapno = 13;
    t.signals.err = bad_selector & 0xfffc;
    t.signals.cr2 = 0;
    record_signal(t.signals, SIGSEGV, kernel_info(SIGSEGV, SI_KERNEL, 0));
  }
  if (!ok) {
    // signal_fault: force_sig(SIGSEGV).
    const GuestSigaction& segv = ctx.proc.sigactions[SIGSEGV - 1];
    if (segv.handler <= kSigIgn || (t.sigmask & sigbit(SIGSEGV)))
      die_undeliverable(SIGSEGV, "bad frame in rt_sigreturn");
    record_signal(t.signals, SIGSEGV, kernel_info(SIGSEGV, SI_KERNEL, 0));
    // The registers still say "after the syscall": let delivery start there.
    GuestRegs& m = t.vcpu->mutable_regs();
    m.rip = m.rcx;
    m.rflags = (m.r11 & 0x3c7fd7) | 0x2;
  }
  return 0;
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
