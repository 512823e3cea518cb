// The hypervisor interface the run loop uses without knowing the backend
// (crosvm's Vm/Vcpu + VcpuExit, in spirit). Two backends implement it: PVM
// (hv/pvm/, the kvm_pvm module) and hardware KVM (hv/hw/, Intel VMX and AMD
// SVM); hv/kvm_vm.h is what they share. docs/internals.md, "Two backends".
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace elfuse {

class PageTables;
class GuestEntry;
class GuestProcessPage;

// General registers in struct kvm_regs order.
struct GuestRegs {
  uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rip, rflags;
};

enum class ExitKind {
  kSyscall,      // the guest executed `syscall`; regs() hold number and arguments
  kFault,        // a CPU exception in guest user mode (fault below)
  kInterrupted,  // KVM_RUN was interrupted by a host signal (kick)
  kFatal,        // the VM cannot continue (triple fault, emulation failure)
};

struct GuestFault {
  uint8_t vector = 0;  // x86 exception vector (14 = #PF, 13 = #GP, 6 = #UD...)
  uint64_t error_code = 0;
  uint64_t address = 0;  // CR2 for #PF, else 0
  // User state at the fault (from the exception frame).
  uint64_t rip = 0, rsp = 0, rflags = 0;
  bool write_to_readonly_host = false;  // KVM_RUN EFAULT: see docs/internals.md
};

// How far the guest's own syscall entry got with a kSyscall exit
// (src/hv/guest_entry.h). A backend without one reports kTrap only.
enum class SyscallForm {
  kTrap,       // the host runs the call: RAX = number, arguments in registers
  kTakenBack,  // likewise; the entry had posted it, the worker did not take it
  kClaimed,    // the host worker claimed it: its answer is the result
  kAnswered,   // done in the guest: RAX = the result; only return to the user
};

struct VcpuExit {
  ExitKind kind;
  GuestFault fault;                       // kFault
  std::string detail;                     // kFatal: what happened, for the error message
  SyscallForm form = SyscallForm::kTrap;  // kSyscall
};

// Everything a vCPU needs to continue elsewhere (fork): the general
// registers plus state only the backend understands (segments, FPU/AVX...).
struct VcpuState {
  GuestRegs regs;
  std::vector<uint8_t> backend;
  // restore_vcpu: the FS base to restore instead of the saved one (clone
  // with CLONE_SETTLS), set with the other segments, not by a
  // set_fs_base afterwards.
  bool new_fs_base = false;
  uint64_t fs_base = 0;
};

class Vcpu {
 public:
  virtual ~Vcpu() = default;
  // Runs the guest until the next exit.
  virtual VcpuExit run() = 0;
  // The guest's user registers at the last exit. Changes made through
  // mutable_regs() reach the guest at the next run() (KVM sync regs, no extra
  // ioctl).
  virtual const GuestRegs& regs() const = 0;
  virtual GuestRegs& mutable_regs() = 0;
  // Completes a kSyscall exit: RAX = result, RCX/R11 as SYSRET leaves them,
  // RIP = the return address (RCX).
  virtual void finish_syscall(int64_t result) = 0;
  virtual Result<void> set_fs_base(uint64_t base) = 0;
  virtual Result<uint64_t> fs_base() = 0;
  virtual Result<void> set_gs_base(uint64_t base) = 0;
  virtual Result<uint64_t> gs_base() = 0;
  // Makes a run() in progress on another thread return kInterrupted soon.
  virtual void kick() = 0;
  // Captures the full CPU state (call at an exit, before fork()).
  virtual Result<VcpuState> save_state() = 0;

  // Signal delivery (src/kernel/signal.cc).
  // The FPU/SSE/AVX state in the standard (non-compacted) XSAVE layout, the
  // layout of a Linux signal frame's fpstate: kXsaveAreaSize bytes.
  virtual Result<void> get_xsave(uint8_t* area) = 0;
  // Loads such an area; the backend rejects a malformed header or MXCSR.
  virtual Result<void> set_xsave(const uint8_t* area) = 0;
  // XCR0 (the user-visible state components) and the XSAVE size it needs,
  // as CPUID.(0xd,0) EBX reports it: what the kernel puts in fx_sw_bytes.
  virtual uint64_t xfeatures() = 0;
  virtual uint32_t xsave_user_size() = 0;
  // True when the guest stopped at a user instruction boundary (registers()
  // are the user's); false when it stopped inside the backend's own
  // supervisor code (PVM: the shim's exception stub), where user registers
  // cannot be replaced until it returns to user mode.
  virtual bool at_user_boundary() const = 0;
  // After a kFault exit: the user RIP, RSP and RFLAGS the guest resumes
  // with (the PVM backend rewrites the shim's iretq frame). The general
  // registers go through mutable_regs().
  virtual Result<void> set_fault_return(uint64_t rip, uint64_t rsp, uint64_t rflags) = 0;
  // The guest's syscall entry of this vCPU, when the backend has one that
  // answers calls or hands them to a host worker (hv/guest_entry.h).
  virtual GuestEntry* entry() { return nullptr; }
};

// Size of the areas get_xsave/set_xsave exchange (struct kvm_xsave).
inline constexpr size_t kXsaveAreaSize = 4096;

// Async-signal-safe, for a host signal handler running on a vCPU thread:
// makes that thread's current run() return kInterrupted promptly, or the
// next one return before entering the guest. Does nothing on a thread that
// has no vCPU.
void interrupt_current_vcpu_from_signal_handler();

struct VcpuStart {
  uint64_t entry;  // first user instruction
  uint64_t rsp;    // initial user stack pointer
};

class Vm {
 public:
  virtual ~Vm() = default;
  // Maps the shim into the page tables and writes its GDT/IDT/TSS. Called
  // once, before the first vCPU is created.
  virtual Result<void> install_shim(PageTables& pt) = 0;
  virtual Result<std::unique_ptr<Vcpu>> create_vcpu(uint64_t cr3, const VcpuStart& start) = 0;
  // A vCPU that continues from a saved state (the child of a fork, in a
  // new VM over the copied memory; a new thread, in the same VM). EAGAIN
  // when the VM has no vCPU left (kernel/fork.c's answer to a full table).
  virtual Result<std::unique_ptr<Vcpu>> restore_vcpu(const VcpuState& state) = 0;
  // A vCPU whose thread ended: kept for a later restore_vcpu (a new thread).
  // Thread-safe, as is restore_vcpu.
  virtual void release_vcpu(std::unique_ptr<Vcpu> vcpu) = 0;
  // Creates a vCPU ahead of need and keeps it for the next create_vcpu or
  // restore_vcpu (start-up does this on another thread while it loads the
  // program). Nothing happens on failure: create_vcpu then reports it.
  virtual void prepare_vcpu() {}
  // Makes every vCPU drop cached translations of guest-physical
  // [pa, pa + len) (see docs/internals.md, "Shadow paging").
  virtual void invalidate(uint64_t pa, uint64_t len, bool contents_dead) = 0;
  // Bracket a host mprotect round trip on guest memory done outside
  // invalidate() (a private file overlay): while one is in progress, a guest
  // access on another vCPU that KVM_RUN fails with EFAULT is run again
  // instead of becoming the guest's SIGSEGV.
  virtual void reprotect_begin() = 0;
  virtual void reprotect_end() = 0;
  // Makes guest-physical [0, end) guest memory (more KVM memslots over the
  // reservation). Registered memory stays registered.
  virtual Result<void> register_memory(uint64_t end) = 0;
  virtual uint64_t registered_memory() const = 0;
  // Makes host memory [host, host + len) guest-physical [gpa, gpa + len),
  // read-only: a memslot over a mapping of elfuse's own, above the guest
  // memory given at creation (the host's vDSO data pages, src/vdso).
  // invalidate() on that range drops every vCPU's translations of it.
  // Call before vCPUs run. The vDSO also needs the guest to read the
  // host's TSC unchanged (no TSC offset or scaling) and its own TSC_AUX
  // (RDPID/RDTSCP): a backend that cannot give both refuses (ENOTSUP, the
  // default), and guests then run without a vDSO.
  virtual Result<void> map_host_readonly(uint64_t gpa, const void* host, uint64_t len) {
    return Errno{ENOTSUP};
  }
  // The user range the guest gets: [0, task_size()).
  virtual uint64_t task_size() const = 0;
  // The page the guest's syscall entries read pid, ppid and the futex
  // waiter count from (hv/guest_entry.h); nullptr without one. Valid until
  // the VM is destroyed.
  virtual GuestProcessPage* process_page() { return nullptr; }
};

enum class Backend { kAuto, kPvm, kHardware };

// --backend: use this backend instead of the one /dev/kvm's module names
// (kAuto: probe). A forced backend the host's KVM is not is refused by
// create_vm_or_die with a message.
void force_backend(Backend b);
// For --version: the backend elfuse would use here and the KVM module
// behind it ("PVM (kvm_pvm)", "hardware KVM (kvm_amd, AMD SVM)"), or
// "none: " and what is missing.
std::string backend_description();

// Opens /dev/kvm and creates a VM over the host reservation
// [memory, memory + size), guest-physical [0, size), of which [0, initial)
// is registered now (register_memory adds the rest as it is needed). On
// failure prints one line saying what is wrong and what to do, and exits
// non-zero. The backend is chosen at the first call (probing /dev/kvm
// unless forced) and kept for the process and its forked children.
std::unique_ptr<Vm> create_vm_or_die(uint8_t* memory, uint64_t size, uint64_t initial);
// The same, but on failure nullptr and *why says what create_vm_or_die
// would have printed (for a VM made on another thread, whose failure is
// reported where the VM is needed: kernel/exec.cc start_first_vm).
std::unique_ptr<Vm> create_vm(uint8_t* memory, uint64_t size, uint64_t initial, std::string* why);
// Opens the hypervisor device now, once per elfuse, if not yet done (its
// descriptor goes above the private fd floor); a failure is reported by
// the next create_vm. See kernel/exec.cc start_first_vm for why now.
void open_hypervisor_device();

}  // namespace elfuse
