// PVM backend: VM and vCPU setup following the measured recipe in
// shared/pvm/README.md (section 2), and the exit decoding for the shim
// protocol (src/shim/shim_abi.h).
#include "hv/pvm/pvm_vm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/private_fd.h"
#include "hv/pvm/kvm_abi.h"
#include "mm/page_tables.h"
#include "shim/shim_abi.h"

extern "C" const char shim_entry_start[], shim_entry_end[], shim_entry_resume_trap[],
    shim_entry_resume_taken_back[], shim_entry_resume_claimed[], shim_entry_resume_answered[],
    shim_entry_epilogue[], shim_entry_epilogue_stack[], shim_entry_epilogue_done[],
    shim_entry_epilogue_end[], shim_super_start[], shim_super_end[], shim_boot[];

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
uint64_t entry_off(const char* sym) {
  return static_cast<uint64_t>(sym - shim_entry_start);
}
uint64_t shim_super_va(const char* sym) {
  return SHIM_SUPER_BASE + SHIM_OFF_KCODE + static_cast<uint64_t>(sym - shim_super_start);
}

void put_gate(uint8_t* idt, unsigned vector, uint64_t handler, unsigned dpl) {
  uint64_t attr = 0x8e | (dpl << 5);  // present, 64-bit interrupt gate
  uint64_t lo = (handler & 0xffff) | (uint64_t{SHIM_KERNEL_CS} << 16) | (attr << 40) |
                (((handler >> 16) & 0xffff) << 48);
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
// interrupt_current_vcpu_from_signal_handler(). Set in run(), cleared by the
// destructor before the mapping goes away (same thread, so a signal handler
// sees either a live mapping or nullptr).
thread_local kvm_run* volatile t_current_run = nullptr;

void install_kick_handler() {
  static bool installed = [] {
    struct sigaction sa {};
    sa.sa_handler = on_kick;
    sigemptyset(&sa.sa_mask);
    sigaction(kKickSignal, &sa, nullptr);
    return true;
  }();
  (void)installed;
}

}  // namespace

// ---------------------------------------------------------------- VM

PvmVm::PvmVm(UniqueFd kvm, UniqueFd vm, uint8_t* memory, uint64_t size)
    : kvm_(std::move(kvm)),
      vm_(std::move(vm)),
      memory_(memory),
      size_(size),
      process_page_(memory + SHIM_OFF_UPROC) {
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
  cpuid_.reset(c);
}

uint64_t PvmVm::task_size() const {
  return SHIM_TASK_SIZE;
}

