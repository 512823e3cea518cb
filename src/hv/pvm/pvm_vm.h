// The PVM backend: KVM provided by the kvm_pvm module (shadow paging, guest
// CPL3 native, CPL0 emulated). See docs/internals.md, "Two backends".
#pragma once

#include "hv/kvm_vm.h"

namespace elfuse {

class PvmVm;

class PvmVcpu final : public KvmVcpu {
 public:
  PvmVcpu(PvmVm& vm, UniqueFd fd, kvm_run* run, size_t run_size, int id);

  VcpuExit run() override;
  void finish_syscall(int64_t result) override;
  bool at_user_boundary() const override;
  Result<void> set_fault_return(uint64_t rip, uint64_t rsp, uint64_t rflags) override;

 private:
  uint64_t syscall_entry() const override;
  Result<void> boot(const VcpuStart& start) override;
  VcpuExit exit_from_fault_port();
  VcpuExit exit_from_mmio();
  void complete_pending_io();
  // This vCPU's TSS and kernel stack (shim_abi.h SHIM_VCPU_*).
  uint64_t tss_off() const;
  uint64_t kstack_top() const;
};

class PvmVm final : public KvmVm {
 public:
  using KvmVm::KvmVm;
  Result<void> install_shim(PageTables& pt) override;
  void invalidate(uint64_t pa, uint64_t len, bool contents_dead) override;

 private:
  std::unique_ptr<KvmVcpu> make_vcpu(UniqueFd fd, kvm_run* run, size_t run_size, int id) override;
  void init_tss(int id) override;
};

}  // namespace elfuse
