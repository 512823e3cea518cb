// Hardware backend (Intel VMX, AMD SVM): see hw_vm.h and
// docs/internals.md, "Two backends".
#include "hv/hw/hw_vm.h"

#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "abi/linux.h"
#include "base/log.h"
#include "hv/hw/hw_logic.h"
#include "mm/page_tables.h"
#include "shim/shim_abi.h"

extern "C" const char shim_super_start[], shim_super_end[], shim_hw_syscall[], shim_hw_sysret[],
    shim_hw_iret_flush[], shim_hw_iret[], shim_hw_iretq[];

namespace elfuse {
namespace {

uint64_t super_va(uint64_t off) {
  return SHIM_SUPER_BASE + off;
}

constexpr uint64_t kKernelFlags = 0x2;  // the shim runs with IF clear
// What SYSRET loads from R11 (Intel SDM SYSRET: R11 & 3C7FD7H | 2).
constexpr uint64_t kSysretFlags = 0x3c7fd7;
constexpr uint64_t kRf = 0x10000;

using hw::kUserVaEnd;
using hw::user_flags;

GuestRegs& as_guest(kvm_regs& r) {
  static_assert(sizeof(GuestRegs) == sizeof(kvm_regs));
  return *reinterpret_cast<GuestRegs*>(&r);
}

hw::ShimEntries shim_entries() {
  return {shim_super_va_of(shim_hw_syscall), shim_super_va_of(shim_hw_sysret),
          shim_super_va_of(shim_hw_iret_flush), shim_super_va_of(shim_hw_iret),
          shim_super_va_of(shim_hw_iretq)};
}

}  // namespace

// ---------------------------------------------------------------- logic

namespace hw {

Return choose_return(const GuestRegs& v, bool flush) {
  if (flush) return Return::kIretFlush;
  uint64_t rflags = user_flags(v.rflags);
  if (v.rip == v.rcx && v.rip < kUserVaEnd && ((v.r11 & kSysretFlags) | 0x2) == rflags &&
      !(rflags & kRf))
    return Return::kSysret;
  return Return::kIret;
}

StopPlace stop_place(uint64_t rip, uint64_t super_base, const ShimEntries& e) {
  if (rip < super_base) return StopPlace::kUser;
  if (rip == e.syscall) return StopPlace::kSyscallEntry;
  if (rip == e.sysret) return StopPlace::kSysret;
  if (rip >= e.iret_flush && rip <= e.iret) return StopPlace::kIretBeforePop;
  if (rip == e.iretq) return StopPlace::kIretq;
  return StopPlace::kOther;
}

bool user_view(StopPlace place, const uint64_t frame[6], GuestRegs& r) {
  switch (place) {
    case StopPlace::kUser:
      return true;
    case StopPlace::kSyscallEntry:
      // The `syscall` instruction (2 bytes before RCX) runs again; RCX and
      // R11 are what it will set anyway.
      r.rip = r.rcx - 2;
      r.rflags = user_flags(r.r11);
      return true;
    case StopPlace::kSysret:
      r.rip = r.rcx;
      r.rflags = user_flags(r.r11);
      return true;
    case StopPlace::kIretBeforePop:
    case StopPlace::kIretq:
      if (place == StopPlace::kIretBeforePop) r.rax = frame[0];
      r.rip = frame[1];
      r.rflags = user_flags(frame[3]);
      r.rsp = frame[4];
      return true;
    case StopPlace::kOther:
      break;
  }
  return false;
}

bool page_fault_is_stale(const uint8_t* mem, uint64_t size, uint64_t cr3, uint64_t va,
                         uint64_t error_code) {
  if (error_code & 8) return false;  // reserved bit: never stale
  if (va >= kUserVaEnd) return false;
  bool write = error_code & 2, fetch = error_code & 16;
  uint64_t table = cr3;
  for (int level = 0; level < 4; level++) {
    uint64_t pa = (table & pte::kAddrMask) + ((va >> (39 - 9 * level)) & 511) * 8;
    if (pa > size || size - pa < 8) return false;
    uint64_t e;
    memcpy(&e, mem + pa, 8);
    if (!(e & pte::kPresent) || !(e & pte::kUser)) return false;
    if (write && !(e & pte::kWrite)) return false;
    if (fetch && (e & pte::kNx)) return false;
    // PS: a 1 GiB or 2 MiB leaf. elfuse writes none (4 KiB leaves only),
    // but the walk is the architecture's.
    constexpr uint64_t kPs = 1ull << 7;
    if ((level == 1 || level == 2) && (e & kPs)) return true;
    table = e;
  }
  return true;
}

}  // namespace hw

// ---------------------------------------------------------------- VM

// QEMU's TCG (the SVM lane) names itself in the hypervisor CPUID leaf.
bool HwVm::under_tcg() {
  static const bool tcg = [] {
    uint32_t a = 0x40000000, b = 0, c = 0, d = 0;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
    char sig[13] = {};
    memcpy(sig, &b, 4);
    memcpy(sig + 4, &c, 4);
    memcpy(sig + 8, &d, 4);
    return strcmp(sig, "TCGTCGTCGTCG") == 0;
  }();
  return tcg;
}

// With no user stub page the user range is Linux's own.
static_assert(SHIM_HW_TASK_SIZE == kTaskSizeMax);
uint64_t HwVm::task_size() const {
  return SHIM_HW_TASK_SIZE;
}

Result<void> HwVm::install_shim(PageTables& pt) {
  size_t klen = shim_super_end - shim_super_start;
  if (klen > 4096) fatal("shim larger than a page");
  uint8_t* mem = memory();
  root_ = pt.root();
  memset(mem, 0, SHIM_SUPER_SIZE);
  memcpy(mem + SHIM_OFF_KCODE, shim_super_start, klen);
  // GDT, TSS, IDT; every exception on IST 1, the vCPU slot's stack, but
  // the double fault, on IST 2.
  write_descriptor_tables(1, 2);
  // Supervisor pages only (no U bit): no syscall entry, process page or
  // request page in user space (Vcpu::entry() and Vm::process_page() are
  // nullptr: every syscall exits).
  TRY(pt.map(SHIM_SUPER_BASE, 0, SHIM_OFF_UPROC, PROT_READ | PROT_WRITE | PROT_EXEC, false));
  TRY(pt.map(SHIM_SUPER_BASE + SHIM_OFF_VCPUS, SHIM_OFF_VCPUS, SHIM_MAX_VCPUS * SHIM_VCPU_SLOT,
             PROT_READ | PROT_WRITE, false));
  return Ok();
}

// RSP0 and IST1 = the top of the vCPU's slot, IST2 (the double fault's)
// its middle; no I/O bitmap.
void HwVm::init_tss(int id) {
  uint8_t* tss = memory() + SHIM_VCPU_TSS(id);
  uint64_t top = super_va(SHIM_VCPU_KSTACK_TOP(id));
  uint64_t df_top = super_va(SHIM_HW_DF_STACK_TOP(id));
  memcpy(tss + 4, &top, 8);        // RSP0
  memcpy(tss + 0x24, &top, 8);     // IST1
  memcpy(tss + 0x2c, &df_top, 8);  // IST2
  uint16_t iomap = 0x68;
  memcpy(tss + 0x66, &iomap, 2);
}

std::unique_ptr<KvmVcpu> HwVm::make_vcpu(UniqueFd fd, kvm_run* run, size_t run_size, int id) {
  return std::make_unique<HwVcpu>(*this, std::move(fd), run, run_size, id);
}

// Linux's flush_tlb_mm_range in spirit: bump the generation every vCPU
// compares before it enters the guest (HwVcpu::before_entry reloads CR3
// when it moved), then make each vCPU that is inside KVM_RUN leave it, and
// wait until it has. When this returns, no vCPU runs user code with a
// translation older than the page tables. The calling thread's own vCPU is
// at an exit, so it is not running. With nested paging KVM needs nothing
// for the host's side: the guest's tables are ordinary guest memory, and
// MADV_DONTNEED goes through KVM's MMU notifier.
void HwVm::invalidate(uint64_t pa, uint64_t len, bool contents_dead) {
  if (len == 0 || pa >= memory_size() || len > memory_size() - pa) return;
  if (contents_dead) madvise(memory() + pa, len, MADV_DONTNEED);
  tlb_gen_.fetch_add(1, std::memory_order_seq_cst);
  std::lock_guard lock(vcpu_mu_);
  for (KvmVcpu* v : all_) {
    if (!v->running()) continue;
    uint64_t seen = v->exits();
    v->kick();
    while (v->running() && v->exits() == seen) {
      timespec ts{0, 20000};
      nanosleep(&ts, nullptr);
    }
  }
}

// ---------------------------------------------------------------- vCPU

HwVcpu::HwVcpu(HwVm& vm, UniqueFd fd, kvm_run* run, size_t run_size, int id)
    : KvmVcpu(vm, std::move(fd), run, run_size, id) {}

HwVm& HwVcpu::hw_vm() const {
  return static_cast<HwVm&>(vm_);
}

uint64_t HwVcpu::syscall_entry() const {
  return shim_super_va_of(shim_hw_syscall);
}

// The program starts in user mode with every GPR zero (ELF_PLAT_INIT),
// reached through the IRETQ return like any other.
Result<void> HwVcpu::boot(const VcpuStart& start) {
  kvm_regs r{};
  r.rip = start.entry;
  r.rsp = start.rsp;
  r.rflags = 0x202;
  load_regs(r);
  stop_ = Stop::kShim;
  flushed_gen_ = hw_vm().tlb_gen();
  return Ok();
}

std::vector<uint8_t> HwVcpu::save_extra() const {
  return {static_cast<uint8_t>(stop_)};
}

// A state saved at a syscall exit (fork, a new thread): the user view, to
// be entered through the shim's return.
Result<void> HwVcpu::restore_extra(const uint8_t* extra, size_t len) {
  if (len != 1 || extra[0] > static_cast<uint8_t>(Stop::kShim)) return Errno{EINVAL};
  stop_ = static_cast<Stop>(extra[0]);
  // The state may come from another VM's vCPU (fork): flush to be sure.
  force_flush_ = true;
  // A reused vCPU (its thread ended) may still hold an event KVM would
  // re-inject; the saved state, taken at a syscall exit, has none.
  kvm_vcpu_events ev{};
  if (ioctl(fd_.get(), KVM_SET_VCPU_EVENTS, &ev) < 0) return Errno{errno};
  return Ok();
}

void HwVcpu::finish_syscall(int64_t result) {
  GuestRegs& r = mutable_regs();
  r.rax = static_cast<uint64_t>(result);
  // As SYSRET leaves them: RFLAGS from R11, only the flags user code may
  // hold (R11 may come from a restored state rather than from `syscall`),
  // RIP = RCX (the syscall exit's view has it already).
  r.rflags = user_flags(r.r11);
  r.rip = r.rcx;
}

bool HwVcpu::at_user_boundary() const {
  return stop_ != Stop::kRaw;
}

Result<void> HwVcpu::set_fault_return(uint64_t rip, uint64_t rsp, uint64_t rflags) {
  if (stop_ == Stop::kRaw) return Errno{EFAULT};
  GuestRegs& r = mutable_regs();
  r.rip = rip;
  r.rsp = rsp;
  r.rflags = user_flags(rflags);
  return Ok();
}

// Turns the user view into the CPU state that reaches it: SYSRET when the
// view is what SYSRET gives (RIP = RCX, RFLAGS from R11) and no TLB flush is
// due, else IRETQ through a frame in the vCPU's slot, reloading CR3 first
// when the page tables changed since this vCPU's last flush. Runs with
// running() set, so a shootdown that bumps the generation after the load
// below waits for this KVM_RUN to end.
void HwVcpu::before_entry() {
  if (hw_vm().sync_sregs()) run_->kvm_valid_regs |= KVM_SYNC_X86_SREGS;
  if (stop_ == Stop::kRaw) return;
  uint64_t gen = hw_vm().tlb_gen();
  bool flush = force_flush_ || gen != flushed_gen_;
  if (stop_ == Stop::kUser && !flush) {
    // The CPU is at CPL 3: registers the host changed take effect as they
    // are, but RFLAGS only with the user's flags.
    if (run_->kvm_dirty_regs & KVM_SYNC_X86_REGS)
      run_->s.regs.regs.rflags = user_flags(run_->s.regs.regs.rflags);
    return;
  }
  // From user mode, the way to the flush is through CPL 0 (a kick stopped
  // the vCPU in user code after another thread changed the page tables).
  if (stop_ == Stop::kUser && !enter_cpl0().ok()) fatal("cannot switch the vCPU to CPL 0");
  kvm_regs& r = run_->s.regs.regs;
  uint64_t rflags = user_flags(r.rflags);
  hw::Return how = hw::choose_return(as_guest(r), flush);
  if (how == hw::Return::kSysret) {
    r.rip = shim_super_va_of(shim_hw_sysret);
  } else {
    uint64_t off = SHIM_HW_IRET_FRAME(static_cast<uint64_t>(id()));
    uint64_t frame[6] = {r.rax, r.rip, SHIM_USER_CS, rflags, r.rsp, SHIM_USER_DS};
    memcpy(vm_.memory() + off, frame, sizeof frame);
    r.rsp = super_va(off);
    r.rip = shim_super_va_of(flush ? shim_hw_iret_flush : shim_hw_iret);
    if (flush) {
      flushed_gen_ = gen;
      force_flush_ = false;
    }
  }
  r.rflags = kKernelFlags;
  run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
  stop_ = Stop::kShim;
}

void HwVcpu::after_run(int r, int err) {
  if ((run_->kvm_valid_regs & KVM_SYNC_X86_SREGS) && r == 0 &&
      run_->exit_reason != KVM_EXIT_SHUTDOWN)
    last_cr3_ = run_->s.regs.sregs.cr3;
  if (r < 0 || run_->exit_reason != KVM_EXIT_IO ||
      (run_->io.port != SHIM_PORT_SYSCALL && run_->io.port != SHIM_PORT_FAULT))
    classify();
}

void HwVcpu::classify() {
  kvm_regs& r = run_->s.regs.regs;
  // An exception (or interrupt) the CPU was delivering when KVM_RUN stopped
  // (a kick during the IDT/IST push) is re-injected at the next entry, at
  // whatever RIP and CPL the vCPU then has. RIP still names the faulting
  // user instruction, but changing it would deliver that exception to the
  // wrong place (a user #PF taken at CPL 0 in a return stub): let the
  // delivery finish first; its stub exits within a few instructions.
  kvm_vcpu_events ev{};
  if (ioctl(fd_.get(), KVM_GET_VCPU_EVENTS, &ev) == 0 &&
      (ev.exception.injected || ev.exception.pending || ev.interrupt.injected || ev.nmi.injected)) {
    stop_ = Stop::kRaw;
    return;
  }
  hw::StopPlace place = hw::stop_place(r.rip, SHIM_SUPER_BASE, shim_entries());
  uint64_t frame[6] = {};
  if (place == hw::StopPlace::kIretBeforePop || place == hw::StopPlace::kIretq) {
    // The frame this vCPU's before_entry wrote; after the pop, RSP is past
    // RAX's word and RAX is the user's.
    memcpy(frame, vm_.memory() + SHIM_HW_IRET_FRAME(static_cast<uint64_t>(id())), sizeof frame);
    // A flush maybe not yet done: doing it again costs nothing.
    if (r.rip < shim_super_va_of(shim_hw_iret)) force_flush_ = true;
  }
  if (!hw::user_view(place, frame, as_guest(r))) {
    stop_ = Stop::kRaw;
    return;
  }
  stop_ = place == hw::StopPlace::kUser ? Stop::kUser : Stop::kShim;
}

HwVcpu::FaultAction HwVcpu::decode_fault(VcpuExit& e) {
  // The stub's frame at the top of the IST stack: vector, error code, rip,
  // cs, rflags, rsp, ss. RSP is where the CPU and the stub put it.
  kvm_regs& r = run_->s.regs.regs;
  uint64_t top = SHIM_VCPU_KSTACK_TOP(static_cast<uint64_t>(id()));
  if (r.rsp == super_va(SHIM_HW_DF_STACK_TOP(static_cast<uint64_t>(id())) - 56)) {
    e = {ExitKind::kFatal, {}, double_fault_report()};
    return FaultAction::kFatal;
  }
  if (r.rsp != super_va(top - 56)) {
    e = {ExitKind::kFatal, {}, "exception exit with a bad kernel stack"};
    return FaultAction::kFatal;
  }
  uint64_t frame[7];
  memcpy(frame, vm_.memory() + top - 56, sizeof frame);
  if ((frame[3] & 3) != 3) {
    if (frame[0] == 1 && frame[2] == shim_super_va_of(shim_hw_syscall)) {
      // The single-step trap of a `syscall` executed with TF set, taken at
      // the entry's first instruction (TF is clear there): the user's own
      // #DB comes after the return, with TF back from R11. Continue the
      // entry.
      r.rip = frame[2];
      r.rsp = frame[5];
      r.rflags = frame[4];
      run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
      stop_ = Stop::kRaw;
      return FaultAction::kResume;
    }
    char what[160];
    Result<uint64_t> cr2_now = cr2();
    snprintf(what, sizeof what,
             "exception %llu (error code %#llx) inside the shim at rip %#llx, rsp %#llx, cr2 %#llx",
             static_cast<unsigned long long>(frame[0]), static_cast<unsigned long long>(frame[1]),
             static_cast<unsigned long long>(frame[2]), static_cast<unsigned long long>(frame[5]),
             static_cast<unsigned long long>(cr2_now.ok() ? cr2_now.value() : 0));
    e = {ExitKind::kFatal, {}, what};
    return FaultAction::kFatal;
  }
  // The view: the user's context at the fault.
  r.rip = frame[2];
  r.rflags = user_flags(frame[4]);
  r.rsp = frame[5];
  stop_ = Stop::kShim;
  e = {ExitKind::kFault, fault_from_stub_frame(frame), {}};
  if (e.fault.vector == 14) {
    kvm_sregs s;
    if (ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) {
      e = {ExitKind::kFatal, {}, std::string("KVM_GET_SREGS: ") + strerror(errno)};
      return FaultAction::kFatal;
    }
    e.fault.address = s.cr2;
    // A translation cached before the host widened the mapping (R -> RW,
    // NX -> X) faults once; the fault itself dropped it (Intel SDM 4.10.4.3,
    // "optional invalidation"). Linux retries the access; so does this,
    // with a flush. After the flush the walk cannot fail again unless the
    // tables changed once more: many stale faults in a row without any
    // other exit mean this walk disagrees with the CPU's, and the fault is
    // reported rather than retried for ever.
    if (hw::page_fault_is_stale(vm_.memory(), vm_.memory_size(), s.cr3, s.cr2, frame[1]) &&
        stale_resumes_ < 64) {
      stale_resumes_++;
      force_flush_ = true;
      return FaultAction::kResume;
    }
  }
  stale_resumes_ = 0;
  return FaultAction::kReport;
}

// A double fault: an exception while another was being delivered (its
// frame could not be pushed, or its gate or stack was unusable). The
// frame on IST 2 names where the CPU was (architecturally undefined RIP,
// in practice the instruction that faulted first); the IST 1 area holds
// what the first delivery managed to push, and CR2 the address of a #PF.
std::string HwVcpu::double_fault_report() {
  uint64_t i = static_cast<uint64_t>(id());
  uint64_t df[7], ist1[7];
  memcpy(df, vm_.memory() + SHIM_HW_DF_STACK_TOP(i) - 56, sizeof df);
  memcpy(ist1, vm_.memory() + SHIM_VCPU_KSTACK_TOP(i) - 56, sizeof ist1);
  kvm_sregs s{};
  bool have = ioctl(fd_.get(), KVM_GET_SREGS, &s) == 0;
  char what[512];
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  snprintf(what, sizeof what,
           "double fault on vCPU %d at rip %#llx cs %#llx rflags %#llx rsp %#llx ss %#llx; cr2 "
           "%#llx cr3 %#llx; IST 1 area [vector %llu, error code %#llx, rip %#llx, cs %#llx, "
           "rflags %#llx, rsp %#llx, ss %#llx]",
           id(), u(df[2]), u(df[3]), u(df[4]), u(df[5]), u(df[6]), u(have ? s.cr2 : 0),
           u(have ? s.cr3 : 0), u(ist1[0]), u(ist1[1]), u(ist1[2]), u(ist1[3]), u(ist1[4]),
           u(ist1[5]), u(ist1[6]));
  return what;
}

VcpuExit HwVcpu::run() {
  for (;;) {
    // A return to a RIP IRETQ cannot load (non-canonical) is Linux's
    // #GP on the way out: the program's SIGSEGV.
    if (stop_ != Stop::kRaw && regs().rip >= kUserVaEnd) {
      VcpuExit e{ExitKind::kFault, {}, {}};
      e.fault.vector = 13;
      e.fault.rip = regs().rip;
      e.fault.rsp = regs().rsp;
      e.fault.rflags = regs().rflags;
      return e;
    }
    int err;
    int r = enter(&err);
    if (r < 0) {
      stale_resumes_ = 0;
      return exit_from_error(err);
    }
    if (run_->exit_reason == KVM_EXIT_IO && run_->io.direction == KVM_EXIT_IO_OUT) {
      kvm_regs& g = run_->s.regs.regs;
      if (run_->io.port == SHIM_PORT_SYSCALL && g.rip == shim_super_va_of(shim_hw_syscall)) {
        // The view: the user's context after the syscall. The host's
        // finish_syscall sets RAX and RFLAGS.
        g.rip = g.rcx;
        g.rflags = user_flags(g.r11);
        stop_ = Stop::kShim;
        stale_resumes_ = 0;
        return {ExitKind::kSyscall, {}, {}};
      }
      if (run_->io.port == SHIM_PORT_FAULT) {
        VcpuExit e{ExitKind::kFault, {}, {}};
        switch (decode_fault(e)) {
          case FaultAction::kReport:
          case FaultAction::kFatal:
            return e;
          case FaultAction::kResume:
            continue;
        }
      }
    }
    if (run_->exit_reason == KVM_EXIT_SHUTDOWN) {
      // KVM re-initialised the vCPU: what the page tables say now about
      // the shim's code page, from the CR3 of the last exit and the root.
      std::string walk;
      auto show = [&](const char* what, uint64_t cr3) {
        char b[256];
        uint64_t va = shim_super_va_of(shim_hw_sysret), table = cr3;
        int n = snprintf(b, sizeof b, " %s %#llx:", what, static_cast<unsigned long long>(cr3));
        for (int level = 0; level < 4 && n < 200; level++) {
          uint64_t pa = (table & pte::kAddrMask) + ((va >> (39 - 9 * level)) & 511) * 8, e = 0;
          if (pa + 8 <= vm_.memory_size()) memcpy(&e, vm_.memory() + pa, 8);
          n += snprintf(b + n, sizeof b - n, " %#llx", static_cast<unsigned long long>(e));
          table = e;
        }
        walk += b;
      };
      show("last cr3", last_cr3_);
      show("root", hw_vm().root());
      VcpuExit e = exit_unexpected();
      e.detail += ";" + walk;
      return e;
    }
    return exit_unexpected();
  }
}

}  // namespace elfuse
