// MemoryManager: a guest process's memory. Owns the host reservation that
// backs guest-physical memory, the AddressSpace (VMAs), the guest page tables
// and the layout (mmap base, brk). Implements the memory syscalls with Linux's
// semantics and errno, and is the only way host code reads or writes guest
// memory (copy_in / copy_out check every byte against the VMAs).
//
// One class in several files along Linux's mm/ (memory_manager.cc says
// which). Thread safety: one lock, mu_, guards the AddressSpace and the
// rest; it is not recursive. Every public member takes it once; nothing
// outside reads the AddressSpace without it (find_vma, with_vmas,
// snapshot). Its place among elfuse's locks: src/mm/lock_order.h.
#pragma once

#include <sys/mman.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "mm/address_space.h"
#include "mm/guest_limits.h"
#include "mm/lock_order.h"
#include "mm/page_tables.h"
#include "mm/phys_alloc.h"

namespace elfuse {

// Makes host-side changes of present guest PTEs visible to running vCPUs
// (PVM shadow paging, see docs/internals.md). Calls happen after the PTEs
// were rewritten and before the syscall returns.
class ShadowSync {
 public:
  virtual ~ShadowSync() = default;
  // The guest-physical run [pa, pa+len) lost mappings or permissions but its
  // contents stay live (mprotect narrowing, moves).
  virtual void narrowed(uint64_t pa, uint64_t len) = 0;
  // The run [pa, pa+len) is freed: its contents may be discarded.
  virtual void freed(uint64_t pa, uint64_t len) = 0;
  // Guest-physical [old_end, new_end) is about to be used: make it guest
  // memory (register it with the VM). false: it cannot be had.
  virtual bool extend(uint64_t old_end, uint64_t new_end) { return false; }
  // Around a host mprotect round trip on a live run (a notifier that keeps
  // the contents): other threads' vCPUs retry a store or load that fails in
  // its window (src/hv/hypervisor.h Vm::reprotect_begin).
  virtual void reprotect_begin() {}
  virtual void reprotect_end() {}
};

struct Layout {
  uint64_t task_size;      // end of the guest's user range (the shim sits above)
  uint64_t mmap_base;      // top-down mmap allocations start below this
  uint64_t mmap_min;       // lowest address mmap hands out without MAP_FIXED
  uint64_t stack_top;      // initial stack top
  uint64_t brk_start = 0;  // set by the loader after the last segment
  uint64_t brk = 0;
  // mm->end_data - mm->start_data (set at exec): brk counts it against
  // RLIMIT_DATA with the heap (check_data_rlimit).
  uint64_t data_size = 0;
};

class MemoryManager {
 public:
  // reservation: host mapping of all guest-physical memory, phys_size bytes.
  // Page-table frames and data runs are allocated from `phys`.
  MemoryManager(uint8_t* reservation, uint64_t phys_size, PhysAllocator phys, ShadowSync* sync,
                Layout layout);
  MemoryManager(const MemoryManager&) = delete;
  MemoryManager& operator=(const MemoryManager&) = delete;
  // Turns every file / shared-anonymous overlay back into anonymous
  // reservation memory, so the next MemoryManager over the same reservation
  // (execve) finds only anonymous runs.
  ~MemoryManager();

