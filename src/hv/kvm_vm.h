// What the two KVM backends share: memslots, CPUID, XCR0 and XSAVE, the
// segment setup in Linux's GDT layout, the vCPU pool, KVM_RUN with its
// EFAULT retry, kicks, save/restore. The PVM backend (hv/pvm/) and the
// hardware backend (hv/hw/, AMD SVM and Intel VMX) differ only in where a
// syscall lands, how an exit is decoded and how the guest goes back to user
// mode; see docs/internals.md, "Two backends".
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "base/unique_fd.h"
#include "hv/hypervisor.h"

namespace elfuse {

class KvmVm;

// The fault the shared exception stubs describe (src/shim/shim.S): their
// frame is [vector, error code, rip, cs, rflags, rsp, ss]. CR2 is the
// backend's to add for a #PF.
GuestFault fault_from_stub_frame(const uint64_t frame[7]);

class KvmVcpu : public Vcpu {
 public:
  KvmVcpu(KvmVm& vm, UniqueFd fd, kvm_run* run, size_t run_size, int id);
  ~KvmVcpu() override;

  // A new vCPU at the program's entry (exec) / one that continues from a
  // saved state (fork, a new thread).
  Result<void> init(uint64_t cr3, const VcpuStart& start);
  Result<void> restore(const VcpuState& state);

  const GuestRegs& regs() const override;
  GuestRegs& mutable_regs() override;
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
  int id() const { return id_; }
  bool running() const { return running_.load(); }
  uint64_t exits() const { return exits_.load(); }

 protected:
  friend class KvmVm;  // reuse()
  // Backend hooks.
  // MSR_LSTAR (and CSTAR): where a user `syscall` goes.
  virtual uint64_t syscall_entry() const = 0;
  // Registers and shim memory for the first instruction of a program.
  virtual Result<void> boot(const VcpuStart& start) = 0;
  // Backend bytes appended to save_state() and handed back to restore.
  virtual std::vector<uint8_t> save_extra() const { return {}; }
  virtual Result<void> restore_extra(const uint8_t* extra, size_t len) {
    return len == 0 ? Result<void>(Ok()) : Result<void>(Errno{EINVAL});
  }
  // A vCPU of a thread that ended, taken for a new thread (before init or
  // restore): back to a fresh vCPU's backend state.
  virtual void reuse() {}
  // Called with running_ set, right before each KVM_RUN (the hardware
  // backend prepares the return to user mode and the TLB flush here).
  virtual void before_entry() {}
  // Called right after each KVM_RUN returns (r, errno as the ioctl gave
  // them), before an EFAULT retry.
  virtual void after_run(int r, int err) {}

  // One KVM_RUN, retried while a host mprotect round trip explains an
  // EFAULT (KvmVm::reprotect_begin). Returns the ioctl's result; *err is
  // its errno.
  int enter(int* err);
  // The VcpuExit for a failed KVM_RUN (EINTR/EAGAIN: kInterrupted,
  // EFAULT: the guest's fault at the current user registers).
  VcpuExit exit_from_error(int err);
  // The VcpuExit for an exit reason neither backend expects.
  VcpuExit exit_unexpected();
  // Sets the sync-regs area to r and makes it the registers from now on.
  void load_regs(const kvm_regs& r);
  Result<uint64_t> cr2();
  // Loads the shim's kernel CS and SS (CPL 0), as `syscall` would, for a
  // vCPU stopped in user mode that must run shim code next.
  Result<void> enter_cpl0();

  KvmVm& vm_;
  UniqueFd fd_;
  kvm_run* run_;
  size_t run_size_;

 private:
  Result<void> common_init();
  Result<void> set_msrs();
  Result<void> set_sregs(uint64_t cr3);
  Result<void> set_xcr0();

