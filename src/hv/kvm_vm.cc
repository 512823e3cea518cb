// The KVM plumbing both backends share (hv/kvm_vm.h).
#include "hv/kvm_vm.h"

#include <cpuid.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/log.h"
#include "base/private_fd.h"
#include "hv/cpuid_native.h"
#include "hv/kvm_abi.h"
#include "shim/shim_abi.h"

extern "C" const char shim_super_start[];

namespace elfuse {
namespace {

constexpr uint32_t kMsrStar = 0xc0000081;
constexpr uint32_t kMsrLstar = 0xc0000082;
constexpr uint32_t kMsrCstar = 0xc0000083;
constexpr uint32_t kMsrSyscallMask = 0xc0000084;
// Linux's MSR_SYSCALL_MASK (arch/x86/kernel/cpu/common.c syscall_init):
// TF DF IF IOPL AC NT cleared on entry. The host restores RFLAGS from R11.
constexpr uint64_t kSyscallMask = 0x257fd5;
constexpr int kKickSignal = SIGURG;  // see kick()

uint64_t super_va(uint64_t off) {
  return SHIM_SUPER_BASE + off;
}

void put_gate(uint8_t* idt, unsigned vector, uint64_t handler, unsigned dpl, unsigned ist) {
  uint64_t attr = 0x8e | (dpl << 5);  // present, 64-bit interrupt gate
  uint64_t lo = (handler & 0xffff) | (uint64_t{SHIM_KERNEL_CS} << 16) | (uint64_t{ist} << 32) |
                (attr << 40) | (((handler >> 16) & 0xffff) << 48);
  uint64_t hi = handler >> 32;
  memcpy(idt + 16 * vector, &lo, 8);
  memcpy(idt + 16 * vector + 8, &hi, 8);
}

kvm_segment code_or_data_segment(uint16_t sel, uint8_t type, bool long_mode, unsigned dpl) {
  kvm_segment s{};
  s.limit = 0xfffff;
  s.selector = sel;
  s.type = type;
  s.present = 1;
  s.dpl = dpl;
  s.db = long_mode ? 0 : 1;
  s.s = 1;
  s.l = long_mode ? 1 : 0;
  s.g = 1;
  return s;
}

uint64_t host_xcr0() {
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

void on_kick(int) {}

// The kvm_run of the vCPU this host thread runs, for
// interrupt_current_vcpu_from_signal_handler(). Set in enter(), cleared by
// the destructor before the mapping goes away (same thread, so a signal
// handler sees either a live mapping or nullptr).
thread_local kvm_run* volatile t_current_run = nullptr;

// elfuse installs its own SIGURG handler first (signals_install_kick_handler,
// which tells kicks from the guest's SIGURG); this one is for a VM without
// it (the unit tests): an ignored signal would not interrupt KVM_RUN.
void install_kick_handler() {
  static bool installed = [] {
    struct sigaction old {};
    sigaction(kKickSignal, nullptr, &old);
    if (!(old.sa_flags & SA_SIGINFO) && (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)) {
      struct sigaction sa {};
      sa.sa_handler = on_kick;
      sigemptyset(&sa.sa_mask);
      sigaction(kKickSignal, &sa, nullptr);
    }
    return true;
  }();
  (void)installed;
}

}  // namespace

uint64_t shim_super_va_of(const char* sym) {
  return SHIM_SUPER_BASE + SHIM_OFF_KCODE + static_cast<uint64_t>(sym - shim_super_start);
}

// ---------------------------------------------------------------- VM

KvmVm::KvmVm(UniqueFd kvm, UniqueFd vm, uint8_t* memory, uint64_t size)
    : kvm_(std::move(kvm)), vm_(std::move(vm)), memory_(memory), size_(size) {
  run_size_ = ioctl(kvm_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  // KVM_GET_SUPPORTED_CPUID is a property of the host's KVM, the same for
  // every VM: asked once per elfuse (a forked child, which builds a VM of
  // its own, inherits the answer; the call costs about 0.15 ms).
  constexpr int n = 256;
  constexpr size_t bytes = 8 + n * sizeof(kvm_cpuid_entry2);
  static const kvm_cpuid2* const supported = [this] {
    auto* c = static_cast<kvm_cpuid2*>(calloc(1, bytes));
    c->nent = n;
    if (ioctl(kvm_.get(), kvm_abi::kGetSupportedCpuid, c) < 0) fatal("KVM_GET_SUPPORTED_CPUID: %m");
    return c;
  }();
  auto* c = static_cast<kvm_cpuid2*>(malloc(bytes));
  memcpy(c, supported, bytes);
  add_native_isa(const_cast<kvm_cpuid_entry2*>(kvm_abi::cpuid_entries(c)), c->nent,
                 [](uint32_t function, uint32_t index) {
                   CpuidRegs r;
                   __cpuid_count(function, index, r.eax, r.ebx, r.ecx, r.edx);
                   return r;
                 });
  cpuid_.reset(c);
}

// The idle vCPUs go with the VM (live ones belong to threads, which drop
// them first).
KvmVm::~KvmVm() {
  idle_.clear();
}

uint64_t KvmVm::task_size() const {
  return SHIM_TASK_SIZE;
}

// One memslot per 1 GiB step: KVM allocates a slot's metadata when it is
// registered, so memory the guest never uses costs nothing. Adding a slot
// does not disturb the shadow pages of the others, and needs no pause of
// the vCPUs that run meanwhile (docs/internals.md, "Guest physical memory").
Result<void> KvmVm::register_memory(uint64_t end) {
  constexpr uint64_t kSlotSize = 1ull << 30;
  if (end > size_) return Errno{ENOMEM};
  while (registered_ < end) {
    // A slot ends at `end` at most: the first one is only as large as the
    // initial pool (exec.cc kInitialPhys), the next one ends at 1 GiB.
    uint64_t len = std::min(kSlotSize, end - registered_);
    kvm_userspace_memory_region region{};
    region.slot = next_slot_;
    region.guest_phys_addr = registered_;
    region.memory_size = len;
    region.userspace_addr = reinterpret_cast<uint64_t>(memory_ + registered_);
    if (ioctl(vm_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) return Errno{errno};
    next_slot_++;
    registered_ += len;
  }
  return Ok();
}

Result<void> KvmVm::set_host_window_slot(const HostWindow& w, bool present) {
  kvm_userspace_memory_region region{};
  region.slot = w.slot;
  region.flags = KVM_MEM_READONLY;
  region.guest_phys_addr = w.gpa;
  region.memory_size = present ? w.len : 0;  // 0 deletes the slot
  region.userspace_addr = w.host;
  if (ioctl(vm_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) return Errno{errno};
  return Ok();
}

// A read-only memslot over the host pages. KVM resolves a VM_PFNMAP/VM_IO
// host mapping (the kernel's [vvar]) through its remapped-pfn path, so the
// guest reads the very pages the host kernel updates.
Result<void> KvmVm::add_host_window(uint64_t gpa, const void* host, uint64_t len) {
  auto h = reinterpret_cast<uint64_t>(host);
  if (len == 0 || (gpa | h | len) & 0xfff || gpa < size_ || gpa + len < gpa ||
      (gpa < SHIM_MMIO_GPA + 4096 && gpa + len > SHIM_MMIO_GPA))
    return Errno{EINVAL};
  for (const HostWindow& w : host_windows_)
    if (gpa < w.gpa + w.len && w.gpa < gpa + len) return Errno{EEXIST};
  HostWindow w{next_slot_, gpa, len, h};
  TRY(set_host_window_slot(w, true));
  next_slot_++;
  host_windows_.push_back(w);
  return Ok();
}

const KvmVm::HostWindow* KvmVm::host_window(uint64_t gpa) const {
  for (const HostWindow& w : host_windows_)
    if (gpa >= w.gpa && gpa - w.gpa < w.len) return &w;
  return nullptr;
}

void KvmVm::write_descriptor_tables(unsigned ist, unsigned df_ist) {
  // GDT in Linux's layout (arch/x86/include/asm/segment.h).
  uint64_t gdt[10] = {};
  gdt[SHIM_KERNEL_CS / 8] = 0x00af9b000000ffff;  // kernel CS64
  gdt[SHIM_KERNEL_DS / 8] = 0x00cf93000000ffff;  // kernel DS
  gdt[SHIM_USER32_CS / 8] = 0x00cffb000000ffff;  // user CS32
  gdt[SHIM_USER_DS / 8] = 0x00cff3000000ffff;    // user DS
  gdt[SHIM_USER_CS / 8] = 0x00affb000000ffff;    // user CS64
  uint64_t tss_base = super_va(SHIM_OFF_TSS), tss_limit = 0x67;
  gdt[SHIM_TSS_SEL / 8] = (tss_limit & 0xffff) | ((tss_base & 0xffffff) << 16) | (0x89ull << 40) |
                          (((tss_limit >> 16) & 0xf) << 48) | (((tss_base >> 24) & 0xff) << 56);
  gdt[SHIM_TSS_SEL / 8 + 1] = tss_base >> 32;
  memcpy(memory_ + SHIM_OFF_GDT, gdt, sizeof gdt);

  // 64-bit TSS: RSP0 = the kernel stack; no I/O bitmap.
  uint8_t* tss = memory_ + SHIM_OFF_TSS;
  uint64_t rsp0 = super_va(SHIM_KSTACK_TOP);
  memcpy(tss + 4, &rsp0, 8);
  uint16_t iomap = 0x68;
  memcpy(tss + 0x66, &iomap, 2);

  // IDT: the 32 exception vectors. #BP and #OF are reachable by `int3` and
  // `into` from user mode (DPL 3), as on Linux.
  for (unsigned v = 0; v < SHIM_EXC_COUNT; v++) {
    uint64_t h = SHIM_SUPER_BASE + SHIM_OFF_KCODE + v * SHIM_EXC_STRIDE;
    put_gate(memory_ + SHIM_OFF_IDT, v, h, (v == 3 || v == 4) ? 3 : 0, v == 8 ? df_ist : ist);
  }
}

GuestFault fault_from_stub_frame(const uint64_t frame[7]) {
  GuestFault f;
  f.vector = static_cast<uint8_t>(frame[0]);
  f.error_code = frame[1];
  f.rip = frame[2];
  f.rflags = frame[4];
  f.rsp = frame[5];
  return f;
}

Result<std::unique_ptr<KvmVcpu>> KvmVm::new_vcpu() {
  std::lock_guard lock(vcpu_mu_);
  if (!idle_.empty()) {
    std::unique_ptr<KvmVcpu> v = std::move(idle_.back());
    idle_.pop_back();
    v->reuse();
    return v;
  }
  // A thread more than the shim has slots for (or KVM has vCPUs for) is
  // EAGAIN, as kernel/fork.c answers when a limit on tasks is reached.
  if (next_vcpu_id_ >= SHIM_MAX_VCPUS) return Errno{EAGAIN};
  int fd = ioctl(vm_.get(), KVM_CREATE_VCPU, next_vcpu_id_);
  if (fd < 0) return Errno{errno == EINVAL ? EAGAIN : errno};
  fd = move_to_private_fd(fd);
  if (fd < 0) return Errno{errno};
  int id = next_vcpu_id_++;
  void* run = mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (run == MAP_FAILED) {
    close(fd);
    return Errno{errno};
  }
  memset(memory_ + SHIM_VCPU_TSS(id), 0, SHIM_VCPU_SLOT);
  init_tss(id);
  std::unique_ptr<KvmVcpu> v = make_vcpu(UniqueFd(fd), static_cast<kvm_run*>(run), run_size_, id);
  all_.push_back(v.get());
  return v;
}

void KvmVm::release_vcpu(std::unique_ptr<Vcpu> vcpu) {
  if (!vcpu) return;
  std::lock_guard lock(vcpu_mu_);
  idle_.push_back(std::unique_ptr<KvmVcpu>(static_cast<KvmVcpu*>(vcpu.release())));
}

void KvmVm::prepare_vcpu() {
  Result<std::unique_ptr<KvmVcpu>> v = new_vcpu();
  if (!v.ok()) return;
  // CPUID (the slow part: KVM asks the host CPU) and the MSRs; the rest
  // is set when the vCPU is used.
  if (!(*v)->common_init().ok()) return;  // dropped: create_vcpu tries anew
  release_vcpu(std::move(v.value()));
}

Result<std::unique_ptr<Vcpu>> KvmVm::create_vcpu(uint64_t cr3, const VcpuStart& start) {
  std::unique_ptr<KvmVcpu> vcpu = TRY(new_vcpu());
  TRY(vcpu->init(cr3, start));
  return std::unique_ptr<Vcpu>(std::move(vcpu));
}

Result<std::unique_ptr<Vcpu>> KvmVm::restore_vcpu(const VcpuState& state) {
  std::unique_ptr<KvmVcpu> vcpu = TRY(new_vcpu());
  TRY(vcpu->restore(state));
  return std::unique_ptr<Vcpu>(std::move(vcpu));
}

// A KVM_RUN that failed with EFAULT is retried when a round trip is in
// progress, or began or ended while it ran (the generation moved).
void KvmVm::reprotect_begin() {
  roundtrips_active_.fetch_add(1, std::memory_order_seq_cst);
  roundtrip_gen_.fetch_add(1, std::memory_order_seq_cst);
}
void KvmVm::reprotect_end() {
  roundtrip_gen_.fetch_add(1, std::memory_order_seq_cst);
  roundtrips_active_.fetch_sub(1, std::memory_order_seq_cst);
}

// ---------------------------------------------------------------- vCPU

KvmVcpu::KvmVcpu(KvmVm& vm, UniqueFd fd, kvm_run* run, size_t run_size, int id)
    : vm_(vm), fd_(std::move(fd)), run_(run), run_size_(run_size), id_(id) {}

KvmVcpu::~KvmVcpu() {
  {
    std::lock_guard lock(vm_.vcpu_mu_);
    std::erase(vm_.all_, this);
  }
  if (t_current_run == run_) t_current_run = nullptr;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  munmap(run_, run_size_);
}

Result<void> KvmVcpu::set_msrs() {
  // The kernel's layout: u32 nmsrs, u32 pad, entries at offset 8.
  alignas(8) uint8_t buf[8 + 4 * sizeof(kvm_msr_entry)] = {};
  auto* m = reinterpret_cast<kvm_msrs*>(buf);
  auto* e = reinterpret_cast<kvm_msr_entry*>(buf + 8);
  m->nmsrs = 4;
  e[0] = {kMsrStar, 0, (uint64_t{SHIM_USER32_CS} << 48) | (uint64_t{SHIM_KERNEL_CS} << 32)};
  e[1] = {kMsrLstar, 0, syscall_entry()};
  e[2] = {kMsrCstar, 0, syscall_entry()};
  e[3] = {kMsrSyscallMask, 0, kSyscallMask};
  int r = ioctl(fd_.get(), kvm_abi::kSetMsrs, m);
  if (r != 4) return Errno{r < 0 ? errno : EINVAL};
  return Ok();
}

Result<void> KvmVcpu::set_sregs(uint64_t cr3) {
  kvm_sregs s{};
  if (ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) return Errno{errno};
  s.cr0 = 0x80050033;  // PG AM WP NE ET MP PE
  s.cr3 = cr3;
  // PAE OSFXSR OSXMMEXCPT OSXSAVE. PCIDE is refused by the PVM module; with
  // PCIDE clear, a CR3 load flushes every non-global translation.
  s.cr4 = 0x620 | (1u << 18);
  s.efer = 0xd01;  // NXE LMA LME SCE
  s.cs = code_or_data_segment(SHIM_KERNEL_CS, 0xb, true, 0);
  s.ds = code_or_data_segment(SHIM_KERNEL_DS, 0x3, false, 0);
  s.es = s.ss = s.ds;
  s.fs = s.ds;
  s.fs.selector = 0;
  s.gs = s.fs;
  s.ldt = {};
  s.ldt.unusable = 1;
  s.gdt.base = super_va(SHIM_OFF_GDT);
  s.gdt.limit = SHIM_TSS_SEL + 15;
  s.idt.base = super_va(SHIM_OFF_IDT);
  s.idt.limit = 16 * SHIM_EXC_COUNT - 1;
  s.tr = {};
  s.tr.base = super_va(SHIM_VCPU_TSS(static_cast<uint64_t>(id_)));
  s.tr.limit = 0x67;
  s.tr.selector = SHIM_TSS_SEL;
  s.tr.type = 11;
  s.tr.present = 1;
  if (ioctl(fd_.get(), KVM_SET_SREGS, &s) < 0) return Errno{errno};
  return Ok();
}

// XCR0 enables the register state (SSE, AVX, AVX-512...) the guest may use:
// what both KVM and the host support.
Result<void> KvmVcpu::set_xcr0() {
  uint64_t supported = 0;
  const kvm_cpuid2* c = vm_.cpuid();
  const kvm_cpuid_entry2* entries = kvm_abi::cpuid_entries(c);
  for (uint32_t i = 0; i < c->nent; i++) {
    if (entries[i].function == 0xd && entries[i].index == 0)
      supported = (uint64_t{entries[i].edx} << 32) | entries[i].eax;
  }
  kvm_xcrs x{};
  x.nr_xcrs = 1;
  x.xcrs[0].xcr = 0;
  x.xcrs[0].value = (supported & host_xcr0()) | 3;  // x87 and SSE always
  if (ioctl(fd_.get(), KVM_SET_XCRS, &x) < 0) return Errno{errno};
  return Ok();
}

Result<void> KvmVcpu::common_init() {
  // KVM refuses a CPUID change after the first KVM_RUN; a reused vCPU has it.
  if (!cpuid_set_) {
    if (ioctl(fd_.get(), kvm_abi::kSetCpuid2, vm_.cpuid()) < 0) return Errno{errno};
    cpuid_set_ = true;
  }
  TRY(set_msrs());
  install_kick_handler();
  return Ok();
}

Result<void> KvmVcpu::init(uint64_t cr3, const VcpuStart& start) {
  TRY(common_init());
  TRY(set_sregs(cr3));
  TRY(set_xcr0());
  return boot(start);
}

void KvmVcpu::load_regs(const kvm_regs& r) {
  run_->s.regs.regs = r;
  run_->kvm_valid_regs = KVM_SYNC_X86_REGS;
  run_->kvm_dirty_regs = 0;
}

// Backend state layout: kvm_sregs, the XSAVE area, XCR0, then the
// backend's own bytes.
Result<VcpuState> KvmVcpu::save_state() {
  VcpuState st;
  st.regs = regs();
  std::vector<uint8_t> extra = save_extra();
  constexpr size_t base = sizeof(kvm_sregs) + kvm_abi::kXsaveSize + sizeof(uint64_t);
  st.backend.resize(base + extra.size());
  uint8_t* p = st.backend.data();
  if (ioctl(fd_.get(), KVM_GET_SREGS, p) < 0) return Errno{errno};
  if (ioctl(fd_.get(), kvm_abi::kGetXsave, p + sizeof(kvm_sregs)) < 0) return Errno{errno};
  kvm_xcrs x{};
  if (ioctl(fd_.get(), KVM_GET_XCRS, &x) < 0) return Errno{errno};
  uint64_t xcr0 = x.nr_xcrs ? x.xcrs[0].value : 3;
  memcpy(p + sizeof(kvm_sregs) + kvm_abi::kXsaveSize, &xcr0, sizeof xcr0);
  if (!extra.empty()) memcpy(p + base, extra.data(), extra.size());
  return st;
}

Result<void> KvmVcpu::restore(const VcpuState& st) {
  constexpr size_t base = sizeof(kvm_sregs) + kvm_abi::kXsaveSize + sizeof(uint64_t);
  if (st.backend.size() < base) return Errno{EINVAL};
  TRY(common_init());
  const uint8_t* p = st.backend.data();
  // The saved state is another vCPU's (the parent thread's, or the forking
  // thread's): this one takes exceptions on its own TSS and stack. The
  // state is captured at a syscall exit, so no frame is live on the other
  // stack.
  kvm_sregs sregs;
  memcpy(&sregs, p, sizeof sregs);
  sregs.tr.base = super_va(SHIM_VCPU_TSS(static_cast<uint64_t>(id_)));
  if (st.new_fs_base) sregs.fs.base = st.fs_base;
  if (ioctl(fd_.get(), KVM_SET_SREGS, &sregs) < 0) return Errno{errno};
  kvm_xcrs x{};
  x.nr_xcrs = 1;
  memcpy(&x.xcrs[0].value, p + sizeof(kvm_sregs) + kvm_abi::kXsaveSize, sizeof(uint64_t));
  if (ioctl(fd_.get(), KVM_SET_XCRS, &x) < 0) return Errno{errno};
  if (ioctl(fd_.get(), kvm_abi::kSetXsave, p + sizeof(kvm_sregs)) < 0) return Errno{errno};
  // The general registers go in through the sync area at the first
  // KVM_RUN (KVM_SYNC_X86_REGS dirty): no KVM_SET_REGS.
  memcpy(&run_->s.regs.regs, &st.regs, sizeof run_->s.regs.regs);
  run_->kvm_valid_regs = KVM_SYNC_X86_REGS;
  run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
  return restore_extra(p + base, st.backend.size() - base);
}

const GuestRegs& KvmVcpu::regs() const {
  static_assert(sizeof(GuestRegs) == sizeof(kvm_regs));
  return *reinterpret_cast<const GuestRegs*>(&run_->s.regs.regs);
}

GuestRegs& KvmVcpu::mutable_regs() {
  run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
  return *reinterpret_cast<GuestRegs*>(&run_->s.regs.regs);
}

int KvmVcpu::enter(int* err) {
  t_current_run = run_;
  thread_.store(pthread_self());
  int r;
  for (;;) {
    uint64_t gen = vm_.roundtrip_gen_.load(std::memory_order_seq_cst);
    running_.store(true, std::memory_order_seq_cst);
    before_entry();
    r = ioctl(fd_.get(), KVM_RUN, 0);
    *err = errno;
    running_.store(false, std::memory_order_seq_cst);
    exits_.fetch_add(1, std::memory_order_seq_cst);
    run_->kvm_dirty_regs = 0;
    after_run(r, *err);
    // EFAULT while another thread's mprotect round trip made the frames
    // read-only on the host for a moment (PvmVm::invalidate, a private file
    // overlay): the guest store was legal; run it again. The sync regs hold
    // the state KVM_RUN stopped at, so nothing is lost.
    if (r < 0 && *err == EFAULT &&
        (vm_.roundtrips_active_.load(std::memory_order_seq_cst) > 0 ||
         vm_.roundtrip_gen_.load(std::memory_order_seq_cst) != gen)) {
      continue;
    }
    return r;
  }
}

VcpuExit KvmVcpu::exit_from_error(int err) {
  if (err == EINTR || err == EAGAIN) {
    run_->immediate_exit = 0;
    return {ExitKind::kInterrupted, {}, {}};
  }
  if (err == EFAULT) {
    // A guest access hit a page whose host mapping does not allow it (a
    // store to a read-only host page): the guest sees SIGSEGV or SIGBUS
    // (docs/internals.md).
    VcpuExit e{ExitKind::kFault, {}, {}};
    e.fault.vector = 14;
    e.fault.rip = regs().rip;
    e.fault.rsp = regs().rsp;
    e.fault.rflags = regs().rflags;
    e.fault.write_to_readonly_host = true;
    return e;
  }
  return {ExitKind::kFatal, {}, std::string("KVM_RUN failed: ") + strerror(err)};
}

VcpuExit KvmVcpu::exit_unexpected() {
  switch (run_->exit_reason) {
    case KVM_EXIT_INTR:
      return {ExitKind::kInterrupted, {}, {}};
    case KVM_EXIT_SHUTDOWN: {
      // Where it happened, for the report.
      char where[160] = "";
      kvm_sregs sr;
      const kvm_regs& r = run_->s.regs.regs;
      if (ioctl(fd_.get(), KVM_GET_SREGS, &sr) == 0)
        snprintf(where, sizeof where, " at rip %#llx rsp %#llx cs %#x ss %#x cr2 %#llx",
                 static_cast<unsigned long long>(r.rip), static_cast<unsigned long long>(r.rsp),
                 sr.cs.selector, sr.ss.selector, static_cast<unsigned long long>(sr.cr2));
      return {ExitKind::kFatal,
              {},
              std::string("the guest triple-faulted (KVM_EXIT_SHUTDOWN)") + where};
    }
    case KVM_EXIT_INTERNAL_ERROR:
      return {ExitKind::kFatal,
              {},
              "KVM internal error, suberror " + std::to_string(run_->internal.suberror)};
    case KVM_EXIT_FAIL_ENTRY:
      return {ExitKind::kFatal,
              {},
              "VM entry failed, hardware reason " +
                  std::to_string(run_->fail_entry.hardware_entry_failure_reason)};
    default:
      break;
  }
  return {ExitKind::kFatal, {}, "unexpected KVM exit " + std::to_string(run_->exit_reason)};
}

Result<uint64_t> KvmVcpu::cr2() {
  kvm_sregs s;
  if (ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) return Errno{errno};
  return s.cr2;
}

Result<void> KvmVcpu::enter_cpl0() {
  kvm_sregs s;
  if (ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) return Errno{errno};
  s.cs = code_or_data_segment(SHIM_KERNEL_CS, 0xb, true, 0);
  s.ss = code_or_data_segment(SHIM_KERNEL_DS, 0x3, false, 0);
  if (ioctl(fd_.get(), KVM_SET_SREGS, &s) < 0) return Errno{errno};
  return Ok();
}

static Result<uint64_t> get_segment_base(int fd, bool fs) {
  kvm_sregs s;
  if (ioctl(fd, KVM_GET_SREGS, &s) < 0) return Errno{errno};
  return fs ? s.fs.base : s.gs.base;
}

static Result<void> set_segment_base(int fd, bool fs, uint64_t base) {
  kvm_sregs s;
  if (ioctl(fd, KVM_GET_SREGS, &s) < 0) return Errno{errno};
  (fs ? s.fs : s.gs).base = base;
  if (ioctl(fd, KVM_SET_SREGS, &s) < 0) return Errno{errno};
  return Ok();
}

Result<void> KvmVcpu::set_fs_base(uint64_t base) {
  return set_segment_base(fd_.get(), true, base);
}
Result<uint64_t> KvmVcpu::fs_base() {
  return get_segment_base(fd_.get(), true);
}
Result<void> KvmVcpu::set_gs_base(uint64_t base) {
  return set_segment_base(fd_.get(), false, base);
}
Result<uint64_t> KvmVcpu::gs_base() {
  return get_segment_base(fd_.get(), false);
}

// Another thread makes KVM_RUN return: immediate_exit covers the window
// before the ioctl, the signal the one inside it. The signal is a tgkill
// from elfuse's own pid, which the SIGURG handler knows for a kick
// (src/kernel/signal_host.cc).
void KvmVcpu::kick() {
  run_->immediate_exit = 1;
  if (running_.load()) pthread_kill(thread_.load(), kKickSignal);
}

// ---------------------------------------------------------------- signals

Result<void> KvmVcpu::get_xsave(uint8_t* area) {
  if (ioctl(fd_.get(), kvm_abi::kGetXsave, area) < 0) return Errno{errno};
  return Ok();
}

Result<void> KvmVcpu::set_xsave(const uint8_t* area) {
  if (ioctl(fd_.get(), kvm_abi::kSetXsave, area) < 0) return Errno{errno};
  return Ok();
}

// XCR0 as set_xcr0() (or a forked parent) left it, and the standard-format
// XSAVE size for it: the end of the highest enabled component, from
// CPUID.(0xd, i) (EAX = size, EBX = offset), at least legacy area + header.
uint64_t KvmVcpu::xfeatures() {
  if (xcr0_ == 0) {
    kvm_xcrs x{};
    xcr0_ = (ioctl(fd_.get(), KVM_GET_XCRS, &x) == 0 && x.nr_xcrs) ? x.xcrs[0].value : 3;
    uint32_t size = 512 + 64;
    const kvm_cpuid2* c = vm_.cpuid();
    const kvm_cpuid_entry2* e = kvm_abi::cpuid_entries(c);
    for (uint32_t i = 0; i < c->nent; i++) {
      if (e[i].function != 0xd || e[i].index < 2 || e[i].index >= 64) continue;
      if (!(xcr0_ & (uint64_t{1} << e[i].index))) continue;
      size = std::max(size, e[i].ebx + e[i].eax);
    }
    xsave_size_ = std::min<uint32_t>(size, kXsaveAreaSize);
  }
  return xcr0_;
}

uint32_t KvmVcpu::xsave_user_size() {
  xfeatures();
  return xsave_size_;
}

void interrupt_current_vcpu_from_signal_handler() {
  kvm_run* run = t_current_run;
  if (run) run->immediate_exit = 1;
}

}  // namespace elfuse