  // ---- syscalls (arguments exactly as the guest passed them) ----
  // Return the address or a Linux errno.
  Result<uint64_t> mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, uint64_t off);
  Result<void> munmap(uint64_t addr, uint64_t len);
  Result<void> mprotect(uint64_t addr, uint64_t len, int prot);
  Result<uint64_t> mremap(uint64_t old_addr, uint64_t old_len, uint64_t new_len, int flags,
                          uint64_t new_addr);
  Result<void> madvise(uint64_t addr, uint64_t len, int advice);
  // mm/mseal.c do_mseal: seals every VMA of [start, start+len).
  Result<void> mseal(uint64_t start, uint64_t len, uint64_t flags);
  // mm/mmap.c remap_file_pages: the emulation Linux keeps (an mmap of the
  // same file at another offset over a shared file mapping).
  Result<void> remap_file_pages(uint64_t start, uint64_t size, uint64_t prot, uint64_t pgoff,
                                uint64_t flags);
  Result<void> msync(uint64_t addr, uint64_t len, int flags);
  uint64_t brk(uint64_t new_brk);  // brk(2) never fails: returns the current break
  // System V shared memory (ipc/shm.c do_shmat, ksys_shmdt): the segment is
  // a host shmat(2) over the VMA's run (docs/internals.md "System V shared
  // memory"). shmid, addr and shmflg as the guest passed them.
  Result<uint64_t> shmat(int shmid, uint64_t addr, int shmflg);
  Result<void> shmdt(uint64_t addr);
  // mm/mlock.c: mlock/mlock2 (kind kLocked or kLockedOnFault), munlock,
  // mlockall, munlockall. The host run of a locked VMA is locked too.
  Result<void> mlock(uint64_t start, uint64_t len, Vma::Lock kind);
  Result<void> munlock(uint64_t start, uint64_t len);
  Result<void> mlockall(int flags);
  Result<void> munlockall();
  // mm->locked_vm in bytes (VmLck in /proc/self/status).
  uint64_t locked_bytes() const;
  // A forked child: memory locks and mlockall(MCL_FUTURE) are not
  // inherited (kernel/fork.c dup_mmap, mm_init); the host fork already
  // dropped the host's locks.
  void drop_locks_in_child();
  // A forked child (kernel/fork.c dup_mmap), before its first guest
  // instruction: VMAs marked MADV_DONTFORK are unmapped, the pages of
  // private anonymous VMAs marked MADV_WIPEONFORK read as zeros (the
  // VMAs keep the flag, as Linux's child does). Not for a vfork that
  // shares the parent's memory.
  void fork_advice_in_child();

  // ---- checked access to guest memory ----
  // EFAULT unless every byte is mapped with PROT_READ (copy_in) or
  // PROT_WRITE (copy_out).
  Result<void> copy_in(void* dst, uint64_t guest_src, uint64_t len) const;
  Result<void> copy_out(uint64_t guest_dst, const void* src, uint64_t len);
  // NUL-terminated string of at most max bytes including the NUL:
  // EFAULT, or ENAMETOOLONG when no NUL within max.
  Result<std::string> copy_in_string(uint64_t guest_src, uint64_t max) const;
  // access_remote_vm(mm, addr, buf, len, FOLL_FORCE [| FOLL_WRITE]) as
  // /proc/PID/mem uses it (fs/proc/base.c mem_rw): the number of bytes
  // moved from the start of [addr, addr+len) before the first byte that
  // cannot be (0 for none). The rules are mm/gup.c check_vma_flags': no
  // VM_IO/VM_PFNMAP memory (kHost); a read of memory without PROT_READ
  // needs VM_MAYREAD; a write to memory without PROT_WRITE needs a
  // copy-on-write mapping (private, VM_MAYWRITE) and writes the process's
  // private copy of the page, never the file. docs/internals.md "/proc".
  uint64_t access_forced(uint64_t addr, void* buf, uint64_t len, bool write);
  // Host iovecs covering [guest, guest+len), split at VMA edges, each byte
  // checked for prot (PROT_READ or PROT_WRITE). len 0 gives an empty vector.
  Result<std::vector<iovec>> host_ranges(uint64_t guest, uint64_t len, int prot) const;
  // A #PF at va hit a page of a special mapping that Linux would answer
  // with SIGBUS (BUS_ADRERR at va), not SIGSEGV.
  bool host_page_sigbus(uint64_t va) const;
  // After KVM_RUN failed with EFAULT: the guest address of a page of a file
  // overlay the host cannot fault in (wholly past the end of the file: the
  // guest's SIGBUS, mm/filemap.c filemap_fault), or nullopt. gpa_hint: the
  // guest-physical address KVM reported, if any (~0 otherwise).
  std::optional<uint64_t> find_sigbus_page(uint64_t gpa_hint) const;

