// PVM backend: VM and vCPU setup following the measured recipe in
// shared/pvm/README.md (section 2), and the exit decoding for the shim
// protocol (src/shim/shim_abi.h). The KVM plumbing is hv/kvm_vm.cc.
#include "hv/pvm/pvm_vm.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "mm/page_tables.h"
#include "shim/shim_abi.h"

extern "C" const char shim_entry_start[], shim_entry_end[], shim_entry_resume_trap[],
    shim_entry_resume_taken_back[], shim_entry_resume_claimed[], shim_entry_resume_answered[],
    shim_entry_epilogue[], shim_entry_epilogue_stack[], shim_entry_epilogue_done[],
    shim_entry_epilogue_end[], shim_super_start[], shim_super_end[], shim_boot[];

namespace elfuse {
namespace {

uint64_t super_va(uint64_t off) {
  return SHIM_SUPER_BASE + off;
}
uint64_t entry_off(const char* sym) {
  return static_cast<uint64_t>(sym - shim_entry_start);
}

}  // namespace

// ---------------------------------------------------------------- VM

PvmVm::PvmVm(UniqueFd kvm, UniqueFd vm, uint8_t* memory, uint64_t size)
    : KvmVm(std::move(kvm), std::move(vm), memory, size), process_page_(memory + SHIM_OFF_UPROC) {}

Result<void> PvmVm::map_host_readonly(uint64_t gpa, const void* host, uint64_t len) {
  return add_host_window(gpa, host, len);
}

Result<void> PvmVm::install_shim(PageTables& pt) {
  size_t ulen = shim_entry_end - shim_entry_start;
  size_t klen = shim_super_end - shim_super_start;
  if (ulen > SHIM_E_DATA || klen > 4096) fatal("shim larger than a page");
  uint8_t* mem = memory();
  memset(mem, 0, SHIM_SUPER_SIZE);
  memcpy(mem + SHIM_OFF_KCODE, shim_super_start, klen);
  // Nothing answered in the guest until the host says so (kernel/exitless).
  process_page_.set_pid(-1);
  process_page_.set_ppid(-1);
  process_page_.futex_waiters().store(GuestProcessPage::kFutexHostOnly);
  // GDT, TSS, IDT; exceptions on the TSS's RSP0 stack (no IST).
  write_descriptor_tables(0, 0);

  // Supervisor pages (no U bit), the per-vCPU TSS and stack slots; the
  // user pages: the process page (R), the doorbell, every vCPU's entry
  // (R+X) and request page (RW). All are mapped now: a vCPU made later
  // only fills its two pages.
  TRY(pt.map(SHIM_SUPER_BASE, 0, SHIM_OFF_UPROC, PROT_READ | PROT_WRITE | PROT_EXEC, false));
  TRY(pt.map(SHIM_SUPER_BASE + SHIM_OFF_VCPUS, SHIM_OFF_VCPUS, SHIM_MAX_VCPUS * SHIM_VCPU_SLOT,
             PROT_READ | PROT_WRITE, false));
  TRY(pt.map(SHIM_USER_PROC, SHIM_OFF_UPROC, 4096, PROT_READ, true));
  TRY(pt.map(SHIM_USER_MMIO, SHIM_MMIO_GPA, 4096, PROT_READ | PROT_WRITE, true));
  TRY(pt.map(SHIM_USER_ENTRY(0), SHIM_OFF_UENTRY(0), SHIM_MAX_VCPUS * 4096ull,
             PROT_READ | PROT_EXEC, true));
  TRY(pt.map(SHIM_USER_REQ(0), SHIM_OFF_UREQ(0), SHIM_MAX_VCPUS * 4096ull, PROT_READ | PROT_WRITE,
             true));
  return Ok();
}

// This vCPU's TSS: RSP0 = the top of its kernel stack; no I/O bitmap.
void PvmVm::init_tss(int id) {
  uint8_t* tss = memory() + SHIM_VCPU_TSS(id);
  uint64_t rsp0 = super_va(SHIM_VCPU_KSTACK_TOP(id));
  memcpy(tss + 4, &rsp0, 8);
  uint16_t iomap = 0x68;
  memcpy(tss + 0x66, &iomap, 2);
}

std::unique_ptr<KvmVcpu> PvmVm::make_vcpu(UniqueFd fd, kvm_run* run, size_t run_size, int id) {
  return std::make_unique<PvmVcpu>(*this, std::move(fd), run, run_size, id);
}

// Shadow paging: a host store to a present guest PTE is not seen by vCPUs
// until KVM drops its shadow entries for the old frame. An MMU notifier on
// the frame's host address does that (shared/pvm/README.md, section 7):
// MADV_DONTNEED when the contents are dead, else an mprotect round trip.
void PvmVm::invalidate(uint64_t pa, uint64_t len, bool contents_dead) {
  if (len == 0) return;
  if (const HostWindow* w = host_window(pa)) {
    // Host pages elfuse must not touch (the kernel's [vvar]): deleting the
    // memslot drops every shadow entry of it; it comes back at once. A
    // vCPU that loads from it in between takes an MMIO exit, answered
    // from the host pages (answer_host_window_load).
    (void)set_host_window_slot(*w, false);
    (void)set_host_window_slot(*w, true);
    return;
  }
  if (pa >= memory_size() || len > memory_size() - pa) return;
  uint8_t* host = memory() + pa;
  if (contents_dead) {
    madvise(host, len, MADV_DONTNEED);
    return;
  }
  // The PROT_READ window makes a concurrent guest store to these frames on
  // another vCPU fail KVM_RUN with EFAULT (shared/pvm/README.md 7.3): the
  // generation tells PvmVcpu::run to retry it.
  reprotect_begin();
  mprotect(host, len, PROT_READ);
  mprotect(host, len, PROT_READ | PROT_WRITE);
  reprotect_end();
}

// ---------------------------------------------------------------- vCPU

// A new vCPU's syscall entry: the code, then nothing answered, nothing
// allowed.
PvmVcpu::PvmVcpu(PvmVm& vm, UniqueFd fd, kvm_run* run, size_t run_size, int id)
    : KvmVcpu(vm, std::move(fd), run, run_size, id),
      entry_(vm.memory() + SHIM_OFF_UENTRY(id), vm.memory() + SHIM_OFF_UREQ(id)) {
  memcpy(vm.memory() + SHIM_OFF_UENTRY(id), shim_entry_start, shim_entry_end - shim_entry_start);
  entry_.clear();
  // The guest's TSC rate, for the entry's wait (the same for every vCPU of
  // this host: asked once).
  static const int khz = ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
  entry_.set_tsc_khz(khz > 0 ? static_cast<uint64_t>(khz) : 0);
}

void PvmVcpu::reuse() {
  entry_.clear();
}

uint64_t PvmVcpu::entry_va(const char* sym) const {
  return SHIM_USER_ENTRY(static_cast<uint64_t>(id())) + entry_off(sym);
}
bool PvmVcpu::in_entry(uint64_t rip) const {
  uint64_t base = SHIM_USER_ENTRY(static_cast<uint64_t>(id()));
  return rip >= base && rip < base + entry_off(shim_entry_end);
}

uint64_t PvmVcpu::tss_off() const {
  return SHIM_VCPU_TSS(static_cast<uint64_t>(id()));
}
uint64_t PvmVcpu::kstack_top() const {
  return SHIM_VCPU_KSTACK_TOP(static_cast<uint64_t>(id()));
}

// This vCPU's own copy of the entry: PVM lands a user `syscall` at LSTAR
// still at CPL 3.
uint64_t PvmVcpu::syscall_entry() const {
  return entry_va(shim_entry_start);
}

// The boot stub `iretq`s to the program's entry through a frame on the
// kernel stack; every GPR is zero, as Linux's ELF_PLAT_INIT leaves them.
Result<void> PvmVcpu::boot(const VcpuStart& start) {
  uint64_t frame[5] = {start.entry, SHIM_USER_CS, 0x202, start.rsp, SHIM_USER_DS};
  uint64_t frame_off = kstack_top() - sizeof frame;
  memcpy(vm_.memory() + frame_off, frame, sizeof frame);
  kvm_regs r{};
  r.rip = shim_super_va_of(shim_boot);
  r.rsp = super_va(frame_off);
  r.rflags = 0x2;
  if (ioctl(fd_.get(), KVM_SET_REGS, &r) < 0) return Errno{errno};
  // The sync area mirrors the registers from now on (a dirty write-back
  // before the first exit must not load zeros).
  load_regs(r);
  return Ok();
}

namespace {
// SYSRET: RFLAGS comes back from R11. R11 is guest-controlled (code can
// jump straight to the entry), so only flags user code may change itself
// pass (arithmetic, TF, DF, AC, NT, ID); IF stays set and IOPL stays 0, as
// on Linux.
uint64_t sysret_flags(uint64_t r11) {
  constexpr uint64_t kUserFlags = 0xdd5 | 0x4000 | 0x40000 | 0x200000;
  return (r11 & kUserFlags) | 0x202;
}
}  // namespace

void PvmVcpu::finish_syscall(int64_t result) {
  GuestRegs& r = mutable_regs();
  r.rax = static_cast<uint64_t>(result);
  r.rflags = sysret_flags(r.r11);
  // The entry's `jmp *%rcx`, done here: the guest resumes at the return
  // address, outside the entry.
  r.rip = r.rcx;
}

// shim.S: from shim_entry_epilogue on, RAX holds the final result and the
// return needs only RSP (saved in the request page once the entry switched
// to its own stack), RFLAGS (from R11) and RIP (RCX): done here, the vCPU
// is at the user's instruction and a signal can be delivered at once.
// Anywhere else in the entry the call is not complete: SHIM_E_EXIT_REQ
// makes the entry take the doorbell at its next check (its wait loop, or
// before the return), and the exit that follows delivers.
void PvmVcpu::settle_in_entry() {
  const GuestRegs& cur = regs();
  uint64_t rip = cur.rip;
  if (rip >= entry_va(shim_entry_epilogue) && rip < entry_va(shim_entry_epilogue_end)) {
    GuestRegs& r = mutable_regs();
    if (rip >= entry_va(shim_entry_epilogue_stack) && rip < entry_va(shim_entry_epilogue_done)) {
      uint64_t sp;
      memcpy(&sp, vm_.memory() + SHIM_OFF_UREQ(id()) + SHIM_R_SAVE_RSP, sizeof sp);
      r.rsp = sp;
    }
    r.rflags = sysret_flags(r.r11);
    r.rip = r.rcx;
    return;
  }
  // A doorbell's `jmp *%rcx` (only reached when guest code jumps there).
  if (rip == entry_va(shim_entry_resume_trap) || rip == entry_va(shim_entry_resume_taken_back) ||
      rip == entry_va(shim_entry_resume_claimed) || rip == entry_va(shim_entry_resume_answered)) {
    mutable_regs().rip = cur.rcx;
    return;
  }
  reinterpret_cast<std::atomic<uint32_t>*>(vm_.memory() + SHIM_OFF_UENTRY(id()) + SHIM_E_EXIT_REQ)
      ->store(1, std::memory_order_seq_cst);
  exit_requested_ = true;
}

VcpuExit PvmVcpu::run() {
  // A return to a non-canonical RIP (a signal handler or a sigreturn
  // frame that names one) is Linux's #GP on the way out of the kernel:
  // the program's SIGSEGV, as HwVcpu::run gives it. It is not left to
  // what PVM's switcher does with such a RIP (gVisor's
  // SigIretTest.BadHandler hung on this backend).
  if (const uint64_t rip = regs().rip;
      static_cast<uint64_t>(static_cast<int64_t>(rip << 16) >> 16) != rip) {
    VcpuExit f{ExitKind::kFault, {}, {}};
    f.fault.vector = 13;
    f.fault.rip = rip;
    f.fault.rsp = regs().rsp;
    f.fault.rflags = regs().rflags;
    return f;
  }
  VcpuExit e = run_once();
  if (e.kind == ExitKind::kInterrupted && in_entry(regs().rip)) {
    settle_in_entry();
  } else if (exit_requested_) {
    reinterpret_cast<std::atomic<uint32_t>*>(vm_.memory() + SHIM_OFF_UENTRY(id()) + SHIM_E_EXIT_REQ)
        ->store(0, std::memory_order_relaxed);
    exit_requested_ = false;
  }
  return e;
}

VcpuExit PvmVcpu::run_once() {
  int err;
  int r = enter(&err);
  if (r < 0) return exit_from_error(err);
  switch (run_->exit_reason) {
    case KVM_EXIT_MMIO:
      if (answer_host_window_load()) return run_once();  // rare: see PvmVm::invalidate
      return exit_from_mmio();
    case KVM_EXIT_IO:
      if (run_->io.port == SHIM_PORT_FAULT) return exit_from_fault_port();
      break;
    default:
      break;
  }
  return exit_unexpected();
}

VcpuExit PvmVcpu::exit_from_mmio() {
  const GuestRegs& r = regs();
  uint64_t gpa = run_->mmio.phys_addr;
  bool doorbell = gpa >= SHIM_MMIO_GPA && gpa < SHIM_MMIO_GPA + 4096;
  if (doorbell && run_->mmio.is_write) {
    if (r.rip == entry_va(shim_entry_resume_trap))
      return {ExitKind::kSyscall, {}, {}, SyscallForm::kTrap};
    if (r.rip == entry_va(shim_entry_resume_taken_back))
      return {ExitKind::kSyscall, {}, {}, SyscallForm::kTakenBack};
    if (r.rip == entry_va(shim_entry_resume_claimed))
      return {ExitKind::kSyscall, {}, {}, SyscallForm::kClaimed};
    if (r.rip == entry_va(shim_entry_resume_answered))
      return {ExitKind::kSyscall, {}, {}, SyscallForm::kAnswered};
  }
  if (!doorbell)
    return {ExitKind::kFatal, {}, "MMIO access outside the shim at gpa " + std::to_string(gpa)};
  // Guest code touched the doorbell page itself: to the guest that page is
  // not mapped (Linux never maps it), so this is a SIGSEGV.
  VcpuExit e{ExitKind::kFault, {}, {}};
  e.fault.vector = 14;
  e.fault.error_code = 4 | (run_->mmio.is_write ? 2 : 0);
  e.fault.address = SHIM_USER_MMIO + (gpa - SHIM_MMIO_GPA);
  e.fault.rip = r.rip;
  e.fault.rsp = r.rsp;
  e.fault.rflags = r.rflags;
  // A load is still pending in KVM's emulator, which would finish it (and
  // overwrite RIP and the destination register) at the next KVM_RUN, after
  // the host has pointed the vCPU at a signal handler. Finish it now, then
  // put back the registers of the faulting instruction. (A store is already
  // complete: RIP is past it, so the signal frame shows the next
  // instruction; see docs/internals.md.)
  if (!run_->mmio.is_write) {
    GuestRegs at_fault = r;
    memset(run_->mmio.data, 0, sizeof run_->mmio.data);
    complete_pending_io();
    mutable_regs() = at_fault;
  }
  return e;
}

// A load from a host window while its memslot was being replaced
// (PvmVm::invalidate): KVM emulates it as MMIO. The answer is what the
// memslot would have given: the host bytes. Only pages the host kernel
// maps have guest PTEs (MemoryManager leaves the others out), so the copy
// cannot fault. KVM finishes the load at the next KVM_RUN.
bool PvmVcpu::answer_host_window_load() {
  uint64_t gpa = run_->mmio.phys_addr;
  const KvmVm::HostWindow* w = vm_.host_window(gpa);
  uint32_t len = run_->mmio.len;
  if (!w || run_->mmio.is_write || len > sizeof run_->mmio.data || gpa - w->gpa + len > w->len)
    return false;
  memset(run_->mmio.data, 0, sizeof run_->mmio.data);
  memcpy(run_->mmio.data, reinterpret_cast<const void*>(w->host + (gpa - w->gpa)), len);
  return true;
}

// KVM API: re-entering KVM_RUN with immediate_exit set completes a pending
// MMIO or PIO operation without running further guest instructions.
void PvmVcpu::complete_pending_io() {
  uint8_t saved = run_->immediate_exit;
  run_->immediate_exit = 1;
  ioctl(fd_.get(), KVM_RUN, 0);
  run_->immediate_exit = saved;
}

VcpuExit PvmVcpu::exit_from_fault_port() {
  // The exception stub's frame on the kernel stack: vector, error code, rip,
  // cs, rflags, rsp, ss. RSP is a supervisor address of the shim area.
  uint64_t ksp = regs().rsp;
  uint64_t off = ksp - SHIM_SUPER_BASE;
  uint64_t frame[7];
  if (ksp < SHIM_SUPER_BASE || off < tss_off() + 0x68 || off + sizeof frame > kstack_top())
    return {ExitKind::kFatal, {}, "exception exit with a bad kernel stack"};
  memcpy(frame, vm_.memory() + off, sizeof frame);
  if ((frame[3] & 3) != 3)
    return {ExitKind::kFatal,
            {},
            "exception " + std::to_string(frame[0]) + " inside the shim at rip " +
                std::to_string(frame[2])};
  VcpuExit e{ExitKind::kFault, fault_from_stub_frame(frame), {}};
  if (e.fault.vector == 14) {
    if (Result<uint64_t> a = cr2(); a.ok()) e.fault.address = a.value();
  }
  return e;
}

// The exception stubs and the boot stub live in the supervisor half; every
// user address is below it. Inside the syscall entry the registers are the
// entry's (settle_in_entry).
bool PvmVcpu::at_user_boundary() const {
  uint64_t rip = regs().rip;
  return rip < SHIM_SUPER_BASE && !in_entry(rip);
}

// A fault exit either stopped in the shim's exception stub (RSP points at
// vector, error code, then the iretq frame: rip, cs, rflags, rsp, ss), or at
// a user instruction (the doorbell page and EFAULT cases). The stub's
// `addq $16, %rsp; iretq` then resumes wherever the frame says.
Result<void> PvmVcpu::set_fault_return(uint64_t rip, uint64_t rsp, uint64_t rflags) {
  // The stub's iretq runs at CPL 0 and would load IOPL, VM, NT... from the
  // frame: keep only the flags user code can set (CF PF AF ZF SF TF DF OF
  // RF AC ID), with IF and the reserved bit 1 set.
  rflags = (rflags & 0x250dd5) | 0x202;
  if (at_user_boundary()) {
    GuestRegs& r = mutable_regs();
    r.rip = rip;
    r.rsp = rsp;
    r.rflags = rflags;
    return Ok();
  }
  uint64_t ksp = regs().rsp;
  uint64_t off = ksp - SHIM_SUPER_BASE;
  if (ksp < SHIM_SUPER_BASE || off < tss_off() + 0x68 || off + 7 * 8 > kstack_top())
    return Errno{EFAULT};
  uint64_t frame[5] = {rip, SHIM_USER_CS, rflags, rsp, SHIM_USER_DS};
  memcpy(vm_.memory() + off + 16, frame, sizeof frame);
  return Ok();
}

}  // namespace elfuse
