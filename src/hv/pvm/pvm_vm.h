// The PVM backend: KVM provided by the kvm_pvm module (shadow paging, guest
// CPL3 native, CPL0 emulated). See docs/internals.md, "The PVM backend".
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "base/unique_fd.h"
#include "hv/guest_entry.h"
#include "hv/hypervisor.h"

namespace elfuse {

class PvmVm;

class PvmVcpu final : public Vcpu {
 public:
  PvmVcpu(PvmVm& vm, UniqueFd fd, kvm_run* run, size_t run_size, int id);
  ~PvmVcpu() override;

  Result<void> init(uint64_t cr3, const VcpuStart& start);
  VcpuExit run() override;
  const GuestRegs& regs() const override;
  GuestRegs& mutable_regs() override;
  void finish_syscall(int64_t result) override;
  Result<void> set_fs_base(uint64_t base) override;
  Result<uint64_t> fs_base() override;
  Result<void> set_gs_base(uint64_t base) override;
  Result<uint64_t> gs_base() override;
  void kick() override;
  Result<VcpuState> save_state() override;
  Result<void> get_xsave(uint8_t* area) override;
  Result<void> set_xsave(const uint8_t* area) override;
  uint64_t xfeatures() override;
  uint32_t xsave_user_size() override;
  bool at_user_boundary() const override;
  Result<void> set_fault_return(uint64_t rip, uint64_t rsp, uint64_t rflags) override;
  GuestEntry* entry() override { return &entry_; }
  Result<void> restore(const VcpuState& state);
  int id() const { return id_; }

 private:
  friend class PvmVm;  // prepare_vcpu: common_init ahead of use
  Result<void> common_init();
  VcpuExit run_once();
  VcpuExit exit_from_fault_port();
  VcpuExit exit_from_mmio();
  bool answer_host_window_load();
  void complete_pending_io();
  Result<void> set_msrs();
  Result<void> set_sregs(uint64_t cr3);
  Result<void> set_xcr0();
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

  PvmVm& vm_;
  UniqueFd fd_;
  kvm_run* run_;
  size_t run_size_;
  std::atomic<pthread_t> thread_{};
  std::atomic<bool> running_{false};
  uint64_t xcr0_ = 0;  // 0 until read (xfeatures())
  uint32_t xsave_size_ = 0;
  int id_;                  // KVM vCPU id = index of the shim's per-vCPU slot
  bool cpuid_set_ = false;  // KVM_SET_CPUID2 once per vCPU (it is reused, see release_vcpu)
  GuestEntry entry_;
  bool exit_requested_ = false;  // SHIM_E_EXIT_REQ set by settle_in_entry
};

class PvmVm final : public Vm {
 public:
  PvmVm(UniqueFd kvm, UniqueFd vm, uint8_t* memory, uint64_t size);
  Result<void> install_shim(PageTables& pt) override;
  Result<std::unique_ptr<Vcpu>> create_vcpu(uint64_t cr3, const VcpuStart& start) override;
  Result<std::unique_ptr<Vcpu>> restore_vcpu(const VcpuState& state) override;
  void release_vcpu(std::unique_ptr<Vcpu> vcpu) override;
  void prepare_vcpu() override;
  void invalidate(uint64_t pa, uint64_t len, bool contents_dead) override;
  void reprotect_begin() override;
  void reprotect_end() override;
  uint64_t task_size() const override;
  Result<void> register_memory(uint64_t end) override;
  uint64_t registered_memory() const override { return registered_; }
  Result<void> map_host_readonly(uint64_t gpa, const void* host, uint64_t len) override;
  GuestProcessPage* process_page() override { return &process_page_; }

  uint8_t* memory() const { return memory_; }
  uint64_t memory_size() const { return size_; }
  const kvm_cpuid2* cpuid() const { return cpuid_.get(); }

 private:
  friend class PvmVcpu;
  Result<std::unique_ptr<PvmVcpu>> new_vcpu();
  // Host memory mapped read-only into guest-physical space
  // (map_host_readonly). Filled before vCPUs run, then only read.
  struct HostWindow {
    uint32_t slot;
    uint64_t gpa, len;
    uint64_t host;
  };
  const HostWindow* host_window(uint64_t gpa) const;
  Result<void> set_host_window_slot(const HostWindow& w, bool present);
  std::vector<HostWindow> host_windows_;
  // mprotect round trips (invalidate, reprotect_begin/end) in progress, and
  // a generation bumped at each start and end. A KVM_RUN that fails with
  // EFAULT while one overlapped it is retried (PvmVcpu::run).
  std::atomic<int> roundtrips_active_{0};
  std::atomic<uint64_t> roundtrip_gen_{0};
  // new_vcpu, release_vcpu: threads are created and end concurrently.
  std::mutex vcpu_mu_;
  // vCPUs of threads that ended, for the next thread. KVM never destroys a
  // vCPU before its VM, and ids stop at KVM_MAX_VCPUS: reuse keeps the
  // limit on live threads, not on threads ever created.
  std::vector<std::unique_ptr<PvmVcpu>> idle_;
  UniqueFd kvm_;
  UniqueFd vm_;
  uint8_t* memory_;
  uint64_t size_;
  GuestProcessPage process_page_;
  std::unique_ptr<kvm_cpuid2, void (*)(void*)> cpuid_{nullptr, free};
  int run_size_ = 0;
  uint64_t registered_ = 0;  // guest-physical [0, registered_) is in memslots
  uint32_t next_slot_ = 0;
  int next_vcpu_id_ = 0;
};

}  // namespace elfuse