  // ---- for the loader and the run loop ----
  // Map [addr, addr+len) anonymous private at a fixed address with prot,
  // max_prot = PROT_READ|WRITE|EXEC, named (e.g. "[stack]", "[heap]", "").
  Result<void> map_fixed_anon(uint64_t addr, uint64_t len, int prot, const std::string& name,
                              int extra_flags = 0);
  // elf_map (fs/binfmt_elf.c): the file's pages from offset, mapped
  // MAP_PRIVATE|MAP_FIXED over [addr, addr+len) with prot, as a guest mmap
  // of the file would be (an overlay: the page cache is the only copy until
  // a store), named name (for /proc/self/maps). fd is elfuse's own
  // descriptor of the ELF file; the mapping does not keep it.
  Result<void> map_fixed_file(uint64_t addr, uint64_t len, int prot, int fd, uint64_t offset,
                              const std::string& name);
  // install_special_mapping (mm/mmap.c): a mapping the kernel makes itself,
  // here the vDSO's (src/vdso). It keeps its name, is never merged, cannot
  // be split (EINVAL) or grown (EFAULT), and mremap moves it whole.
  struct SpecialMapping {
    std::string name;
    int prot = PROT_READ;
    int max_prot = PROT_READ;  // the VM_MAY* bits
    // Either host pages outside the reservation that the VM maps read-only
    // at guest-physical `gpa` (Vm::map_host_readonly; Vma::kHost: the
    // host's [vvar] pages, VM_PFNMAP|VM_IO in the kernel)...
    uint64_t gpa = 0;
    uint8_t* host = nullptr;
    // ...or a file mapped private over a fresh run (the vDSO text): a store
    // copies on write, MADV_DONTNEED brings the file's bytes back.
    int fd = -1;
  };
  Result<void> map_special(uint64_t addr, uint64_t len, const SpecialMapping& m);
  // get_unmapped_area(NULL, hint, len, 0, 0): where a new mapping of len
  // bytes goes (at the hint if free, else top-down below the mmap base).
  Result<uint64_t> free_area(uint64_t hint, uint64_t len) const;
  // Host pointer for guest-physical address pa (no checks): the
  // reservation, or the host pages of a special mapping.
  uint8_t* host_phys(uint64_t pa) const {
    return pa < phys_size_ ? reservation_ + pa : host_window(pa);
  }
  uint64_t cr3() const { return page_tables_.root(); }
  PageTables& page_tables() { return page_tables_; }
  // ---- reading the VMAs (under the lock; other threads map and unmap) ----
  // A copy of the VMA containing addr, if any.
  std::optional<Vma> find_vma(uint64_t addr) const {
    std::lock_guard lock(mu_);
    const Vma* v = as_.find(addr);
    return v ? std::optional<Vma>(*v) : std::nullopt;
  }
  // fn(const AddressSpace&) run under the lock; its result is returned.
  // fn must not call back into this MemoryManager (the lock is not
  // recursive: CheckedMutex makes that fatal) and must not keep a pointer
  // into the AddressSpace past its return. host_phys, which takes no
  // lock, is fine.
  template <class Fn>
  auto with_vmas(Fn&& fn) const {
    std::lock_guard lock(mu_);
    return fn(static_cast<const AddressSpace&>(as_));
  }
  // A copy of every VMA (for /proc/self/maps and the like).
  std::vector<Vma> snapshot() const {
    std::lock_guard lock(mu_);
    std::vector<Vma> out;
    out.reserve(as_.size());
    for (const Vma& v : as_) out.push_back(v);
    return out;
  }
  // The current program break (brk changes it under the lock).
  uint64_t current_brk() const {
    std::lock_guard lock(mu_);
    return layout_.brk;
  }
  // Unlocked: for the loader and execve, which set the layout up before
  // any other thread can use this MemoryManager.
  Layout& layout() { return layout_; }
  // The process's RLIMIT_AS, RLIMIT_DATA and RLIMIT_MEMLOCK (the guest's,
  // mm/guest_limits.h); null: none (unit tests). The object outlives the
  // MemoryManager (it is the Process's; a forked child's copy sits at the
  // same address).
  void set_limits(const GuestRlimits* limits) { limits_ = limits; }
  // fork (src/kernel/fork.cc): held across the host fork, so that no other
  // thread is half-way through a change the child would copy; the child
  // then needs a new mutex (the copy is held, by the parent's thread).
  void lock_for_fork() const { mu_.lock(); }
  void unlock_after_fork() const { mu_.unlock(); }
  void reset_lock_in_child() const { mu_.reset_in_child(); }

