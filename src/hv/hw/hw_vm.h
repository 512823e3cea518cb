// The hardware backend: KVM on Intel VMX (kvm_intel) or AMD SVM (kvm_amd).
// The guest is an ordinary x86-64 machine: a user `syscall` enters the shim
// at CPL 0 (MSR_LSTAR), which exits with `out`; exceptions go through IDT
// gates on an IST stack to an `out`; the way back to user mode is SYSRET or
// IRETQ. Nothing here depends on the vendor: KVM hides VMX and SVM behind
// the same ioctls, and the shim uses only architectural x86-64. See
// docs/internals.md, "Two backends".
#pragma once

#include <atomic>

#include "hv/kvm_vm.h"

namespace elfuse {

class HwVm;

class HwVcpu final : public KvmVcpu {
 public:
  HwVcpu(HwVm& vm, UniqueFd fd, kvm_run* run, size_t run_size, int id);

  VcpuExit run() override;
  void finish_syscall(int64_t result) override;
  bool at_user_boundary() const override;
  Result<void> set_fault_return(uint64_t rip, uint64_t rsp, uint64_t rflags) override;

  // Where the vCPU stopped, which says what regs() hold.
  enum class Stop : uint8_t {
    // At a user instruction (CPL 3): regs() are the CPU's.
    kUser,
    // In the shim at CPL 0, on the way in (a syscall or exception exit) or
    // on the way out (a return stub not yet run). regs() show the user
    // context the guest goes back to; before_entry() turns it into a SYSRET
    // or an IRETQ through the shim.
    kShim,
    // Inside an exception stub before its exit (KVM_RUN interrupted there),
    // or with an exception KVM will re-inject (its delivery was under way):
    // regs() are the CPU's; the delivery and the stub run on to its exit.
    kRaw,
  };

 private:
  uint64_t syscall_entry() const override;
  Result<void> boot(const VcpuStart& start) override;
  std::vector<uint8_t> save_extra() const override;
  Result<void> restore_extra(const uint8_t* extra, size_t len) override;
  void before_entry() override;
  void after_run(int r, int err) override;

  // Sets stop_ and the user view from the CPU's registers after KVM_RUN
  // stopped for a reason other than the shim's own exits.
  void classify();
  // The exception exit: the frame on the IST stack.
  enum class FaultAction { kReport, kResume, kFatal };
  FaultAction decode_fault(VcpuExit& e);
  // What a double fault's frame (on its own IST stack) and the exception
  // frame it interrupted say, for the fatal report.
  std::string double_fault_report();
  HwVm& hw_vm() const;

  Stop stop_ = Stop::kShim;
  uint64_t flushed_gen_ = 0;  // HwVm::tlb_gen_ at this vCPU's last flush
  bool force_flush_ = false;
  int stale_resumes_ = 0;  // stale #PFs retried since the last other exit
  uint64_t last_cr3_ = 0;  // CR3 at the last exit (KVM_SYNC_X86_SREGS)
};

class HwVm final : public KvmVm {
 public:
  using KvmVm::KvmVm;
  Result<void> install_shim(PageTables& pt) override;
  // After the host changed or removed present PTEs: every vCPU reloads CR3
  // before it runs user code again (a TLB shootdown: the others are kicked
  // out of KVM_RUN and waited for).
  void invalidate(uint64_t pa, uint64_t len, bool contents_dead) override;
  uint64_t task_size() const override;

  uint64_t tlb_gen() const { return tlb_gen_.load(std::memory_order_seq_cst); }
  // The page tables' root install_shim was given (every vCPU's CR3).
  uint64_t root() const { return root_; }
  // KVM stores the segment and control registers in kvm_run at every exit
  // (KVM_SYNC_X86_SREGS). Only under QEMU's TCG, where it costs nothing
  // that matters and keeps the guest alive: without it a thread-heavy
  // guest triple-faults now and then there, with L2 state that names L1
  // kernel addresses (docs/internals.md, "The SVM lane").
  static bool sync_sregs() { return under_tcg(); }
  static bool under_tcg();

 private:
  std::unique_ptr<KvmVcpu> make_vcpu(UniqueFd fd, kvm_run* run, size_t run_size, int id) override;
  void init_tss(int id) override;
  std::atomic<uint64_t> tlb_gen_{0};
  uint64_t root_ = 0;
};

}  // namespace elfuse