// One memslot per 1 GiB step: KVM allocates a slot's metadata when it is
// registered, so memory the guest never uses costs nothing. Adding a slot
// does not disturb the shadow pages of the others, and needs no pause of
// the vCPUs that run meanwhile (docs/internals.md, "Guest physical memory").
Result<void> PvmVm::register_memory(uint64_t end) {
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

Result<void> PvmVm::set_host_window_slot(const HostWindow& w, bool present) {
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
Result<void> PvmVm::map_host_readonly(uint64_t gpa, const void* host, uint64_t len) {
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

const PvmVm::HostWindow* PvmVm::host_window(uint64_t gpa) const {
  for (const HostWindow& w : host_windows_)
    if (gpa >= w.gpa && gpa - w.gpa < w.len) return &w;
  return nullptr;
}

Result<void> PvmVm::install_shim(PageTables& pt) {
  size_t ulen = shim_entry_end - shim_entry_start;
  size_t klen = shim_super_end - shim_super_start;
  if (ulen > SHIM_E_DATA || klen > 4096) fatal("shim larger than a page");
  memset(memory_, 0, SHIM_SUPER_SIZE);
  memcpy(memory_ + SHIM_OFF_KCODE, shim_super_start, klen);
  // Nothing answered in the guest until the host says so (kernel/exitless).
  process_page_.set_pid(-1);
  process_page_.set_ppid(-1);
  process_page_.futex_waiters().store(GuestProcessPage::kFutexHostOnly);

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
    put_gate(memory_ + SHIM_OFF_IDT, v, h, (v == 3 || v == 4) ? 3 : 0);
  }

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

Result<std::unique_ptr<PvmVcpu>> PvmVm::new_vcpu() {
  std::lock_guard lock(vcpu_mu_);
  if (!idle_.empty()) {
    std::unique_ptr<PvmVcpu> v = std::move(idle_.back());
    idle_.pop_back();
    v->entry()->clear();
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
  // This vCPU's TSS: RSP0 = the top of its kernel stack; no I/O bitmap.
  uint8_t* tss = memory_ + SHIM_VCPU_TSS(id);
  memset(tss, 0, SHIM_VCPU_SLOT);
  uint64_t rsp0 = super_va(SHIM_VCPU_KSTACK_TOP(id));
  memcpy(tss + 4, &rsp0, 8);
  uint16_t iomap = 0x68;
  memcpy(tss + 0x66, &iomap, 2);
  // Its syscall entry: the code, then nothing answered, nothing allowed.
  memcpy(memory_ + SHIM_OFF_UENTRY(id), shim_entry_start, shim_entry_end - shim_entry_start);
  auto v =
      std::make_unique<PvmVcpu>(*this, UniqueFd(fd), static_cast<kvm_run*>(run), run_size_, id);
  v->entry()->clear();
  return v;
}

void PvmVm::release_vcpu(std::unique_ptr<Vcpu> vcpu) {
  if (!vcpu) return;
  std::lock_guard lock(vcpu_mu_);
  idle_.push_back(std::unique_ptr<PvmVcpu>(static_cast<PvmVcpu*>(vcpu.release())));
}

void PvmVm::prepare_vcpu() {
  Result<std::unique_ptr<PvmVcpu>> v = new_vcpu();
  if (!v.ok()) return;
  // CPUID (the slow part: KVM asks the host CPU) and the MSRs; the rest
  // is set when the vCPU is used.
  if (!(*v)->common_init().ok()) return;  // dropped: create_vcpu tries anew
  release_vcpu(std::move(v.value()));
}

Result<std::unique_ptr<Vcpu>> PvmVm::create_vcpu(uint64_t cr3, const VcpuStart& start) {
  std::unique_ptr<PvmVcpu> vcpu = TRY(new_vcpu());
  TRY(vcpu->init(cr3, start));
  return std::unique_ptr<Vcpu>(std::move(vcpu));
}

Result<std::unique_ptr<Vcpu>> PvmVm::restore_vcpu(const VcpuState& state) {
  std::unique_ptr<PvmVcpu> vcpu = TRY(new_vcpu());
  TRY(vcpu->restore(state));
  return std::unique_ptr<Vcpu>(std::move(vcpu));
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
  if (pa >= size_ || len > size_ - pa) return;
  uint8_t* host = memory_ + pa;
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

// A KVM_RUN that failed with EFAULT is retried when a round trip is in
// progress, or began or ended while it ran (the generation moved).
void PvmVm::reprotect_begin() {
  roundtrips_active_.fetch_add(1, std::memory_order_seq_cst);
  roundtrip_gen_.fetch_add(1, std::memory_order_seq_cst);
}
void PvmVm::reprotect_end() {
  roundtrip_gen_.fetch_add(1, std::memory_order_seq_cst);
  roundtrips_active_.fetch_sub(1, std::memory_order_seq_cst);
}

// ---------------------------------------------------------------- vCPU

PvmVcpu::PvmVcpu(PvmVm& vm, UniqueFd fd, kvm_run* run, size_t run_size, int id)
    : vm_(vm),
      fd_(std::move(fd)),
      run_(run),
      run_size_(run_size),
      id_(id),
      entry_(vm.memory() + SHIM_OFF_UENTRY(id), vm.memory() + SHIM_OFF_UREQ(id)) {
  // The guest's TSC rate, for the entry's wait (the same for every vCPU of
  // this host: asked once).
  static const int khz = ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
  entry_.set_tsc_khz(khz > 0 ? static_cast<uint64_t>(khz) : 0);
}

uint64_t PvmVcpu::entry_va(const char* sym) const {
  return SHIM_USER_ENTRY(static_cast<uint64_t>(id_)) + entry_off(sym);
}
bool PvmVcpu::in_entry(uint64_t rip) const {
  uint64_t base = SHIM_USER_ENTRY(static_cast<uint64_t>(id_));
  return rip >= base && rip < base + entry_off(shim_entry_end);
}

uint64_t PvmVcpu::tss_off() const {
  return SHIM_VCPU_TSS(static_cast<uint64_t>(id_));
}
uint64_t PvmVcpu::kstack_top() const {
  return SHIM_VCPU_KSTACK_TOP(static_cast<uint64_t>(id_));
}

PvmVcpu::~PvmVcpu() {
  if (t_current_run == run_) t_current_run = nullptr;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  munmap(run_, run_size_);
}

Result<void> PvmVcpu::set_msrs() {
  // The kernel's layout: u32 nmsrs, u32 pad, entries at offset 8.
  alignas(8) uint8_t buf[8 + 4 * sizeof(kvm_msr_entry)] = {};
  auto* m = reinterpret_cast<kvm_msrs*>(buf);
  auto* e = reinterpret_cast<kvm_msr_entry*>(buf + 8);
  m->nmsrs = 4;
  e[0] = {kMsrStar, 0, (uint64_t{SHIM_USER32_CS} << 48) | (uint64_t{SHIM_KERNEL_CS} << 32)};
  e[1] = {kMsrLstar, 0, entry_va(shim_entry_start)};
  e[2] = {kMsrCstar, 0, entry_va(shim_entry_start)};
  e[3] = {kMsrSyscallMask, 0, kSyscallMask};
  int r = ioctl(fd_.get(), kvm_abi::kSetMsrs, m);
  if (r != 4) return Errno{r < 0 ? errno : EINVAL};
  return Ok();
}

Result<void> PvmVcpu::set_sregs(uint64_t cr3) {
  kvm_sregs s{};
  if (ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) return Errno{errno};
  s.cr0 = 0x80050033;  // PG AM WP NE ET MP PE
  s.cr3 = cr3;
  // PAE OSFXSR OSXMMEXCPT OSXSAVE. PCIDE is refused by this module.
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
  s.tr.base = super_va(tss_off());
  s.tr.limit = 0x67;
  s.tr.selector = SHIM_TSS_SEL;
  s.tr.type = 11;
  s.tr.present = 1;
  if (ioctl(fd_.get(), KVM_SET_SREGS, &s) < 0) return Errno{errno};
  return Ok();
}

// XCR0 enables the register state (SSE, AVX, AVX-512...) the guest may use:
// what both KVM and the host support.
Result<void> PvmVcpu::set_xcr0() {
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

Result<void> PvmVcpu::common_init() {
  // KVM refuses a CPUID change after the first KVM_RUN; a reused vCPU has it.
  if (!cpuid_set_) {
    if (ioctl(fd_.get(), kvm_abi::kSetCpuid2, vm_.cpuid()) < 0) return Errno{errno};
    cpuid_set_ = true;
  }
  TRY(set_msrs());
  install_kick_handler();
  return Ok();
}

Result<void> PvmVcpu::init(uint64_t cr3, const VcpuStart& start) {
  TRY(common_init());
  TRY(set_sregs(cr3));
  TRY(set_xcr0());

  // The boot stub `iretq`s to the program's entry through a frame on the
  // kernel stack; every GPR is zero, as Linux's ELF_PLAT_INIT leaves them.
  uint64_t frame[5] = {start.entry, SHIM_USER_CS, 0x202, start.rsp, SHIM_USER_DS};
  uint64_t frame_off = kstack_top() - sizeof frame;
  memcpy(vm_.memory() + frame_off, frame, sizeof frame);
  kvm_regs r{};
  r.rip = shim_super_va(shim_boot);
  r.rsp = super_va(frame_off);
  r.rflags = 0x2;
  if (ioctl(fd_.get(), KVM_SET_REGS, &r) < 0) return Errno{errno};
  // The sync area mirrors the registers from now on (a dirty write-back
  // before the first exit must not load zeros).
  run_->s.regs.regs = r;
  run_->kvm_valid_regs = KVM_SYNC_X86_REGS;
  return Ok();
}

// Backend state layout: kvm_sregs, then the XSAVE area, then XCR0.
Result<VcpuState> PvmVcpu::save_state() {
  VcpuState st;
  st.regs = regs();
  st.backend.resize(sizeof(kvm_sregs) + kvm_abi::kXsaveSize + sizeof(uint64_t));
  uint8_t* p = st.backend.data();
  if (ioctl(fd_.get(), KVM_GET_SREGS, p) < 0) return Errno{errno};
  if (ioctl(fd_.get(), kvm_abi::kGetXsave, p + sizeof(kvm_sregs)) < 0) return Errno{errno};
  kvm_xcrs x{};
  if (ioctl(fd_.get(), KVM_GET_XCRS, &x) < 0) return Errno{errno};
  uint64_t xcr0 = x.nr_xcrs ? x.xcrs[0].value : 3;
  memcpy(p + sizeof(kvm_sregs) + kvm_abi::kXsaveSize, &xcr0, sizeof xcr0);
  return st;
}

Result<void> PvmVcpu::restore(const VcpuState& st) {
  if (st.backend.size() != sizeof(kvm_sregs) + kvm_abi::kXsaveSize + sizeof(uint64_t))
    return Errno{EINVAL};
  TRY(common_init());
  const uint8_t* p = st.backend.data();
  // The saved state is another vCPU's (the parent thread's, or the forking
  // thread's): this one takes exceptions on its own TSS and stack. The
  // state is captured at a syscall exit, at CPL 3, so no frame is live on
  // the other stack.
  kvm_sregs sregs;
  memcpy(&sregs, p, sizeof sregs);
  sregs.tr.base = super_va(tss_off());
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
  return Ok();
}

const GuestRegs& PvmVcpu::regs() const {
  static_assert(sizeof(GuestRegs) == sizeof(kvm_regs));
  return *reinterpret_cast<const GuestRegs*>(&run_->s.regs.regs);
}

GuestRegs& PvmVcpu::mutable_regs() {
  run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
  return *reinterpret_cast<GuestRegs*>(&run_->s.regs.regs);
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
      memcpy(&sp, vm_.memory() + SHIM_OFF_UREQ(id_) + SHIM_R_SAVE_RSP, sizeof sp);
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
  reinterpret_cast<std::atomic<uint32_t>*>(vm_.memory() + SHIM_OFF_UENTRY(id_) + SHIM_E_EXIT_REQ)
      ->store(1, std::memory_order_seq_cst);
  exit_requested_ = true;
}

VcpuExit PvmVcpu::run() {
  VcpuExit e = run_once();
  if (e.kind == ExitKind::kInterrupted && in_entry(regs().rip)) {
    settle_in_entry();
  } else if (exit_requested_) {
    reinterpret_cast<std::atomic<uint32_t>*>(vm_.memory() + SHIM_OFF_UENTRY(id_) + SHIM_E_EXIT_REQ)
        ->store(0, std::memory_order_relaxed);
    exit_requested_ = false;
  }
  return e;
}

VcpuExit PvmVcpu::run_once() {
  t_current_run = run_;
  thread_.store(pthread_self());
  int r, err;
  for (;;) {
    uint64_t gen = vm_.roundtrip_gen_.load(std::memory_order_seq_cst);
    running_.store(true);
    r = ioctl(fd_.get(), KVM_RUN, 0);
    err = errno;
    running_.store(false);
    run_->kvm_dirty_regs = 0;
    // EFAULT while another thread's mprotect round trip made the frames
    // read-only on the host for a moment (PvmVm::invalidate): the guest
    // store was legal; run it again. The sync regs hold the state KVM_RUN
    // stopped at, so nothing is lost.
    if (r < 0 && err == EFAULT &&
        (vm_.roundtrips_active_.load(std::memory_order_seq_cst) > 0 ||
         vm_.roundtrip_gen_.load(std::memory_order_seq_cst) != gen)) {
      continue;
    }
    break;
  }
  if (r < 0) {
    if (err == EINTR || err == EAGAIN) {
      run_->immediate_exit = 0;
      return {ExitKind::kInterrupted, {}, {}};
    }
    if (err == EFAULT) {
      // A guest store hit a page whose host mapping is read-only: the guest
      // sees SIGSEGV (docs/internals.md).
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
  switch (run_->exit_reason) {
    case KVM_EXIT_MMIO:
      if (answer_host_window_load()) return run_once();  // rare: see PvmVm::invalidate
      return exit_from_mmio();
    case KVM_EXIT_IO:
      if (run_->io.port == SHIM_PORT_FAULT) return exit_from_fault_port();
      break;
    case KVM_EXIT_INTR:
      return {ExitKind::kInterrupted, {}, {}};
    case KVM_EXIT_SHUTDOWN:
      return {ExitKind::kFatal, {}, "the guest triple-faulted (KVM_EXIT_SHUTDOWN)"};
    case KVM_EXIT_INTERNAL_ERROR:
      return {ExitKind::kFatal,
              {},
              "KVM internal error, suberror " + std::to_string(run_->internal.suberror)};
    default:
      break;
  }
  return {ExitKind::kFatal, {}, "unexpected KVM exit " + std::to_string(run_->exit_reason)};
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
  const PvmVm::HostWindow* w = vm_.host_window(gpa);
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
  VcpuExit e{ExitKind::kFault, {}, {}};
  e.fault.vector = static_cast<uint8_t>(frame[0]);
  e.fault.error_code = frame[1];
  e.fault.rip = frame[2];
  e.fault.rflags = frame[4];
  e.fault.rsp = frame[5];
  if (e.fault.vector == 14) {
    kvm_sregs s;
    if (ioctl(fd_.get(), KVM_GET_SREGS, &s) == 0) e.fault.address = s.cr2;
  }
  return e;
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

Result<void> PvmVcpu::set_fs_base(uint64_t base) {
  return set_segment_base(fd_.get(), true, base);
}
Result<uint64_t> PvmVcpu::fs_base() {
  return get_segment_base(fd_.get(), true);
}
Result<void> PvmVcpu::set_gs_base(uint64_t base) {
  return set_segment_base(fd_.get(), false, base);
}
Result<uint64_t> PvmVcpu::gs_base() {
  return get_segment_base(fd_.get(), false);
}

// Another thread makes KVM_RUN return: immediate_exit covers the window
// before the ioctl, the signal the one inside it.
void PvmVcpu::kick() {
  run_->immediate_exit = 1;
  if (running_.load()) pthread_kill(thread_.load(), kKickSignal);
}

// ---------------------------------------------------------------- signals

Result<void> PvmVcpu::get_xsave(uint8_t* area) {
  if (ioctl(fd_.get(), kvm_abi::kGetXsave, area) < 0) return Errno{errno};
  return Ok();
}

Result<void> PvmVcpu::set_xsave(const uint8_t* area) {
  if (ioctl(fd_.get(), kvm_abi::kSetXsave, area) < 0) return Errno{errno};
  return Ok();
}

// XCR0 as set_xcr0() (or a forked parent) left it, and the standard-format
// XSAVE size for it: the end of the highest enabled component, from
// CPUID.(0xd, i) (EAX = size, EBX = offset), at least legacy area + header.
uint64_t PvmVcpu::xfeatures() {
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

uint32_t PvmVcpu::xsave_user_size() {
  xfeatures();
  return xsave_size_;
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

void interrupt_current_vcpu_from_signal_handler() {
  kvm_run* run = t_current_run;
  if (run) run->immediate_exit = 1;
}

}  // namespace elfuse