 private:
  // PageTables reaches guest memory through this: host pointers into the
  // reservation, table frames from phys_.
  class TableMem : public TableMemory {
   public:
    explicit TableMem(MemoryManager* mm) : mm_(mm) {}
    uint8_t* host(uint64_t pa) override { return mm_->host_phys(pa); }
    std::optional<uint64_t> alloc_table() override { return mm_->phys_.alloc_table(); }

   private:
    MemoryManager* mm_;
  };

  // A new mapping as mmap/brk/the loader ask for it.
  struct NewMapping {
    uint64_t addr = 0, len = 0;
    int prot = PROT_NONE;
    int max_prot = kProtRWX;
    int flags = MAP_PRIVATE;
    Vma::Backing backing = Vma::kAnon;
    std::string name;
    uint64_t file_offset = 0;
    PhysAllocator::Placement where = PhysAllocator::Placement::kHigh;
    bool special = false;  // SpecialMapping with an fd
    // kFile / kSharedAnon: the host fd whose file is mapped over the run
    // (MAP_SHARED when flags say so, else MAP_PRIVATE), and its identity.
    int overlay_fd = -1;
    uint64_t file_dev = 0, file_ino = 0;
    // kShm: the segment, the host shmat flags, and the attach's identity.
    int shm_id = -1, shm_host_flags = 0;
    uint64_t shm_attach = 0, shm_size = 0;
    Vma::Lock lock = Vma::kUnlocked;  // VM_LOCKED (MAP_LOCKED, mlockall(MCL_FUTURE))
  };

  // Host memory behind guest-physical addresses outside the reservation
  // (SpecialMapping::host). Fatal for an address no window covers.
  uint8_t* host_window(uint64_t pa) const;
  // EFAULT when [pa, pa + len) of a host window has a page the host kernel
  // does not map (copy_from_user fails there too).
  Result<void> check_host_pages(uint64_t pa, uint64_t len) const;
  // vm_ops->may_split of a special mapping (mm/mmap.c special_mapping_split):
  // the special VMA that an operation on [start, end) would split, if any.
  const Vma* special_split(uint64_t start, uint64_t end) const;

