// The PVM backend: KVM provided by the kvm_pvm module (shadow paging, guest
// CPL3 native, CPL0 emulated). See docs/internals.md, "Two backends".
#pragma once

#include "hv/guest_entry.h"
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
  GuestEntry* entry() override { return &entry_; }

 private:
  uint64_t syscall_entry() const override;
  Result<void> boot(const VcpuStart& start) override;
  void reuse() override;
  VcpuExit run_once();
  VcpuExit exit_from_fault_port();
  VcpuExit exit_from_mmio();
  bool answer_host_window_load();
  void complete_pending_io();
  // This vCPU's TSS and kernel stack (shim_abi.h SHIM_VCPU_*).
  uint64_t tss_off() const;
  uint64_t kstack_top() const;
  // This vCPU's syscall entry (SHIM_USER_ENTRY(id)): the address of a
  // label of shim.S's .shim_entry in it, and whether RIP is inside it.
  uint64_t entry_va(const char* sym) const;
  bool in_entry(uint64_t rip) const;
  // A host signal stopped the vCPU inside the entry: finish the return to
  // the user when the call is complete, else ask the entry to exit.
  void settle_in_entry();

  GuestEntry entry_;
  bool exit_requested_ = false;  // SHIM_E_EXIT_REQ set by settle_in_entry
};

class PvmVm final : public KvmVm {
 public:
  PvmVm(UniqueFd kvm, UniqueFd vm, uint8_t* memory, uint64_t size);
  Result<void> install_shim(PageTables& pt) override;
  void invalidate(uint64_t pa, uint64_t len, bool contents_dead) override;
  Result<void> map_host_readonly(uint64_t gpa, const void* host, uint64_t len) override;
  GuestProcessPage* process_page() override { return &process_page_; }

 private:
  friend class PvmVcpu;
  std::unique_ptr<KvmVcpu> make_vcpu(UniqueFd fd, kvm_run* run, size_t run_size, int id) override;
  void init_tss(int id) override;

  GuestProcessPage process_page_;
};

}  // namespace elfuse