  std::atomic<pthread_t> thread_{};
  std::atomic<bool> running_{false};
  std::atomic<uint64_t> exits_{0};
  uint64_t xcr0_ = 0;  // 0 until read (xfeatures())
  uint32_t xsave_size_ = 0;
  int id_;                  // KVM vCPU id = index of the shim's per-vCPU slot
  bool cpuid_set_ = false;  // KVM_SET_CPUID2 once per vCPU (it is reused, see release_vcpu)
};

class KvmVm : public Vm {
 public:
  KvmVm(UniqueFd kvm, UniqueFd vm, uint8_t* memory, uint64_t size);
  ~KvmVm() override;
  Result<std::unique_ptr<Vcpu>> create_vcpu(uint64_t cr3, const VcpuStart& start) override;
  Result<std::unique_ptr<Vcpu>> restore_vcpu(const VcpuState& state) override;
  void release_vcpu(std::unique_ptr<Vcpu> vcpu) override;
  void prepare_vcpu() override;
  void reprotect_begin() override;
  void reprotect_end() override;
  uint64_t task_size() const override;
  Result<void> register_memory(uint64_t end) override;
  uint64_t registered_memory() const override { return registered_; }

  uint8_t* memory() const { return memory_; }
  uint64_t memory_size() const { return size_; }
  const kvm_cpuid2* cpuid() const { return cpuid_.get(); }

  // Host memory mapped read-only into guest-physical space above the guest
  // memory (Vm::map_host_readonly). Filled before vCPUs run, then only read.
  struct HostWindow {
    uint32_t slot;
    uint64_t gpa, len;
    uint64_t host;
  };
  // The window holding guest-physical gpa, or nullptr.
  const HostWindow* host_window(uint64_t gpa) const;

 protected:
  friend class KvmVcpu;
  // A read-only memslot over [host, host + len) at gpa (the memslot half
  // of map_host_readonly; whether the guest may use it is the backend's
  // decision).
  Result<void> add_host_window(uint64_t gpa, const void* host, uint64_t len);
  // Adds (present) or deletes the window's memslot.
  Result<void> set_host_window_slot(const HostWindow& w, bool present);
  // The backend's vCPU object over a new KVM vCPU.
  virtual std::unique_ptr<KvmVcpu> make_vcpu(UniqueFd fd, kvm_run* run, size_t run_size,
                                             int id) = 0;
  // Writes this vCPU's TSS in its shim slot (RSP0, IST...).
  virtual void init_tss(int id) = 0;
  // Writes the shared GDT (with the TSS descriptor) and the IDT; gate
  // attributes come from the backend: the IST index (0: none) of every
  // vector but the double fault's, and that one's.
  void write_descriptor_tables(unsigned ist, unsigned df_ist);
  // Every vCPU ever created (live or idle), for TLB shootdowns. Guarded by
  // vcpu_mu_.
  std::vector<KvmVcpu*> all_;
  std::mutex vcpu_mu_;

 private:
  Result<std::unique_ptr<KvmVcpu>> new_vcpu();
  // mprotect round trips (invalidate, reprotect_begin/end) in progress, and
  // a generation bumped at each start and end. A KVM_RUN that fails with
  // EFAULT while one overlapped it is retried (KvmVcpu::enter).
  std::atomic<int> roundtrips_active_{0};
  std::atomic<uint64_t> roundtrip_gen_{0};
  // vCPUs of threads that ended, for the next thread. KVM never destroys a
  // vCPU before its VM, and ids stop at KVM_MAX_VCPUS: reuse keeps the
  // limit on live threads, not on threads ever created.
  std::vector<std::unique_ptr<KvmVcpu>> idle_;
  std::vector<HostWindow> host_windows_;
  UniqueFd kvm_;
  UniqueFd vm_;
  uint8_t* memory_;
  uint64_t size_;
  std::unique_ptr<kvm_cpuid2, void (*)(void*)> cpuid_{nullptr, free};
  int run_size_ = 0;
  uint64_t registered_ = 0;  // guest-physical [0, registered_) is in memslots
  uint32_t next_slot_ = 0;
  int next_vcpu_id_ = 0;
};

// A .shim_super symbol's address (both backends' supervisor code).
uint64_t shim_super_va_of(const char* sym);

}  // namespace elfuse