  // get_unmapped_area: the address for a new mapping of len bytes.
  // phys_hint: a physical address the range will map, to pick a 2 MiB
  // congruent virtual address (or ~0 for none).
  Result<uint64_t> unmapped_area(uint64_t hint, uint64_t len, int flags,
                                 uint64_t phys_hint = ~0ull) const;
  // Creates the VMA, its run and its PTEs. replace: MAP_FIXED semantics.
  Result<uint64_t> install(const NewMapping& m, bool replace);
  // Removes [start, end): PTEs, VMAs, and releases the runs.
  void unmap_range(uint64_t start, uint64_t end);
  // munmap with mu_ held (mremap unmaps with it).
  Result<void> munmap_locked(uint64_t addr, uint64_t len);
  // Fatal unless the calling thread holds mu_ (for the members below that
  // expect it held).
  void assert_locked() const;
  // Host side of a released run: discard the contents, tell the shadow
  // sync, return it to phys_.
  void release_run(uint64_t pa, uint64_t len);
  // release_run for a VMA piece: an overlay is first replaced by anonymous
  // memory (the run is anonymous again when reused).
  void release_piece(const Vma& piece);
  // Maps fresh anonymous reservation memory over [pa, pa+len) (the end of
  // an overlay). Fatal on failure: a hole in the reservation would be a hole
  // in the guest's physical memory.
  void restore_anon(uint64_t pa, uint64_t len);
  // The guest PTEs of a piece lost permissions or moved away; its contents
  // stay live. Drops KVM's shadow entries of its frames (docs/internals.md).
  void invalidate_live(const Vma& piece);
  // Moves the overlay of piece (old_len bytes at piece.phys) to the run at
  // new_pa, growing it to new_len (the host extends the file mapping), and
  // makes the old run anonymous again.
  Result<void> move_overlay(const Vma& piece, uint64_t new_pa, uint64_t new_len);
  // Copies between host memory and a guest piece that is an overlay: such
  // pages may be past the end of the file, where a plain memcpy would raise
  // SIGBUS in elfuse itself. A fault-tolerant copy (base/safe_copy.h) stops
  // there: EFAULT, as Linux's copy_from_user gives.
  static Result<void> overlay_copy(void* dst, const void* src, uint64_t len);
  void write_ptes(uint64_t va, uint64_t pa, uint64_t len, int prot);
  void write_table_entries(uint64_t va, uint64_t pa, uint64_t len, int prot);
  void clear_ptes(uint64_t va, uint64_t len);
  // Moves contents between runs of the reservation (host pages, not copies,
  // where the host allows it).
  void move_contents(uint64_t dst_pa, uint64_t src_pa, uint64_t len);
  // The VMA containing va grows to new_end at the same virtual address
  // ([old end, new_end) must be free): in place in phys_ when possible,
  // otherwise by moving the whole VMA to a new run.
  Result<void> grow_vma(Vma v, uint64_t new_end,
                        PhysAllocator::Placement where);  // v by value: the original may go away
  Result<uint64_t> move_vma(const Vma& v, uint64_t addr, uint64_t old_len, uint64_t new_len,
                            uint64_t dest, bool keep_old);
  Result<uint64_t> mremap_to(uint64_t addr, uint64_t old_len, uint64_t new_len, int flags,
                             uint64_t new_addr);
  // mremap with old_len 0 of a shared mapping: a second VMA at dest over
  // the same file or memfd pages (from addr's offset), the original kept.
  Result<uint64_t> dup_shared(const Vma& v, uint64_t addr, uint64_t new_len, uint64_t dest);
  Result<void> check_access(uint64_t guest, uint64_t len, int prot) const;
  // The host side of a VMA's mlock state: mlock2 of its run (on fault for
  // kLockedOnFault, and for inaccessible memory, which Linux does not
  // populate), or munlock. Called before a run is discarded or moved
  // (the host refuses MADV_DONTNEED on locked memory) and after.
  void host_lock(const Vma& v);
  void host_unlock(const Vma& v);
  // apply_vma_lock_flags: [start, end) page aligned.
  Result<void> apply_lock(uint64_t start, uint64_t end, Vma::Lock kind);
  uint64_t locked_bytes_locked() const;
  // mm/mlock.c mlock_future_ok: may len more bytes be locked?
  bool lock_future_ok(Vma::Lock lock, uint64_t len) const;
  Result<void> madvise_vma(const Vma& piece, int advice);
  // Some VMA piece of [start, end) is sealed (vms_gather_munmap_vmas:
  // unmapping or replacing it is EPERM).
  bool range_sealed(uint64_t start, uint64_t end) const;
  Result<void> fork_advice(const Vma& piece, int advice);
  // mm/mmap.c may_expand_vm for npages more pages mapped with (prot,
  // flags) against the guest's RLIMIT_AS and RLIMIT_DATA. Walks the VMAs
  // (mm->total_vm, mm->data_vm) only when one of the two is finite.
  bool may_expand(int prot, int flags, uint64_t npages) const;
  // Pages mapped in [start, end) (count_vma_pages_range).
  uint64_t mapped_pages(uint64_t start, uint64_t end) const;
  uint64_t memlock_limit_bytes() const;

  uint8_t* reservation_;
  uint64_t phys_size_;
  PhysAllocator phys_;
  ShadowSync* sync_;
  Layout layout_;
  AddressSpace as_;
  TableMem table_mem_{this};
  PageTables page_tables_;
  // Guest threads make memory syscalls and copies concurrently (one host
  // thread per vCPU). Not recursive: public members lock, the private ones
  // they call expect the lock held (src/mm/lock_order.h).
  mutable CheckedMutex mu_;
  // mlockall(MCL_FUTURE): the lock state of new mappings (mm->def_flags).
  Vma::Lock def_lock_ = Vma::kUnlocked;
  uint64_t next_shm_attach_ = 1;
  const GuestRlimits* limits_ = nullptr;
  struct HostWindow {
    uint64_t gpa, len;
    uint8_t* host;
    // Pages the host kernel refuses to map (its fault handler's
    // VM_FAULT_SIGBUS: [vvar_vclock] without that paravirtual clock, the
    // time-namespace page outside one). They get no guest PTE, so a guest
    // access is a #PF, which is the guest's SIGBUS (host_page_sigbus).
    std::vector<bool> sigbus;
  };
  std::vector<HostWindow> host_windows_;  // a process's are made at exec, kept by fork
};

}  // namespace elfuse
