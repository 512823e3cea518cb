// The guest's signal frame: the rt_sigframe a handler runs on (the
// sigcontext, the FPU state, the alternate stack), and rt_sigreturn, which
// takes the context back from it. What Linux does in
// arch/x86/kernel/signal.c, signal_64.c and arch/x86/kernel/fpu/signal.c,
// done by the host on the guest's memory and registers. Which signal is
// delivered, and when, is signal.cc's.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "abi/linux.h"
#include "base/log.h"
#include "kernel/process.h"
#include "kernel/signal.h"
#include "kernel/signal_internal.h"

namespace elfuse {

using namespace signal_internal;

namespace {

// ------------------------------------------------------------ constants

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

}  // namespace

namespace signal_internal {

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

}  // namespace signal_internal

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

}  // namespace elfuse
