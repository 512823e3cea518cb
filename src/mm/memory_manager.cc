// Memory syscalls with Linux's semantics. The order of checks, and so which
// errno wins when several apply, follows the kernel functions named in the
// comments (mm/mmap.c, mm/mremap.c, mm/mprotect.c, mm/madvise.c, mm/vma.c,
// arch/x86/kernel/sys_x86_64.c) as of Linux 6.x.
//
// Physical memory: each VMA maps one contiguous run of guest-physical memory.
// The reservation is private anonymous host memory (docs/design.md "Memory"),
// so MADV_DONTNEED on a released run zeroes it: a run handed out again is
// always zero-filled.
//
// File mappings (and shared anonymous memory) overlay their run with a host
// mmap(MAP_FIXED) of the same file at the same offset (a host memfd for
// shared anonymous memory), so the host page cache holds the only copy:
// MAP_SHARED is coherent with read/write and every other mapping, and
// MAP_PRIVATE is copy-on-write by the host kernel, across host fork too. The
// host protection of an overlay always equals the guest's (host_prot): a
// guest store to a host read-only page is a KVM_RUN EFAULT, not a guest
// fault. When an overlay goes away its run becomes anonymous memory again.
#include "mm/memory_manager.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>

#include "base/checked.h"
#include "base/log.h"
#include "base/private_fd.h"
#include "base/safe_copy.h"
#include "base/unique_fd.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

namespace elfuse {
namespace {

// include/uapi/linux/mman.h
constexpr int kMapTypeMask = 0x0f;
constexpr int kMapSharedValidate = 0x03;
constexpr int kMapDroppable = 0x08;
constexpr int kMap32Bit = 0x40;
constexpr int kProtSem = 0x8;  // include/uapi/asm-generic/mman-common.h
// The MAP_* bits a VMA keeps (VM_SHARED / VM_GROWSDOWN / VM_NORESERVE).
constexpr int kKeptFlags = MAP_PRIVATE | MAP_SHARED | MAP_GROWSDOWN | MAP_NORESERVE;
// mm/mmap.c stack_guard_gap default: 256 pages below a MAP_GROWSDOWN VMA.
constexpr uint64_t kStackGuardGap = 256 * kPageSize;
// MAP_32BIT window, arch/x86/kernel/sys_x86_64.c find_start_end.
constexpr uint64_t k32BitBegin = 0x40000000, k32BitEnd = 0x80000000;

// x86 has no write-only or exec-only pages: a present PTE is readable, and
// the kernel's copy_from_user reads PROT_WRITE-only or PROT_EXEC-only memory
// (without protection keys). Writing needs PROT_WRITE.
bool prot_allows(int vma_prot, int want) {
  if ((want & PROT_WRITE) && !(vma_prot & PROT_WRITE)) return false;
  if ((want & PROT_READ) && !(vma_prot & kProtRWX)) return false;
  return true;
}

// Bits the leaf loses when going from old to new: those need a shadow
// invalidation (docs/pvm/README.md 7.5).
bool narrows(int old_prot, int new_prot) {
  return (old_prot & ~new_prot & kProtRWX) != 0;
}

// The host protection of an overlay for a guest protection: what the guest
// can read (x86: any access implies read) and write, nothing more. KVM only
// needs read to execute; the host never executes guest code.
int host_prot(int guest_prot) {
  if (!(guest_prot & kProtRWX)) return PROT_NONE;
  return PROT_READ | (guest_prot & PROT_WRITE);
}

// The host protection of a VMA's overlay. A System V segment's also carries
// PROT_EXEC: every host VMA of a segment counts in shm_nattch, so the host
// VMAs must split wherever the guest's do (an mprotect that only adds or
// drops PROT_EXEC splits the guest VMA too). The host never executes it.
int overlay_prot(const Vma& v, int guest_prot) {
  int hp = host_prot(guest_prot);
  if (v.backing == Vma::kShm && hp != PROT_NONE) hp |= guest_prot & PROT_EXEC;
  return hp;
}

// mm/mlock.c can_do_mlock and capable(CAP_IPC_LOCK), from the host thread's
// own credentials (the guest's are the host's: capget/capset pass through).
bool capable_ipc_lock() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32));
}
uint64_t host_memlock_limit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_MEMLOCK, &rl) != 0) return 0;
  return rl.rlim_cur;
}

// The host's view of one of its own mappings, from /proc/self/maps: the
// device, inode and name the kernel prints for the mapping starting at
// host address `start` (a System V segment's inode number and
// "/SYSV<key> (deleted)" name are the kernel's to give).
bool host_mapping_identity(const void* start, uint64_t* dev, uint64_t* ino, std::string* name) {
  FILE* f = ::fopen("/proc/self/maps", "re");
  if (!f) return false;
  char line[PATH_MAX + 256];
  const auto want = reinterpret_cast<uint64_t>(start);
  bool found = false;
  while (::fgets(line, sizeof line, f)) {
    unsigned long long s = 0, e = 0, off = 0, i = 0;
    unsigned maj = 0, min = 0;
    int pos = 0;
    if (std::sscanf(line, "%llx-%llx %*s %llx %x:%x %llu %n", &s, &e, &off, &maj, &min, &i, &pos) <
        6)
      continue;
    if (s != want) continue;
    *dev = makedev(maj, min);
    *ino = i;
    std::string n = line + pos;
    while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.pop_back();
    *name = n;
    found = true;
    break;
  }
  ::fclose(f);
  return found;
}

// include/uapi/asm-generic/mman-common.h and linux/mman.h LEGACY_MAP_MASK:
// the flags MAP_SHARED_VALIDATE accepts (mm/mmap.c do_mmap).
constexpr int kLegacyMapMask = MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS |
                               MAP_DENYWRITE | MAP_EXECUTABLE | 0x4000000 /* MAP_UNINITIALIZED */ |
                               MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE |
                               MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB;

struct FileSource {
  int fd = -1;
  int access = O_RDONLY;  // O_ACCMODE bits
  struct stat st {};
  bool noexec = false;
  std::string path;
};

// ksys_mmap_pgoff: fget(fd) or EBADF. O_PATH descriptors are not mappable
// (fget refuses FMODE_PATH files). What the fd allows is decided here, once:
// an fcntl or fstat failure fails the mmap with its errno.
Result<FileSource> inspect_fd(int fd) {
  FileSource f;
  f.fd = fd;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return Errno{errno};
  if (fl & O_PATH) return Errno{EBADF};
  f.access = fl & O_ACCMODE;
  if (fstat(fd, &f.st) != 0) return Errno{errno};
  struct statvfs sv {};
  if (fstatvfs(fd, &sv) == 0) f.noexec = sv.f_flag & ST_NOEXEC;
  char buf[PATH_MAX];
  std::string link = "/proc/thread-self/fd/" + std::to_string(fd);
  ssize_t n = readlink(link.c_str(), buf, sizeof buf);
  if (n > 0) f.path.assign(buf, static_cast<size_t>(n));
  return f;
}

bool is_dev_zero(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 5;
}

// Drops host pages; for the private anonymous reservation they read as
// zero afterwards.
void host_discard(void* p, uint64_t len) {
  ::madvise(p, len, MADV_DONTNEED);
}

bool all_zero(const uint8_t* p, uint64_t len) {
  static const uint8_t kZero[kPageSize] = {};
  return std::memcmp(p, kZero, len) == 0;
}

}  // namespace

MemoryManager::MemoryManager(uint8_t* reservation, uint64_t phys_size, PhysAllocator phys,
                             ShadowSync* sync, Layout layout)
    : reservation_(reservation),
      phys_size_(phys_size),
      phys_(std::move(phys)),
      sync_(sync),
      layout_(layout),
      page_tables_(&table_mem_) {
  // The pool grows to 1 GiB boundaries, up to the whole reservation.
  if (sync_)
    phys_.set_growth(phys_size_, 1ull << 30, [this](uint64_t old_end, uint64_t new_end) {
      return sync_->extend(old_end, new_end);
    });
}

MemoryManager::~MemoryManager() {
  std::lock_guard lock(mu_);
  for (const Vma& v : as_) {
    // execve unlocks (fs/exec.c: the old mm goes); the next image's runs
    // must be discardable again.
    host_unlock(v);
    if (v.overlay()) restore_anon(v.phys, v.len());
  }
}

// ---------------------------------------------------------------- helpers

void MemoryManager::restore_anon(uint64_t pa, uint64_t len) {
  // The reservation's own kind of memory (main.cc): the host merges it back
  // into the neighbouring reservation VMAs. Unmapping the overlay fires the
  // MMU notifier, so KVM drops its shadow entries of those frames.
  void* p = ::mmap(host_phys(pa), len, PROT_READ | PROT_WRITE,
                   MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) fatal("mm: cannot restore guest memory: %s", strerror(errno));
}

void MemoryManager::release_piece(const Vma& piece) {
  if (piece.backing == Vma::kHost) {
    // Not ours to discard or reuse: only the guest's translations go.
    if (sync_) sync_->narrowed(piece.phys, piece.len());
    return;
  }
  host_unlock(piece);
  if (piece.overlay()) restore_anon(piece.phys, piece.len());
  release_run(piece.phys, piece.len());
}

void MemoryManager::invalidate_live(const Vma& piece) {
  if (!piece.overlay()) {
    if (sync_) sync_->narrowed(piece.phys, piece.len());
    return;
  }
  uint8_t* h = host_phys(piece.phys);
  if (piece.flags & MAP_SHARED) {
    // Every page of a shared overlay lives in the page cache (file, memfd
    // or shm segment): dropping the host PTEs loses nothing and is the
    // cheap, safe notifier (pvm/README.md 7.5, 8). The host refuses plain
    // MADV_DONTNEED on locked memory.
    ::madvise(h, piece.len(), piece.lock ? MADV_DONTNEED_LOCKED : MADV_DONTNEED);
    return;
  }
  // A private overlay may hold copied-on-write pages that exist nowhere
  // else: an mprotect round trip fires the notifier without touching them.
  // Through PROT_NONE rather than the reservation's R/RW round trip, so the
  // host never allows more than the guest does (a read-only file overlay
  // must not become writable, even for a moment).
  const int hp = host_prot(piece.prot);
  if (sync_) sync_->reprotect_begin();  // other vCPUs retry an EFAULT meanwhile
  ::mprotect(h, piece.len(), PROT_NONE);
  ::mprotect(h, piece.len(), hp);
  if (sync_) sync_->reprotect_end();
}

Result<void> MemoryManager::move_overlay(const Vma& piece, uint64_t new_pa, uint64_t new_len) {
  // mm/mremap.c on the host does what the guest asked of us: the file
  // mapping (with its copied-on-write pages) moves to the new run and grows
  // there; the part past the file's end faults with SIGBUS as on Linux.
  void* r = ::mremap(host_phys(piece.phys), piece.len(), new_len, MREMAP_MAYMOVE | MREMAP_FIXED,
                     host_phys(new_pa));
  if (r == MAP_FAILED) return Errno{errno == EFAULT ? ENOMEM : errno};
  // The old run is now a hole in the host: make it reservation memory again.
  restore_anon(piece.phys, piece.len());
  return Ok();
}

Result<void> MemoryManager::overlay_copy(void* dst, const void* src, uint64_t len) {
  // A fault-tolerant copy (base/safe_copy.h): a page it cannot reach (SIGBUS
  // past EOF) stops it short, as the kernel's copy_from_user stops.
  safe_copy::FaultWindow window;
  if (safe_copy::copy(dst, src, len) != 0) return Errno{EFAULT};
  return Ok();
}

void MemoryManager::write_ptes(uint64_t va, uint64_t pa, uint64_t len, int prot) {
  if (pa >= phys_size_) {
    // Host pages (kHost): a page at a time, none for a SIGBUS page.
    for (const HostWindow& w : host_windows_) {
      if (pa < w.gpa || pa - w.gpa >= w.len) continue;
      for (uint64_t off = 0; off < len; off += kPageSize)
        if (!w.sigbus[(pa + off - w.gpa) / kPageSize])
          write_table_entries(va + off, pa + off, kPageSize, prot);
      return;
    }
    fatal("mm: no host memory at guest-physical 0x%llx", static_cast<unsigned long long>(pa));
  }
  write_table_entries(va, pa, len, prot);
}

void MemoryManager::write_table_entries(uint64_t va, uint64_t pa, uint64_t len, int prot) {
  // Only a new table can fail, and only when no guest-physical frame is
  // left for it: a sizing error of elfuse, not the guest's.
  if (!page_tables_.map(va, pa, len, prot, /*user=*/true).ok())
    fatal("out of guest page-table frames");
}

void MemoryManager::clear_ptes(uint64_t va, uint64_t len) {
  if (!page_tables_.unmap(va, len).ok()) fatal("out of guest page-table frames");
}

void MemoryManager::release_run(uint64_t pa, uint64_t len) {
  // Zeroes the frames (private anonymous reservation) and, through KVM's MMU
  // notifier, drops every shadow entry of them (pvm/README.md 7.5 point 3).
  host_discard(host_phys(pa), len);
  if (sync_) sync_->freed(pa, len);
  phys_.free_run(pa, len);
}

void MemoryManager::unmap_range(uint64_t start, uint64_t end) {
  std::vector<Vma> gone = as_.remove(start, end);
  for (const Vma& v : gone) clear_ptes(v.start, v.len());
  // Released only after every PTE store (ShadowSync contract). An overlay
  // is replaced by fresh anonymous memory first; that host munmap of the
  // file pages is itself the notifier for its frames.
  for (const Vma& v : gone) release_piece(v);
}

void MemoryManager::move_contents(uint64_t dst_pa, uint64_t src_pa, uint64_t len) {
  uint8_t* dst = host_phys(dst_pa);
  uint8_t* src = host_phys(src_pa);
  // Moving the host pages costs page-table work only; the source range stays
  // mapped (empty) so the KVM memslot keeps its backing. Needs Linux 5.7+
  // and both ranges in one host VMA each; otherwise copy.
  void* r = ::mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, dst);
  if (r == dst) return;
  // The destination run is zero: copy only pages that are not.
  for (uint64_t off = 0; off < len; off += kPageSize)
    if (!all_zero(src + off, kPageSize)) std::memcpy(dst + off, src + off, kPageSize);
  host_discard(src, len);
}

// arch/x86/kernel/sys_x86_64.c arch_get_unmapped_area_topdown plus the
// generic checks of mm/mmap.c __get_unmapped_area.
Result<uint64_t> MemoryManager::unmapped_area(uint64_t hint, uint64_t len, int flags,
                                              uint64_t phys_hint) const {
  const uint64_t task = layout_.task_size;
  if (len > task) return Errno{ENOMEM};
  if (flags & MAP_FIXED) {
    if (hint > task - len) return Errno{ENOMEM};
    if (!page_aligned(hint)) return Errno{EINVAL};
    // security_mmap_addr -> cap_mmap_addr: below mmap_min_addr needs
    // CAP_SYS_RAWIO, which the guest does not have.
    if (hint < layout_.mmap_min) return Errno{EPERM};
    return hint;
  }
  const uint64_t low = std::max<uint64_t>(layout_.mmap_min, kPageSize);
  if (flags & kMap32Bit) {
    // Linux searches this window bottom-up; any free spot is acceptable.
    if (auto a = as_.find_gap_top_down(len, std::max(low, k32BitBegin), k32BitEnd)) return *a;
    return Errno{ENOMEM};
  }
  if (hint) {
    hint = page_round_down(hint);
    if (hint <= task - len && hint >= low) {
      const Vma* next = as_.find_next(hint);
      uint64_t limit = next ? next->start : task;
      if (next && (next->flags & MAP_GROWSDOWN))
        limit = limit > kStackGuardGap ? limit - kStackGuardGap : 0;
      if (hint + len <= limit && as_.range_free(hint, hint + len)) return hint;
    }
  }
  // Large mappings get a 2 MiB aligned address, as Linux gives large
  // anonymous mappings (mm/mmap.c __get_unmapped_area /
  // thp_get_unmapped_area).
  const uint64_t base = std::min(layout_.mmap_base, task);
  if (len >= kHugePageSize) {
    uint64_t off = phys_hint == ~0ull ? 0 : phys_hint;
    if (auto a = as_.find_gap_top_down(len, low, base, kHugePageSize, off)) return *a;
  }
  if (auto a = as_.find_gap_top_down(len, low, base)) return *a;
  // Fallback of arch_get_unmapped_area_topdown: the whole range.
  if (auto a = as_.find_gap_top_down(len, low, task)) return *a;
  return Errno{ENOMEM};
}

Result<uint64_t> MemoryManager::install(const NewMapping& m, bool replace) {
  std::optional<uint64_t> reuse;
  // Nothing replaces a sealed VMA (mmap, shmat SHM_REMAP, ...): EPERM
  // before anything changes. The callers check it in Linux's order first.
  if (replace && range_sealed(m.addr, m.addr + m.len)) return Errno{EPERM};
  if (replace) {
    // Keep the physical placement of a single replaced piece: neighbours
    // that shared its run stay physically contiguous and can merge again.
    std::vector<Vma> old = as_.pieces(m.addr, m.addr + m.len);
    if (old.size() == 1 && old[0].start == m.addr && old[0].end == m.addr + m.len)
      reuse = old[0].phys;
    unmap_range(m.addr, m.addr + m.len);
  }
  uint64_t pa;
  if (reuse && phys_.alloc_at(*reuse, m.len)) {
    pa = *reuse;
  } else {
    auto r = phys_.alloc_run(m.len, m.addr, m.where);
    if (!r) return Errno{ENOMEM};
    pa = *r;
  }
  uint64_t file_dev = m.file_dev, file_ino = m.file_ino;
  std::string name = m.name;
  if (m.backing == Vma::kShm) {
    // The segment itself over the run (SHM_REMAP: the run's anonymous
    // memory makes way), with the guest's protection: the host counts this
    // attach in shm_nattch as Linux counts the guest's. A fresh run has no
    // shadow entries, so nothing to invalidate.
    void* r = ::shmat(m.shm_id, host_phys(pa), m.shm_host_flags);
    if (r == reinterpret_cast<void*>(-1)) {
      int e = errno;
      restore_anon(pa, m.len);
      release_run(pa, m.len);
      return Errno{e};
    }
    // The inode number and name /proc/self/maps shows are the kernel's
    // (i_ino = shmid, "/SYSV<key> (deleted)").
    (void)host_mapping_identity(r, &file_dev, &file_ino, &name);
  } else if (m.overlay_fd >= 0) {
    // The overlay (design.md "Memory"): the host maps the file over the run
    // with the guest's protection, so the page cache is the only copy. A
    // fresh run has no shadow entries yet, so nothing to invalidate.
    int hflags = MAP_FIXED | ((m.flags & MAP_SHARED) ? MAP_SHARED : MAP_PRIVATE | MAP_NORESERVE);
    void* r = ::mmap(host_phys(pa), m.len, host_prot(m.prot), hflags, m.overlay_fd,
                     static_cast<off_t>(m.file_offset));
    if (r == MAP_FAILED) {
      int e = errno;
      restore_anon(pa, m.len);  // a failed MAP_FIXED may have unmapped the run
      release_run(pa, m.len);
      return Errno{e};
    }
  }
  Vma v;
  v.start = m.addr;
  v.end = m.addr + m.len;
  v.prot = m.prot & kProtRWX;
  v.max_prot = m.max_prot;
  v.flags = m.flags & kKeptFlags;
  v.backing = m.backing;
  v.phys = pa;
  v.file_offset = m.file_offset;
  v.file_dev = file_dev;
  v.file_ino = file_ino;
  v.name = name;
  v.special = m.special;
  v.shm_attach = m.shm_attach;
  v.shm_size = m.shm_size;
  // mm->def_flags (mlockall(MCL_FUTURE)) joins what the mapping asked for;
  // a special mapping is never locked (__install_special_mapping).
  v.lock = m.special ? Vma::kUnlocked : def_lock_ != Vma::kUnlocked ? def_lock_ : m.lock;
  if (!as_.insert(v).ok()) fatal("mm: inserting over a mapped range");
  write_ptes(v.start, pa, m.len, v.prot);
  // mmap(MAP_LOCKED) populates and locks; a failure there is not the
  // mapping's (do_mmap ignores mm_populate's result).
  host_lock(v);
  return m.addr;
}

// ---------------------------------------------------------------- special mappings

uint8_t* MemoryManager::host_window(uint64_t pa) const {
  for (const HostWindow& w : host_windows_)
    if (pa >= w.gpa && pa - w.gpa < w.len) return w.host + (pa - w.gpa);
  fatal("mm: no host memory at guest-physical 0x%llx", static_cast<unsigned long long>(pa));
}

const Vma* MemoryManager::special_split(uint64_t start, uint64_t end) const {
  const Vma* a = as_.find(start);
  if (a && a->special && a->start < start) return a;
  const Vma* b = as_.find(end);
  if (b && b->special && b->start < end) return b;
  return nullptr;
}

Result<uint64_t> MemoryManager::free_area(uint64_t hint, uint64_t len) const {
  std::lock_guard lock(mu_);
  auto rounded = page_round_up(len);
  if (!rounded || *rounded == 0) return Errno{EINVAL};
  return unmapped_area(hint, *rounded, 0);
}

Result<void> MemoryManager::map_special(uint64_t addr, uint64_t len, const SpecialMapping& sm) {
  std::lock_guard lock(mu_);
  if (!page_aligned(addr) || !page_aligned(len) || len == 0 || addr > layout_.task_size ||
      len > layout_.task_size - addr)
    return Errno{EINVAL};
  if (!as_.range_free(addr, addr + len)) return Errno{EEXIST};
  if (sm.fd >= 0) {
    // The text: a private overlay of the file, like a MAP_PRIVATE mmap.
    struct stat st {};
    if (::fstat(sm.fd, &st) != 0) return Errno{errno};
    NewMapping m;
    m.addr = addr;
    m.len = len;
    m.prot = sm.prot;
    m.max_prot = sm.max_prot;
    m.flags = MAP_PRIVATE;
    m.backing = Vma::kFile;
    m.name = sm.name;
    m.special = true;
    m.overlay_fd = sm.fd;
    m.file_dev = st.st_dev;
    m.file_ino = st.st_ino;
    TRY(install(m, /*replace=*/false));
    return Ok();
  }
  if (!sm.host || sm.gpa < phys_size_) return Errno{EINVAL};
  bool known = false;
  for (const HostWindow& w : host_windows_)
    known |= sm.gpa >= w.gpa && sm.gpa - w.gpa < w.len && len <= w.len - (sm.gpa - w.gpa);
  if (!known) {
    // Which pages the host kernel maps: a fault-tolerant load of a byte of
    // each (base/safe_copy.h) fails where the host raises SIGBUS (its fault
    // handler's VM_FAULT_SIGBUS).
    HostWindow w{sm.gpa, len, sm.host, std::vector<bool>(len / kPageSize, true)};
    safe_copy::FaultWindow window;
    for (uint64_t i = 0; i < len / kPageSize; i++) {
      char c;
      w.sigbus[i] = safe_copy::copy(&c, sm.host + i * kPageSize, 1) != 0;
    }
    host_windows_.push_back(std::move(w));
  }
  Vma v;
  v.start = addr;
  v.end = addr + len;
  v.prot = sm.prot & kProtRWX;
  v.max_prot = sm.max_prot;
  v.flags = MAP_PRIVATE;
  v.backing = Vma::kHost;
  v.phys = sm.gpa;
  v.name = sm.name;
  v.special = true;
  if (!as_.insert(v).ok()) fatal("mm: inserting over a mapped range");
  write_ptes(v.start, v.phys, len, v.prot);
  return Ok();
}

// ---------------------------------------------------------------- mmap

// arch/x86/kernel/sys_x86_64.c sys_mmap, mm/mmap.c ksys_mmap_pgoff and
// do_mmap.
Result<uint64_t> MemoryManager::mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd,
                                     uint64_t off) {
  std::lock_guard lock(mu_);
  if (off & kPageMask) return Errno{EINVAL};
  const bool anon = flags & MAP_ANONYMOUS;
  std::optional<FileSource> file;
  if (!anon) file = TRY(inspect_fd(fd));
  // /dev/zero behaves as anonymous memory (drivers/char/mem.c mmap_zero),
  // after the file checks of do_mmap.
  const bool dev_zero = file && is_dev_zero(file->st);
  if (flags & MAP_HUGETLB) {
    // ksys_mmap_pgoff: MAP_HUGETLB on a file that is not on hugetlbfs is
    // EINVAL; anonymous: no hugetlbfs pages are reserved for the guest (as
    // on a host with vm.nr_hugepages = 0), hugetlb_file_setup fails ENOMEM.
    if (file) return Errno{EINVAL};
    return Errno{ENOMEM};
  }
  if (len == 0) return Errno{EINVAL};
  if (!(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))) {
    // round_hint_to_min
    addr = page_round_down(addr);
    if (addr && addr < layout_.mmap_min) addr = page_round_up(layout_.mmap_min).value_or(0);
  }
  auto rounded = page_round_up(len);
  if (!rounded || *rounded == 0) return Errno{ENOMEM};
  len = *rounded;
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;

  uint64_t phys_hint = ~0ull;
  uint64_t where = TRY(unmapped_area(addr, len, flags, phys_hint));
  if ((flags & MAP_FIXED_NOREPLACE) && !as_.range_free(where, where + len)) return Errno{EEXIST};
  // do_mmap: MAP_LOCKED needs mlock rights (EPERM); a locked mapping
  // (MAP_LOCKED or mlockall(MCL_FUTURE)) must fit RLIMIT_MEMLOCK (EAGAIN).
  const Vma::Lock lock_kind = (flags & MAP_LOCKED) ? Vma::kLocked : Vma::kUnlocked;
  if ((flags & MAP_LOCKED) && memlock_limit_bytes() == 0 && !capable_ipc_lock())
    return Errno{EPERM};
  if (!lock_future_ok(def_lock_ != Vma::kUnlocked ? def_lock_ : lock_kind, len))
    return Errno{EAGAIN};

  NewMapping m;
  m.addr = where;
  m.len = len;
  m.prot = prot;
  m.flags = flags;
  const int type = flags & kMapTypeMask;
  bool shared = type == MAP_SHARED || type == kMapSharedValidate;
  if (file) {
    // file_mmap_ok: the mapping must end below MAX_LFS_FILESIZE (regular
    // files and block devices; /dev/zero has no limit).
    if (!dev_zero &&
        (len > static_cast<uint64_t>(LLONG_MAX) || off > static_cast<uint64_t>(LLONG_MAX) - len))
      return Errno{EOVERFLOW};
    const int acc = file->access;
    const bool readable = acc == O_RDONLY || acc == O_RDWR;
    const bool writable = acc == O_WRONLY || acc == O_RDWR;
    // do_mmap's switch on the map type, in its order.
    switch (type) {
      case MAP_SHARED:
      case kMapSharedValidate:
        // MAP_SHARED drops unknown flags; MAP_SHARED_VALIDATE refuses them
        // (no file here supports MAP_SYNC).
        if (type == kMapSharedValidate && (flags & ~kLegacyMapMask)) return Errno{EOPNOTSUPP};
        if ((prot & PROT_WRITE) && !writable) return Errno{EACCES};
        // A shared mapping of a file not open for writing can never become
        // writable: VM_MAYWRITE is cleared, so mprotect(PROT_WRITE) is EACCES.
        if (!writable) m.max_prot &= ~PROT_WRITE;
        [[fallthrough]];
      case MAP_PRIVATE:
        if (!readable) return Errno{EACCES};
        if (file->noexec) {
          if (prot & PROT_EXEC) return Errno{EPERM};
          m.max_prot &= ~PROT_EXEC;
        }
        // No ->mmap: directories, pipes, sockets, most character devices.
        if (!S_ISREG(file->st.st_mode) && !S_ISBLK(file->st.st_mode) && !dev_zero)
          return Errno{ENODEV};
        if (flags & MAP_GROWSDOWN) return Errno{EINVAL};
        break;
      default:
        return Errno{EINVAL};
    }
  }
  UniqueFd shm;  // the host memfd behind shared anonymous memory
  if (file && !dev_zero) {
    // The host maps the same file at the same offset over the run (install).
    m.backing = Vma::kFile;
    m.name = file->path;
    m.file_offset = off;
    m.overlay_fd = fd;
    m.file_dev = file->st.st_dev;
    m.file_ino = file->st.st_ino;
  } else {
    if (!file) {
      switch (type) {
        case MAP_SHARED:
          if (flags & MAP_GROWSDOWN) return Errno{EINVAL};
          break;
        case MAP_PRIVATE:
        case kMapDroppable:
          break;
        default:
          return Errno{EINVAL};  // anonymous MAP_SHARED_VALIDATE too (do_mmap)
      }
    }
    if (shared) {
      // Shared anonymous memory, or MAP_SHARED of /dev/zero
      // (shmem_zero_setup): a host memfd of the mapping's size mapped
      // MAP_SHARED over the run, so it stays shared with forked children
      // and its pages survive MADV_DONTNEED, as shmem pages do.
      shm.reset(static_cast<int>(::syscall(SYS_memfd_create, "dev/zero", MFD_CLOEXEC)));
      if (!shm.valid()) return Errno{errno == EMFILE || errno == ENFILE ? ENOMEM : errno};
      struct stat st {};
      if (::ftruncate(shm.get(), static_cast<off_t>(len)) != 0 || ::fstat(shm.get(), &st) != 0)
        return Errno{ENOMEM};
      m.backing = Vma::kSharedAnon;
      m.overlay_fd = shm.get();
      m.file_offset = 0;
      m.file_dev = st.st_dev;
      m.file_ino = st.st_ino;
    } else {
      m.backing = Vma::kAnon;
    }
  }
  m.flags = (m.flags & ~kMapTypeMask) | (shared ? MAP_SHARED : MAP_PRIVATE);
  m.lock = lock_kind;
  // __mmap_prepare: the VMAs a MAP_FIXED mapping replaces are gathered for
  // unmapping first (a sealed one: EPERM), then the address space and data
  // limits are checked, counting the replaced pages as freed.
  if ((flags & MAP_FIXED) && range_sealed(where, where + len)) return Errno{EPERM};
  if (!may_expand(prot, m.flags, len / kPageSize) &&
      !may_expand(prot, m.flags,
                  len / kPageSize - ((flags & MAP_FIXED) ? mapped_pages(where, where + len) : 0)))
    return Errno{ENOMEM};
  // __mmap_region unmaps what MAP_FIXED replaces: splitting a special
  // mapping there fails.
  if ((flags & MAP_FIXED) && special_split(where, where + len)) return Errno{EINVAL};
  // MAP_POPULATE, MAP_NONBLOCK: memory is mapped eagerly anyway.
  return install(m, /*replace=*/flags & MAP_FIXED);
}

Result<void> MemoryManager::map_fixed_anon(uint64_t addr, uint64_t len, int prot,
                                           const std::string& name, int extra_flags) {
  std::lock_guard lock(mu_);
  if (!page_aligned(addr) || len == 0) return Errno{EINVAL};
  auto rounded = page_round_up(len);
  if (!rounded || addr > layout_.task_size || *rounded > layout_.task_size - addr)
    return Errno{ENOMEM};
  NewMapping m;
  m.addr = addr;
  m.len = *rounded;
  m.prot = prot;
  m.flags = MAP_PRIVATE | (extra_flags & (MAP_GROWSDOWN | MAP_NORESERVE));
  m.name = name;
  if (name == "[heap]") m.where = PhysAllocator::Placement::kLow;
  TRY(install(m, /*replace=*/true));
  return Ok();
}

Result<void> MemoryManager::map_fixed_file(uint64_t addr, uint64_t len, int prot, int fd,
                                           uint64_t offset, const std::string& name) {
  std::lock_guard lock(mu_);
  if (!page_aligned(addr) || !page_aligned(offset) || len == 0) return Errno{EINVAL};
  auto rounded = page_round_up(len);
  if (!rounded || addr > layout_.task_size || *rounded > layout_.task_size - addr)
    return Errno{ENOMEM};
  struct stat st {};
  if (fstat(fd, &st) != 0) return Errno{errno};
  NewMapping m;
  m.addr = addr;
  m.len = *rounded;
  m.prot = prot;
  m.flags = MAP_PRIVATE;
  m.backing = Vma::kFile;
  m.name = name;
  m.file_offset = offset;
  m.overlay_fd = fd;
  m.file_dev = st.st_dev;
  m.file_ino = st.st_ino;
  TRY(install(m, /*replace=*/true));
  return Ok();
}

// ---------------------------------------------------------------- munmap

// mm/vma.c do_vmi_munmap.
Result<void> MemoryManager::munmap(uint64_t addr, uint64_t len) {
  std::lock_guard lock(mu_);
  const uint64_t task = layout_.task_size;
  if (!page_aligned(addr) || addr > task || len > task - addr) return Errno{EINVAL};
  len = page_round_up(len).value();  // len <= task: cannot overflow
  if (len == 0) return Errno{EINVAL};
  // vms_gather_munmap_vmas: a sealed VMA in the range fails the whole call.
  if (range_sealed(addr, addr + len)) return Errno{EPERM};
  if (special_split(addr, addr + len)) return Errno{EINVAL};
  unmap_range(addr, addr + len);
  return Ok();
}

// ---------------------------------------------------------------- mprotect

// mm/mprotect.c do_mprotect_pkey.
Result<void> MemoryManager::mprotect(uint64_t addr, uint64_t len, int prot) {
  std::lock_guard lock(mu_);
  const int grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~grows;
  if (grows == (PROT_GROWSDOWN | PROT_GROWSUP)) return Errno{EINVAL};
  if (!page_aligned(addr)) return Errno{EINVAL};
  if (len == 0) return Ok();
  auto rounded = page_round_up(len);
  if (!rounded) return Errno{ENOMEM};
  auto end = checked_add(addr, *rounded);
  if (!end || *end <= addr) return Errno{ENOMEM};
  // arch_validate_prot (generic): only PROT_READ|WRITE|EXEC|SEM.
  if (prot & ~(kProtRWX | kProtSem)) return Errno{EINVAL};
  prot &= kProtRWX;
  uint64_t start = addr;
  const Vma* first = as_.find_next(start);
  if (!first || first->start >= *end) return Errno{ENOMEM};
  if (grows & PROT_GROWSDOWN) {
    // Extends down to the start of a MAP_GROWSDOWN VMA.
    if (first->start > start) return Errno{ENOMEM};
    if (!(first->flags & MAP_GROWSDOWN)) return Errno{EINVAL};
    start = first->start;
  } else if (grows & PROT_GROWSUP) {
    return Errno{EINVAL};  // no VM_GROWSUP VMAs on x86
  }
  // do_mprotect_pkey walks the VMAs in order: a hole is ENOMEM, a VMA
  // whose VM_MAY* bits refuse prot is EACCES, then mprotect_fixup refuses a
  // sealed VMA (EPERM, even for its own protection). The first of these
  // ends the call; as_.protect reports the first two below.
  for (uint64_t cur = start; const Vma& p : as_.pieces(start, *end)) {
    if (p.start > cur || (prot & ~p.max_prot)) break;
    if (p.sealed) return Errno{EPERM};
    cur = p.end;
  }
  // mprotect_fixup splits a VMA whose flags change at the edges of the
  // range, after the VM_MAY* check of that VMA: a special mapping refuses
  // the split.
  if (const Vma* sp = special_split(start, *end); sp && sp->prot != prot)
    return Errno{(prot & ~sp->max_prot) ? EACCES : EINVAL};
  // mprotect_fixup, VMA by VMA: memory that turns into data must fit
  // RLIMIT_DATA (only that limit: the address space does not grow).
  if (limits_ && (prot & PROT_WRITE) && limits_->cur(RLIMIT_DATA) != kRlimInfinity) {
    uint64_t turned = 0;
    for (const Vma& p : as_.pieces(start, *end)) {
      const uint64_t n = p.len() / kPageSize;
      if (!is_data_mapping(p.prot, p.flags) && is_data_mapping(prot, p.flags)) {
        if (!may_expand(prot, p.flags, turned + n) && may_expand(p.prot, p.flags, turned + n))
          return Errno{ENOMEM};
        turned += n;
      }
    }
  }
  std::vector<Vma> old = TRY(as_.protect(start, *end, prot));
  // Overlays: the host protection must equal the guest's at every moment a
  // vCPU could use it. Widening: the host first, then the guest PTEs (a
  // guest store must never find a read-only host page). Narrowing: the
  // guest PTEs, the shadow invalidation, then the host.
  for (const Vma& v : old) {
    const int hp = overlay_prot(v, prot);
    if (!v.overlay() || (hp & ~overlay_prot(v, v.prot)) == 0) continue;
    if (::mprotect(host_phys(v.phys), v.len(), hp) != 0) {
      // Cannot happen within max_prot (the host mapping was made with the
      // fd that decided max_prot) short of host memory: put the guest's
      // protection back and report it.
      int e = errno;
      for (const Vma& o : old) {
        (void)as_.protect(o.start, o.end, o.prot);
        if (o.overlay()) ::mprotect(host_phys(o.phys), o.len(), overlay_prot(o, o.prot));
      }
      return Errno{e == EACCES ? EACCES : ENOMEM};
    }
  }
  for (const Vma& v : old) write_ptes(v.start, v.phys, v.len(), prot);
  // mprotect_fixup: private locked memory that becomes writable is
  // populated (populate_vma_page_range breaks COW); the host mlock2 of the
  // run with its new protection does that (host_lock).
  for (const Vma& v : old) {
    if (v.lock != Vma::kLocked || (v.prot & PROT_WRITE) || (v.flags & MAP_SHARED) ||
        !(prot & PROT_WRITE))
      continue;
    Vma now = v;
    now.prot = prot;
    host_lock(now);
  }
  for (const Vma& v : old) {
    const int hp = overlay_prot(v, prot), old_hp = overlay_prot(v, v.prot);
    if (!narrows(v.prot, prot)) continue;
    Vma now = v;
    now.prot = prot;
    if (v.overlay() && (old_hp & ~hp & (PROT_READ | PROT_WRITE)) != 0) {
      // The host narrowing is itself an MMU notifier on these frames
      // (mm/mprotect.c change_protection), after the PTE stores.
      ::mprotect(host_phys(v.phys), v.len(), hp);
    } else {
      // Only PROT_EXEC left a segment's host VMA (overlay_prot): follow it,
      // then the notifier proper.
      if (v.overlay() && old_hp != hp) ::mprotect(host_phys(v.phys), v.len(), hp);
      invalidate_live(now);
    }
  }
  return Ok();
}

// ---------------------------------------------------------------- mremap

Result<void> MemoryManager::grow_vma(Vma v, uint64_t new_end, PhysAllocator::Placement where) {
  const uint64_t delta = new_end - v.end;
  // An overlay cannot grow in place: the memory after its run is the
  // anonymous reservation. It moves to a new run (below).
  if (!v.overlay() && phys_.try_grow(v.phys, v.len(), v.len() + delta)) {
    Vma ext = v.clipped(v.start, v.end);
    ext.start = v.end;
    ext.end = new_end;
    ext.phys = v.phys + v.len();
    ext.file_offset = v.file_offset + v.len();
    if (!as_.insert(ext).ok()) fatal("mm: growing over a mapped range");
    write_ptes(ext.start, ext.phys, delta, ext.prot);
    host_lock(ext);
    return Ok();
  }
  // The run cannot grow: move the whole VMA to a new run at the same
  // virtual address, so it stays one VMA as on Linux.
  const uint64_t new_len = new_end - v.start;
  auto pa = phys_.alloc_run(new_len, v.start, where);
  if (!pa) return Errno{ENOMEM};
  Vma nv = v;
  host_unlock(v);  // the host moves or discards only unlocked memory
  if (v.overlay()) {
    clear_ptes(v.start, v.len());
    if (auto r = move_overlay(v, *pa, new_len); !r.ok()) {
      write_ptes(v.start, v.phys, v.len(), v.prot);
      phys_.free_run(*pa, new_len);
      host_lock(v);
      return r;
    }
  } else {
    move_contents(*pa, v.phys, v.len());
  }
  as_.remove(v.start, v.end);
  nv.end = new_end;
  nv.phys = *pa;
  if (!as_.insert(nv).ok()) fatal("mm: regrowing over a mapped range");
  write_ptes(nv.start, nv.phys, new_len, nv.prot);
  release_run(v.phys, v.len());  // anonymous again (move_overlay)
  host_lock(nv);
  return Ok();
}

// mm/mremap.c move_vma: [addr, addr+old_len) inside v moves to dest with
// new_len (>= old_len). The physical run is kept when it can (the affine
// va -> pa map just moves); otherwise the pages move to a new run.
Result<uint64_t> MemoryManager::move_vma(const Vma& v, uint64_t addr, uint64_t old_len,
                                         uint64_t new_len, uint64_t dest, bool keep_old) {
  const Vma src = v.clipped(addr, addr + old_len);
  uint64_t pa = src.phys;
  bool same_run = true;
  host_unlock(src);  // the host moves or discards only unlocked memory
  if (new_len > old_len) {
    // An overlay grows only by moving (grow_vma): the host extends the file
    // mapping at its new run.
    bool at_run_end = src.end == v.end && !src.overlay();
    if (!at_run_end || !phys_.try_grow(src.phys, old_len, new_len)) {
      auto r = phys_.alloc_run(new_len, dest);
      if (!r) {
        host_lock(src);
        return Errno{ENOMEM};
      }
      pa = *r;
      same_run = false;
      if (src.overlay()) {
        clear_ptes(src.start, old_len);
        if (auto m = move_overlay(src, pa, new_len); !m.ok()) {
          write_ptes(src.start, src.phys, old_len, src.prot);
          phys_.free_run(pa, new_len);
          host_lock(src);
          return Errno{m.error()};
        }
      } else {
        move_contents(pa, src.phys, old_len);
      }
    }
  }
  as_.remove(src.start, src.end);
  clear_ptes(src.start, old_len);
  Vma nv = src;
  nv.start = dest;
  nv.end = dest + new_len;
  nv.phys = pa;
  if (!as_.insert(nv).ok()) fatal("mm: moving over a mapped range");
  write_ptes(nv.start, pa, new_len, nv.prot);
  if (same_run) {
    invalidate_live(src);  // the frames stay, their old translations go
  } else {
    release_run(src.phys, old_len);
  }
  host_lock(nv);
  if (keep_old) {
    // MREMAP_DONTUNMAP: the old range stays mapped, empty (private anon).
    NewMapping m;
    m.addr = src.start;
    m.len = old_len;
    m.prot = src.prot;
    m.max_prot = src.max_prot;
    m.flags = src.flags;
    m.backing = src.backing;
    m.name = src.name;
    TRY(install(m, /*replace=*/false));
  }
  return dest;
}

// mm/mremap.c move_vma with old_len 0 (only a shared mapping gets there):
// copy_vma makes a VMA over the same pages at addr's file offset, and
// nothing is unmapped. The host does the same to the run's overlay.
Result<uint64_t> MemoryManager::dup_shared(const Vma& v, uint64_t addr, uint64_t new_len,
                                           uint64_t dest) {
  // A System V attach is counted per shmat (shm_attach): not provided.
  if (v.backing != Vma::kFile && v.backing != Vma::kSharedAnon) return Errno{EINVAL};
  auto pa = phys_.alloc_run(new_len, dest, PhysAllocator::Placement::kHigh);
  if (!pa) return Errno{ENOMEM};
  void* r = ::mremap(host_phys(v.phys_of(addr)), 0, new_len, MREMAP_MAYMOVE | MREMAP_FIXED,
                     host_phys(*pa));
  if (r == MAP_FAILED) {
    int e = errno;
    restore_anon(*pa, new_len);  // a failed MREMAP_FIXED may have unmapped the run
    release_run(*pa, new_len);
    return Errno{e == EINVAL ? EINVAL : ENOMEM};
  }
  Vma nv = v;
  nv.start = dest;
  nv.end = dest + new_len;
  nv.phys = *pa;
  nv.file_offset = v.file_offset + (addr - v.start);
  if (!as_.insert(nv).ok()) fatal("mm: duplicating over a mapped range");
  write_ptes(nv.start, nv.phys, new_len, nv.prot);
  host_lock(nv);
  return dest;
}

// mm/mremap.c mremap_to.
Result<uint64_t> MemoryManager::mremap_to(uint64_t addr, uint64_t old_len, uint64_t new_len,
                                          int flags, uint64_t new_addr) {
  if (flags & MREMAP_FIXED) TRY(munmap(new_addr, new_len));
  if (old_len > new_len) {
    TRY(munmap(addr + new_len, old_len - new_len));
    old_len = new_len;
  }
  const Vma* v = as_.find(addr);
  if (!v) return Errno{EFAULT};
  // remap_is_valid
  // vma_to_resize: old_len 0 duplicates a shared mapping only (EINVAL for
  // a private one, Linux 4.14+).
  if (old_len == 0 && !(v->flags & MAP_SHARED)) return Errno{EINVAL};
  const bool dontunmap = flags & MREMAP_DONTUNMAP;
  if (dontunmap && v->special) return Errno{EINVAL};  // VM_DONTEXPAND
  if (old_len > v->end - addr) return Errno{EFAULT};
  if (new_len > old_len && v->special) return Errno{EFAULT};  // VM_DONTEXPAND
  // vma_to_resize: growing locked memory must fit RLIMIT_MEMLOCK.
  if (new_len > old_len && !lock_future_ok(v->lock, new_len - old_len)) return Errno{EAGAIN};
  if (new_len > old_len && !may_expand(v->prot, v->flags, (new_len - old_len) / kPageSize))
    return Errno{ENOMEM};
  if (dontunmap && !may_expand(v->prot, v->flags, old_len / kPageSize)) return Errno{ENOMEM};
  if (dontunmap && !(v->backing == Vma::kAnon && (v->flags & MAP_PRIVATE)))
    return Errno{EINVAL};  // only private anonymous (Linux before 5.13)
  // prep_move_vma: the moved range must be the whole special mapping.
  if (special_split(addr, addr + old_len)) return Errno{EINVAL};
  uint64_t dest = new_addr;
  if (!(flags & MREMAP_FIXED)) {
    int mflags = (v->flags & MAP_SHARED) ? MAP_SHARED : 0;
    dest = TRY(unmapped_area(new_addr, new_len, mflags, v->phys_of(addr)));
  } else {
    dest = TRY(unmapped_area(new_addr, new_len, MAP_FIXED));
  }
  Vma copy = *v;
  if (old_len == 0) return dup_shared(copy, addr, new_len, dest);
  return move_vma(copy, addr, old_len, new_len, dest, dontunmap);
}

// mm/mremap.c SYSCALL_DEFINE5(mremap) and check_mremap_params.
Result<uint64_t> MemoryManager::mremap(uint64_t addr, uint64_t old_len_in, uint64_t new_len_in,
                                       int flags, uint64_t new_addr) {
  std::lock_guard lock(mu_);
  const uint64_t task = layout_.task_size;
  if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return Errno{EINVAL};
  if (!page_aligned(addr)) return Errno{EINVAL};
  // PAGE_ALIGN wraps to 0 on overflow, which the zero checks then catch.
  const uint64_t old_len = page_round_up(old_len_in).value_or(0);
  const uint64_t new_len = page_round_up(new_len_in).value_or(0);
  if (new_len == 0) return Errno{EINVAL};
  if (new_len > task) return Errno{EINVAL};
  const bool implies_new_addr = flags & (MREMAP_FIXED | MREMAP_DONTUNMAP);
  if (implies_new_addr) {
    if (new_addr > task - new_len) return Errno{EINVAL};
    if (!page_aligned(new_addr)) return Errno{EINVAL};
    if (!(flags & MREMAP_MAYMOVE)) return Errno{EINVAL};
    if ((flags & MREMAP_DONTUNMAP) && old_len != new_len) return Errno{EINVAL};
    // The ranges must not overlap.
    auto old_end = checked_add(addr, old_len);
    if (!old_end || (*old_end > new_addr && new_addr + new_len > addr)) return Errno{EINVAL};
  }
  // do_mremap, check_prep_vma: whatever the call does (shrinking too), a
  // VMA must start at or contain addr (EFAULT), and it must not be sealed
  // (EPERM).
  if (const Vma* v = as_.find(addr); !v) {
    return Errno{EFAULT};
  } else if (v->sealed) {
    return Errno{EPERM};
  }
  if (implies_new_addr) return mremap_to(addr, old_len, new_len, flags, new_addr);
  // Shrinking (or same size) always succeeds: it just unmaps the tail.
  if (old_len >= new_len) {
    if (old_len != new_len) TRY(munmap(addr + new_len, old_len - new_len));
    return addr;
  }
  const Vma* v = as_.find(addr);
  if (!v) return Errno{EFAULT};
  // vma_to_resize: old_len 0 "duplicates" a mapping, refused for a private
  // one (EINVAL, Linux 4.14+).
  if (old_len == 0 && !(v->flags & MAP_SHARED)) return Errno{EINVAL};
  if (old_len > v->end - addr) return Errno{EFAULT};
  if (v->special) return Errno{EFAULT};  // remap_is_valid: VM_DONTEXPAND
  // vma_to_resize: growing locked memory must fit RLIMIT_MEMLOCK.
  if (new_len > old_len && !lock_future_ok(v->lock, new_len - old_len)) return Errno{EAGAIN};
  if (!may_expand(v->prot, v->flags, (new_len - old_len) / kPageSize)) return Errno{ENOMEM};
  const Vma copy = *v;
  // A shared one cannot grow in place from nothing (ENOMEM without
  // MREMAP_MAYMOVE); with it the same pages are mapped a second time.
  if (old_len == 0) {
    if (!(flags & MREMAP_MAYMOVE)) return Errno{ENOMEM};
    uint64_t dest = TRY(unmapped_area(0, new_len, MAP_SHARED));
    return dup_shared(copy, addr, new_len, dest);
  }
  // Expand in place when the range ends the VMA and the space after it is
  // free (vma_expandable).
  if (old_len == copy.end - addr) {
    const uint64_t delta = new_len - old_len;
    if (copy.end <= task && delta <= task - copy.end &&
        as_.range_free(copy.end, copy.end + delta)) {
      TRY(grow_vma(copy, copy.end + delta, PhysAllocator::Placement::kHigh));
      return addr;
    }
  }
  if (!(flags & MREMAP_MAYMOVE)) return Errno{ENOMEM};
  int mflags = (copy.flags & MAP_SHARED) ? MAP_SHARED : 0;
  uint64_t dest = TRY(unmapped_area(0, new_len, mflags, copy.phys_of(addr)));
  return move_vma(copy, addr, old_len, new_len, dest, false);
}

// ---------------------------------------------------------------- madvise

// Per-VMA part of madvise_vma_behavior (mm/madvise.c).
Result<void> MemoryManager::madvise_vma(const Vma& piece, int advice) {
  // can_madvise_modify: on a sealed VMA, the advice that discards data is
  // refused for private anonymous memory the caller cannot write (file and
  // shared memory keep their data; special mappings are not anonymous).
  if (piece.sealed && piece.backing == Vma::kAnon && !piece.special && !(piece.prot & PROT_WRITE)) {
    switch (advice) {
      case MADV_FREE:
      case MADV_DONTNEED:
      case MADV_DONTNEED_LOCKED:
      case MADV_REMOVE:
      case MADV_DONTFORK:
      case MADV_WIPEONFORK:
        return Errno{EPERM};
      default:
        break;
    }
  }
  if (advice == MADV_WIPEONFORK || advice == MADV_KEEPONFORK || advice == MADV_DONTFORK ||
      advice == MADV_DOFORK)
    return fork_advice(piece, advice);
  if (piece.special) {
    // Special mappings are VM_DONTEXPAND, [vvar]'s also VM_PFNMAP|VM_IO
    // and without a page the kernel could drop or fault in for madvise.
    const bool pfnmap = piece.backing == Vma::kHost;
    switch (advice) {
      case MADV_DODUMP:  // VM_SPECIAL
      case MADV_REMOVE:  // no vm_file
        return Errno{EINVAL};
      case MADV_DONTNEED:
      case MADV_DONTNEED_LOCKED:
      case MADV_FREE:
      case MADV_COLD:
      case MADV_PAGEOUT:
        if (pfnmap) return Errno{EINVAL};
        break;
      case MADV_POPULATE_READ:
      case MADV_POPULATE_WRITE:
        if (pfnmap) return Errno{EFAULT};  // GUP refuses VM_IO|VM_PFNMAP
        break;
      default:
        break;
    }
  }
  switch (advice) {
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED:
      // madvise_dontneed_free_valid_vma: only MADV_DONTNEED_LOCKED may drop
      // locked pages.
      if (piece.lock && advice == MADV_DONTNEED) return Errno{EINVAL};
      // zap_page_range_single on the host does exactly the guest's: private
      // anonymous pages read as zero afterwards, private file pages read
      // the file again (their copies are dropped), shared file and shmem
      // pages keep their data in the page cache. It also drops KVM's
      // shadow entries of those frames.
      if (piece.lock)
        ::madvise(host_phys(piece.phys), piece.len(), MADV_DONTNEED_LOCKED);
      else
        host_discard(host_phys(piece.phys), piece.len());
      return Ok();
    case MADV_FREE:
      if (piece.backing != Vma::kAnon || piece.lock) return Errno{EINVAL};  // vma_is_anonymous
      // Freeing at once is one of the behaviours MADV_FREE allows.
      host_discard(host_phys(piece.phys), piece.len());
      return Ok();
    case MADV_REMOVE:
      // madvise_remove: a file, mapped shared and may-write
      // (vma_is_shared_maywrite), then a hole punched in the file.
      if (piece.lock || piece.backing == Vma::kAnon) return Errno{EINVAL};
      if (!(piece.flags & MAP_SHARED) || !(piece.max_prot & PROT_WRITE)) return Errno{EACCES};
      if (::madvise(host_phys(piece.phys), piece.len(), MADV_REMOVE) != 0) return Errno{errno};
      return Ok();
    default:
      return Ok();
  }
}

// The fork advice of madvise_vma_behavior: VM_WIPEONFORK only on a VMA
// without a file that is not shared (a special mapping has no file),
// VM_DONTCOPY on any, cleared again except on a VM_IO one ([vvar]).
// madvise_update_vma changes nothing when the flag is already as asked;
// otherwise it splits at the range's edges, which a special mapping
// refuses (EINVAL), and merges where it can.
Result<void> MemoryManager::fork_advice(const Vma& piece, int advice) {
  const bool wipe = advice == MADV_WIPEONFORK || advice == MADV_KEEPONFORK;
  bool Vma::*flag = wipe ? &Vma::wipe_on_fork : &Vma::dont_fork;
  const bool value = advice == MADV_WIPEONFORK || advice == MADV_DONTFORK;
  if (advice == MADV_WIPEONFORK && !piece.special && piece.backing != Vma::kAnon)
    return Errno{EINVAL};
  if (advice == MADV_DOFORK && piece.backing == Vma::kHost) return Errno{EINVAL};
  if (piece.*flag == value) return Ok();
  if (piece.special) {
    const Vma* whole = as_.find(piece.start);
    if (!whole || whole->start != piece.start || whole->end != piece.end) return Errno{EINVAL};
  }
  as_.set_flag(piece.start, piece.end, flag, value);
  return Ok();
}

// mm/madvise.c do_madvise / madvise_walk_vmas.
// ------------------------------------------------------- remap_file_pages

// mm/mmap.c remap_file_pages: prot must be 0; start and size are truncated
// to pages; an empty or wrapping range, or a wrapping pgoff, is EINVAL; the
// range must start in a shared file mapping and continue through VMAs of
// the same file and flags without a hole (EINVAL). Linux then maps the file
// again at [start, start+size) from pgoff (MAP_SHARED | MAP_FIXED |
// MAP_POPULATE, the VMA's prot, MAP_LOCKED if locked). The host does exactly
// that to each piece's overlay (its own remap_file_pages on the host
// mapping, which is shared and has the guest's prot), and the VMAs record
// the new offsets. Pieces whose runs are not contiguous stay separate VMAs
// where Linux's new mapping is one.
Result<void> MemoryManager::remap_file_pages(uint64_t start, uint64_t size, uint64_t prot,
                                             uint64_t pgoff, uint64_t flags) {
  if (prot) return Errno{EINVAL};
  start &= ~(kPageSize - 1);
  size &= ~(kPageSize - 1);
  if (start + size <= start) return Errno{EINVAL};
  if (pgoff + (size / kPageSize) < pgoff) return Errno{EINVAL};
  std::lock_guard lock(mu_);
  const uint64_t end = start + size;
  const Vma* first = as_.find(start);
  if (!first || !(first->flags & MAP_SHARED) ||
      (first->backing != Vma::kFile && first->backing != Vma::kSharedAnon))
    return Errno{EINVAL};
  for (const Vma* v = first; v->end < end;) {
    const Vma* next = as_.find_next(v->end);
    if (!next || next->start != v->end) return Errno{EINVAL};
    if (next->backing != first->backing || next->file_dev != first->file_dev ||
        next->file_ino != first->file_ino || next->prot != first->prot ||
        next->max_prot != first->max_prot || next->flags != first->flags ||
        next->lock != first->lock)
      return Errno{EINVAL};
    v = next;
  }
  if (pgoff > (UINT64_MAX / kPageSize)) return Errno{EINVAL};
  // Linux's do_mmap(MAP_FIXED) over the range refuses a sealed VMA.
  if (range_sealed(start, end)) return Errno{EPERM};
  const uint64_t offset = pgoff * kPageSize;
  for (const Vma& piece : as_.pieces(start, end)) {
    uint64_t piece_pgoff = (offset + (piece.start - start)) / kPageSize;
    if (::syscall(SYS_remap_file_pages, host_phys(piece.phys), piece.len(), 0, piece_pgoff,
                  flags & MAP_NONBLOCK) != 0)
      return Errno{errno};
  }
  as_.set_file_offset(start, end, offset);
  return Ok();
}

Result<void> MemoryManager::madvise(uint64_t addr, uint64_t len, int advice) {
  std::lock_guard lock(mu_);
  switch (advice) {
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_DONTNEED:
    case MADV_FREE:
    case MADV_REMOVE:
    case MADV_DONTFORK:
    case MADV_DOFORK:
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
    case MADV_WIPEONFORK:
    case MADV_KEEPONFORK:
    case MADV_COLD:
    case MADV_PAGEOUT:
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
    case MADV_DONTNEED_LOCKED:
    case 25 /* MADV_COLLAPSE */:
      break;
    default:
      // MADV_HWPOISON / MADV_SOFT_OFFLINE need CAP_SYS_ADMIN; guard pages
      // (MADV_GUARD_*) are not implemented.
      if (advice == MADV_HWPOISON || advice == 101 /* MADV_SOFT_OFFLINE */) return Errno{EPERM};
      return Errno{EINVAL};
  }
  if (!page_aligned(addr)) return Errno{EINVAL};
  auto rounded = page_round_up(len);
  if (len && (!rounded || *rounded == 0)) return Errno{EINVAL};
  auto end = checked_add(addr, rounded.value_or(0));
  if (!end) return Errno{EINVAL};
  if (*end == addr) return Ok();
  bool hole = false;
  uint64_t cur = addr;
  for (const Vma& piece : as_.pieces(addr, *end)) {
    if (piece.start > cur) hole = true;
    if (advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE) {
      // Populating PROT_NONE or (for WRITE) read-only memory faults.
      int need = advice == MADV_POPULATE_WRITE ? PROT_WRITE : PROT_READ;
      if (hole) return Errno{ENOMEM};
      if (!prot_allows(piece.prot, need)) return Errno{EFAULT};
    }
    TRY(madvise_vma(piece, advice));
    cur = piece.end;
  }
  if (cur < *end) hole = true;
  return hole ? Result<void>(Errno{ENOMEM}) : Ok();
}

// ---------------------------------------------------------------- mseal

bool MemoryManager::range_sealed(uint64_t start, uint64_t end) const {
  for (const Vma& p : as_.pieces(start, end))
    if (p.sealed) return true;
  return false;
}

// mm/mseal.c do_mseal: flags 0, start page aligned, len rounded up to pages
// (a length that rounds to 0 or a wrapping end is EINVAL), an empty range
// is 0; the range must be mapped without a hole (ENOMEM, nothing sealed);
// then each VMA piece gets VM_SEALED (split at the edges, merged). Splitting
// a special mapping fails as vma_modify_flags does (EINVAL).
Result<void> MemoryManager::mseal(uint64_t start, uint64_t len, uint64_t flags) {
  if (flags) return Errno{EINVAL};
  if (!page_aligned(start)) return Errno{EINVAL};
  const uint64_t rounded = page_round_up(len).value_or(0);
  if (len && !rounded) return Errno{EINVAL};
  auto end = checked_add(start, rounded);
  if (!end) return Errno{EINVAL};
  if (*end == start) return Ok();
  std::lock_guard lock(mu_);
  if (!as_.range_fully_mapped(start, *end)) return Errno{ENOMEM};
  if (const Vma* sp = special_split(start, *end); sp && !sp->sealed) return Errno{EINVAL};
  as_.set_flag(start, *end, &Vma::sealed, true);
  return Ok();
}

// ---------------------------------------------------------------- msync

// mm/msync.c SYSCALL_DEFINE3(msync). Dirty shared pages live in the host
// page cache already (the overlay), so MS_ASYNC has nothing to start and
// MS_INVALIDATE nothing to drop; MS_SYNC is the host's msync on the overlay,
// which is vfs_fsync_range on the same file range. MS_INVALIDATE on locked
// memory is EBUSY.
Result<void> MemoryManager::msync(uint64_t addr, uint64_t len, int flags) {
  std::lock_guard lock(mu_);
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return Errno{EINVAL};
  if (!page_aligned(addr)) return Errno{EINVAL};
  if ((flags & MS_ASYNC) && (flags & MS_SYNC)) return Errno{EINVAL};
  // len = PAGE_ALIGN(len); end < start is ENOMEM (wrapped).
  auto rounded = page_round_up(len);
  if (!rounded) return Errno{ENOMEM};
  auto end = checked_add(addr, *rounded);
  if (!end) return Errno{ENOMEM};
  if (*end == addr) return Ok();
  // Holes are skipped but reported as ENOMEM at the end; with plain
  // MS_ASYNC the first hole ends the walk with ENOMEM.
  bool unmapped = false;
  uint64_t start = addr;
  for (;;) {
    const Vma* v = as_.find_next(start);
    if (!v) return Errno{ENOMEM};
    if (start < v->start) {
      if (flags == MS_ASYNC) return Errno{ENOMEM};
      start = v->start;
      if (start >= *end) return Errno{ENOMEM};
      unmapped = true;
    }
    // Locked memory cannot be invalidated.
    if ((flags & MS_INVALIDATE) && v->lock != Vma::kUnlocked) return Errno{EBUSY};
    const Vma piece = v->clipped(start, *end);
    start = v->end;
    // Only VM_SHARED file mappings are written back: a shared mapping of a
    // file not open for writing has no VM_SHARED (do_mmap).
    if ((flags & MS_SYNC) && piece.overlay() && (piece.flags & MAP_SHARED) &&
        (piece.max_prot & PROT_WRITE)) {
      if (::msync(host_phys(piece.phys), piece.len(), MS_SYNC) != 0) return Errno{errno};
    }
    if (start >= *end) break;
  }
  return unmapped ? Result<void>(Errno{ENOMEM}) : Ok();
}

// ---------------------------------------------------------------- brk

// mm/mmap.c SYSCALL_DEFINE1(brk).
uint64_t MemoryManager::brk(uint64_t want) {
  std::lock_guard lock(mu_);
  Layout& L = layout_;
  if (L.brk_start == 0 || want < L.brk_start) return L.brk;
  // sys_brk: check_data_rlimit before anything, shrinking included.
  if (limits_ &&
      !brk_fits_data_rlimit(limits_->cur(RLIMIT_DATA), want, L.brk_start, L.data_size, 0))
    return L.brk;
  auto newbrk_r = page_round_up(want);
  if (!newbrk_r) return L.brk;
  const uint64_t newbrk = *newbrk_r;
  const uint64_t oldbrk = page_round_up(L.brk).value();
  if (newbrk == oldbrk) {
    L.brk = want;
    return want;
  }
  // Always allow shrinking brk, unless the unmap would split a special
  // mapping moved there (do_vmi_align_munmap fails; brk stays).
  if (want <= L.brk) {
    if (range_sealed(newbrk, oldbrk) || special_split(newbrk, oldbrk)) return L.brk;
    unmap_range(newbrk, oldbrk);
    L.brk = want;
    return want;
  }
  if (newbrk > L.task_size) return L.brk;
  // Keep a page (and a stack's guard gap) between the heap and the next VMA.
  if (const Vma* next = as_.find_next(oldbrk)) {
    uint64_t gap_start = next->start;
    if (next->flags & MAP_GROWSDOWN)
      gap_start = gap_start > kStackGuardGap ? gap_start - kStackGuardGap : 0;
    if (newbrk + kPageSize > gap_start) return L.brk;
  }
  // do_brk_flags: may_expand_vm for the new heap pages.
  if (!may_expand(PROT_READ | PROT_WRITE, MAP_PRIVATE, (newbrk - oldbrk) / kPageSize)) return L.brk;
  const Vma* prev = oldbrk > 0 ? as_.find(oldbrk - 1) : nullptr;
  if (prev && prev->end == oldbrk && prev->name == "[heap]" && prev->backing == Vma::kAnon &&
      prev->prot == (PROT_READ | PROT_WRITE) && prev->max_prot == kProtRWX &&
      prev->flags == MAP_PRIVATE && !prev->sealed) {
    if (!grow_vma(*prev, newbrk, PhysAllocator::Placement::kLow).ok()) return L.brk;
  } else {
    NewMapping m;
    m.addr = oldbrk;
    m.len = newbrk - oldbrk;
    m.prot = PROT_READ | PROT_WRITE;
    m.name = "[heap]";
    m.where = PhysAllocator::Placement::kLow;
    if (!install(m, /*replace=*/false).ok()) return L.brk;
  }
  L.brk = want;
  return want;
}

// ---------------------------------------------------------------- access

Result<void> MemoryManager::check_access(uint64_t guest, uint64_t len, int prot) const {
  auto end = checked_add(guest, len);
  if (!end) return Errno{EFAULT};
  uint64_t cur = guest;
  while (cur < *end) {
    const Vma* v = as_.find(cur);
    if (!v || !prot_allows(v->prot, prot)) return Errno{EFAULT};
    cur = v->end;
  }
  return Ok();
}

Result<std::vector<iovec>> MemoryManager::host_ranges(uint64_t guest, uint64_t len,
                                                      int prot) const {
  std::lock_guard lock(mu_);
  TRY(check_access(guest, len, prot));
  std::vector<iovec> out;
  const uint64_t end = guest + len;
  uint64_t cur = guest;
  while (cur < end) {
    const Vma* v = as_.find(cur);
    uint64_t n = std::min(end, v->end) - cur;
    out.push_back({host_phys(v->phys_of(cur)), n});
    cur += n;
  }
  return out;
}

Result<void> MemoryManager::copy_in(void* dst, uint64_t guest_src, uint64_t len) const {
  std::lock_guard lock(mu_);
  TRY(check_access(guest_src, len, PROT_READ));
  auto* d = static_cast<uint8_t*>(dst);
  uint64_t cur = guest_src;
  const uint64_t end = guest_src + len;
  while (cur < end) {
    const Vma* v = as_.find(cur);
    uint64_t n = std::min(end, v->end) - cur;
    const uint8_t* h = host_phys(v->phys_of(cur));
    if (v->backing == Vma::kHost) TRY(check_host_pages(v->phys_of(cur), n));
    if (v->overlay())
      TRY(overlay_copy(d, h, n));
    else
      std::memcpy(d, h, n);
    d += n;
    cur += n;
  }
  return Ok();
}

Result<void> MemoryManager::copy_out(uint64_t guest_dst, const void* src, uint64_t len) {
  std::lock_guard lock(mu_);
  TRY(check_access(guest_dst, len, PROT_WRITE));
  auto* s = static_cast<const uint8_t*>(src);
  uint64_t cur = guest_dst;
  const uint64_t end = guest_dst + len;
  while (cur < end) {
    const Vma* v = as_.find(cur);
    uint64_t n = std::min(end, v->end) - cur;
    uint8_t* h = host_phys(v->phys_of(cur));
    if (v->overlay()) {
      // A page past the end of the file is EFAULT rather than SIGBUS in
      // elfuse (see overlay_copy).
      TRY(overlay_copy(h, s, n));
    } else {
      std::memcpy(h, s, n);
    }
    s += n;
    cur += n;
  }
  return Ok();
}

namespace {

// elfuse's own /proc/self/mem, opened once per host process (a forked
// child's inherited descriptor still names its parent's memory, so the pid
// it was opened in is kept with it). Reads and writes through it are the
// host kernel's FOLL_FORCE access: a write to a read-only private file
// mapping copies the page on write there too, and a page the host cannot
// fault in (a file overlay past the end of its file) ends the transfer
// instead of raising SIGBUS in elfuse. Called with the memory lock held.
int host_self_mem() {
  static int fd = -1;
  static pid_t opened_in = 0;
  pid_t me = ::getpid();
  if (fd >= 0 && opened_in == me) return fd;
  if (fd >= 0) ::close(fd);
  fd = -1;
  int f = ::open("/proc/self/mem", O_RDWR | O_CLOEXEC);
  if (f < 0) return -1;
  fd = move_to_private_fd(f);
  opened_in = me;
  return fd;
}

// mm/gup.c check_vma_flags for FOLL_FORCE (no FOLL_REMOTE quirks apply to
// a process's own memory).
bool forced_access_allowed(const Vma& v, bool write) {
  if (v.backing == Vma::kHost) return false;  // VM_IO | VM_PFNMAP
  if (write) {
    if (v.prot & PROT_WRITE) return true;
    // is_cow_mapping: private and VM_MAYWRITE. A shared mapping without
    // PROT_WRITE is refused, even when it could be made writable.
    return !(v.flags & MAP_SHARED) && (v.max_prot & PROT_WRITE);
  }
  return (v.prot & PROT_READ) || (v.max_prot & PROT_READ);
}

}  // namespace

uint64_t MemoryManager::access_forced(uint64_t addr, void* buf, uint64_t len, bool write) {
  std::lock_guard lock(mu_);
  auto* b = static_cast<uint8_t*>(buf);
  uint64_t done = 0;
  while (done < len) {
    const uint64_t va = addr + done;
    if (va < addr) break;  // wrapped past the top of the address space
    const Vma* v = as_.find(va);
    if (!v || !forced_access_allowed(*v, write)) break;
    const uint64_t n = std::min(len - done, v->end - va);
    const uint64_t pa = v->phys_of(va);
    // Only the reservation (kHost was refused above).
    if (pa >= phys_size_ || n > phys_size_ - pa) break;
    uint8_t* h = host_phys(pa);
    if (!v->overlay()) {
      // Anonymous reservation memory: the host maps it read-write whatever
      // the guest's protection, and a private copy is what it already is.
      if (write)
        std::memcpy(h, b + done, n);
      else
        std::memcpy(b + done, h, n);
      done += n;
      continue;
    }
    int mem = host_self_mem();
    if (mem < 0) break;
    const auto off = static_cast<off_t>(reinterpret_cast<uintptr_t>(h));
    ssize_t r = write ? ::pwrite(mem, b + done, n, off) : ::pread(mem, b + done, n, off);
    if (r <= 0) break;
    done += static_cast<uint64_t>(r);
    if (static_cast<uint64_t>(r) < n) break;
  }
  return done;
}

Result<std::string> MemoryManager::copy_in_string(uint64_t guest_src, uint64_t max) const {
  std::lock_guard lock(mu_);
  std::string out;
  uint64_t cur = guest_src;
  while (out.size() < max) {
    const Vma* v = as_.find(cur);
    if (!v || !prot_allows(v->prot, PROT_READ)) return Errno{EFAULT};
    uint64_t n = std::min<uint64_t>(v->end - cur, max - out.size());
    const char* p = reinterpret_cast<const char*>(host_phys(v->phys_of(cur)));
    char page[kPageSize];
    if (v->backing == Vma::kHost) TRY(check_host_pages(v->phys_of(cur), n));
    if (v->overlay()) {
      // A page at a time, fault-tolerant (see overlay_copy).
      n = std::min<uint64_t>(n, kPageSize - (cur & kPageMask));
      TRY(overlay_copy(page, p, n));
      p = page;
    }
    const void* nul = std::memchr(p, 0, n);
    if (nul) {
      out.append(p, static_cast<const char*>(nul) - p);
      return out;
    }
    out.append(p, n);
    cur += n;
    if (cur == 0) return Errno{EFAULT};  // wrapped past the top
  }
  return Errno{ENAMETOOLONG};
}

// ---------------------------------------------------------------- SIGBUS

std::optional<uint64_t> MemoryManager::find_sigbus_page(uint64_t gpa_hint) const {
  std::lock_guard lock(mu_);
  // Probe a page with a fault-tolerant load: it fails where the host
  // raises SIGBUS (no page of the file there).
  safe_copy::FaultWindow window;
  auto bad = [&](const Vma& v, uint64_t va) {
    if (!prot_allows(v.prot, PROT_READ)) return false;
    char c;
    return !overlay_copy(&c, host_phys(v.phys_of(va)), 1).ok();
  };
  if (gpa_hint != ~0ull) {
    for (const Vma& v : as_)
      if (v.overlay() && gpa_hint >= v.phys && gpa_hint - v.phys < v.len()) {
        uint64_t va = v.start + page_round_down(gpa_hint - v.phys);
        if (bad(v, va)) return va;
      }
    return std::nullopt;
  }
  // Without an address from KVM: the first such page of any overlay. The
  // pages past EOF are at the end of a mapping, so search each one from
  // its end backwards only while pages fail.
  for (const Vma& v : as_) {
    if (!v.overlay() || !bad(v, v.end - kPageSize)) continue;
    uint64_t lo = v.start, hi = v.end - kPageSize;  // hi is bad
    while (lo < hi) {
      uint64_t mid = lo + page_round_down((hi - lo) / 2);
      if (bad(v, mid))
        hi = mid;
      else
        lo = mid + kPageSize;
    }
    return hi;
  }
  return std::nullopt;
}

Result<void> MemoryManager::check_host_pages(uint64_t pa, uint64_t len) const {
  for (const HostWindow& w : host_windows_) {
    if (pa < w.gpa || pa - w.gpa >= w.len) continue;
    for (uint64_t off = page_round_down(pa - w.gpa); off < pa - w.gpa + len; off += kPageSize)
      if (off >= w.len || w.sigbus[off / kPageSize]) return Errno{EFAULT};
    return Ok();
  }
  return Errno{EFAULT};
}

bool MemoryManager::host_page_sigbus(uint64_t va) const {
  std::lock_guard lock(mu_);
  const Vma* v = as_.find(va);
  if (!v || v->backing != Vma::kHost || !prot_allows(v->prot, PROT_READ)) return false;
  uint64_t pa = v->phys_of(va);
  for (const HostWindow& w : host_windows_)
    if (pa >= w.gpa && pa - w.gpa < w.len) return w.sigbus[(pa - w.gpa) / kPageSize];
  return false;
}

// ---------------------------------------------------------------- System V shm

namespace {
// arch/x86: SHMLBA is PAGE_SIZE (no __ARCH_FORCE_SHMLBA).
constexpr uint64_t kShmLba = kPageSize;
}  // namespace

// ipc/shm.c do_shmat, in its order: the address and flag checks, then the
// segment (EINVAL when there is none, EACCES without read permission: the
// host's IPC_STAT makes both checks, as shmat needs read access in any
// case), the overlap check without SHM_REMAP, then do_mmap of the whole
// segment, MAP_SHARED. The host's own shmat over the run then checks write
// and exec permission and counts the attach.
Result<uint64_t> MemoryManager::shmat(int shmid, uint64_t addr, int shmflg) {
  std::lock_guard lock(mu_);
  if (shmid < 0) return Errno{EINVAL};
  bool fixed = false;
  if (addr) {
    if (addr & (kShmLba - 1)) {
      if (!(shmflg & SHM_RND)) return Errno{EINVAL};
      addr &= ~(kShmLba - 1);
      // A remap must not round down to address 0.
      if (!addr && (shmflg & SHM_REMAP)) return Errno{EINVAL};
    }
    fixed = true;
  } else if (shmflg & SHM_REMAP) {
    return Errno{EINVAL};
  }
  int prot = (shmflg & SHM_RDONLY) ? PROT_READ : PROT_READ | PROT_WRITE;
  if (shmflg & SHM_EXEC) prot |= PROT_EXEC;
  struct shmid_ds ds {};
  if (::shmctl(shmid, IPC_STAT, &ds) != 0) return Errno{errno};
  const uint64_t size = ds.shm_segsz;
  auto len = page_round_up(size);
  if (!len || *len == 0) return Errno{ENOMEM};
  if (fixed && !(shmflg & SHM_REMAP)) {
    auto end = checked_add(addr, size);
    if (!end || !as_.range_free(addr, *end)) return Errno{EINVAL};
  }
  const int mflags = MAP_SHARED | (fixed ? MAP_FIXED : 0);
  const uint64_t where = TRY(unmapped_area(addr, *len, mflags));
  if (!lock_future_ok(def_lock_, *len)) return Errno{EAGAIN};
  if (!may_expand(prot, MAP_SHARED, *len / kPageSize) &&
      !may_expand(prot, MAP_SHARED,
                  *len / kPageSize - (fixed ? mapped_pages(where, where + *len) : 0)))
    return Errno{ENOMEM};
  NewMapping m;
  m.addr = where;
  m.len = *len;
  m.prot = prot;
  // The attach's file is opened read-only for SHM_RDONLY: a shared mapping
  // of it can never become writable (VM_MAYWRITE cleared by do_mmap).
  m.max_prot = (shmflg & SHM_RDONLY) ? (kProtRWX & ~PROT_WRITE) : kProtRWX;
  m.flags = MAP_SHARED;
  m.backing = Vma::kShm;
  m.shm_id = shmid;
  m.shm_host_flags = SHM_REMAP | (shmflg & (SHM_RDONLY | SHM_EXEC));
  m.shm_attach = next_shm_attach_++;
  m.shm_size = size;
  // do_mmap with MAP_FIXED unmaps what SHM_REMAP replaces: splitting a
  // special mapping there fails.
  if (fixed && special_split(where, where + *len)) return Errno{EINVAL};
  return install(m, /*replace=*/fixed);
}

// ipc/shm.c ksys_shmdt: from the first VMA ending above addr, the first
// piece of a segment attached at addr (its offset in the segment equals its
// distance from addr) is detached; then every further piece of that same
// attach that lies within the segment's size from addr. EINVAL when there
// was none.
Result<void> MemoryManager::shmdt(uint64_t addr) {
  std::lock_guard lock(mu_);
  if (addr & kPageMask) return Errno{EINVAL};
  auto attached_at_addr = [&](const Vma& v) {
    return v.backing == Vma::kShm && (v.start - addr) / kPageSize == v.file_offset / kPageSize;
  };
  uint64_t cur = addr, attach = 0, size = 0;
  bool found = false;
  while (const Vma* v = as_.find_next(cur)) {
    cur = v->end;
    if (attached_at_addr(*v)) {
      attach = v->shm_attach;
      size = v->shm_size;
      // ksys_shmdt ignores do_vmi_align_munmap's result: a sealed attach
      // stays (EPERM there) and the call still succeeds.
      const uint64_t s = v->start, e = v->end;
      if (!v->sealed) unmap_range(s, e);
      found = true;
      break;
    }
  }
  if (!found) return Errno{EINVAL};
  size = page_round_up(size).value_or(~0ull & ~kPageMask);
  while (const Vma* v = as_.find_next(cur)) {
    if (v->end - addr > size) break;
    cur = v->end;
    if (attached_at_addr(*v) && v->shm_attach == attach && !v->sealed) {
      const uint64_t s = v->start, e = v->end;
      unmap_range(s, e);
    }
  }
  return Ok();
}

// ---------------------------------------------------------------- mlock

void MemoryManager::host_lock(const Vma& v) {
  if (v.lock == Vma::kUnlocked) return;
  // Linux does not populate memory the guest cannot access; neither may
  // the host (a PROT_NONE reservation of gigabytes would be faulted in).
  const bool on_fault = v.lock == Vma::kLockedOnFault || !(v.prot & kProtRWX);
  ::syscall(SYS_mlock2, host_phys(v.phys), v.len(), on_fault ? MLOCK_ONFAULT : 0);
}

void MemoryManager::host_unlock(const Vma& v) {
  if (v.lock != Vma::kUnlocked) ::munlock(host_phys(v.phys), v.len());
}

uint64_t MemoryManager::locked_bytes_locked() const {
  uint64_t n = 0;
  for (const Vma& v : as_)
    if (v.lock != Vma::kUnlocked) n += v.len();
  return n;
}

uint64_t MemoryManager::locked_bytes() const {
  std::lock_guard lock(mu_);
  return locked_bytes_locked();
}

bool MemoryManager::lock_future_ok(Vma::Lock lock, uint64_t len) const {
  if (lock == Vma::kUnlocked || capable_ipc_lock()) return true;
  const uint64_t limit = memlock_limit_bytes() / kPageSize;
  return (locked_bytes_locked() + len) / kPageSize <= limit;
}

// mm/mlock.c apply_vma_lock_flags: VMA by VMA from start; a hole ends the
// walk with ENOMEM, the VMAs before it keep their new state.
Result<void> MemoryManager::apply_lock(uint64_t start, uint64_t end, Vma::Lock kind) {
  if (end < start) return Errno{EINVAL};
  if (end == start) return Ok();
  if (!as_.find(start)) return Errno{ENOMEM};
  uint64_t cur = start;
  while (cur < end) {
    const Vma* v = as_.find(cur);
    if (!v) return Errno{ENOMEM};
    const uint64_t piece_end = std::min(v->end, end);
    // mlock_fixup leaves VM_SPECIAL mappings (the vDSO's) unlocked.
    if (v->special) {
      cur = piece_end;
      continue;
    }
    for (const Vma& old : as_.set_lock(cur, piece_end, kind)) {
      if (old.lock == kind) continue;
      Vma now = old;
      now.lock = kind;
      host_unlock(old);
      host_lock(now);
    }
    cur = piece_end;
  }
  return Ok();
}

// mm/mlock.c do_mlock.
Result<void> MemoryManager::mlock(uint64_t start, uint64_t len, Vma::Lock kind) {
  std::lock_guard lock(mu_);
  if (memlock_limit_bytes() == 0 && !capable_ipc_lock()) return Errno{EPERM};
  // len = PAGE_ALIGN(len + offset_in_page(start)), wrapping as the kernel's.
  len = (len + (start & kPageMask) + kPageMask) & ~kPageMask;
  start &= ~kPageMask;
  const bool capable = capable_ipc_lock();
  const uint64_t limit = memlock_limit_bytes() / kPageSize;
  uint64_t locked = len / kPageSize + locked_bytes_locked() / kPageSize;
  if (locked > limit && !capable) {
    // Pages already locked in the range are not counted twice
    // (count_mm_mlocked_page_nr).
    uint64_t already = 0;
    for (const Vma& p : as_.pieces(start, start + len < start ? ~0ull : start + len))
      if (p.lock != Vma::kUnlocked) already += p.len();
    locked -= std::min(locked, already / kPageSize);
  }
  if (locked > limit && !capable) return Errno{ENOMEM};
  TRY(apply_lock(start, start + len, kind));
  // __mm_populate (the host mlock2 did the populating): a VMA the guest
  // cannot access fails get_user_pages with EFAULT, which mlock reports
  // as ENOMEM (__mlock_posix_error_return); MLOCK_ONFAULT populates nothing.
  if (kind == Vma::kLocked)
    for (const Vma& p : as_.pieces(start, start + len))
      if (!p.special && !(p.prot & kProtRWX)) return Errno{ENOMEM};
  return Ok();
}

Result<void> MemoryManager::munlock(uint64_t start, uint64_t len) {
  std::lock_guard lock(mu_);
  len = (len + (start & kPageMask) + kPageMask) & ~kPageMask;
  start &= ~kPageMask;
  return apply_lock(start, start + len, Vma::kUnlocked);
}

// mm/mlock.c mlockall and apply_mlockall_flags.
Result<void> MemoryManager::mlockall(int flags) {
  std::lock_guard lock(mu_);
  if (!flags || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || flags == MCL_ONFAULT)
    return Errno{EINVAL};
  if (memlock_limit_bytes() == 0 && !capable_ipc_lock()) return Errno{EPERM};
  if (flags & MCL_CURRENT) {
    uint64_t total = 0;
    for (const Vma& v : as_) total += v.len();
    if (total / kPageSize > memlock_limit_bytes() / kPageSize && !capable_ipc_lock())
      return Errno{ENOMEM};
  }
  const Vma::Lock kind = (flags & MCL_ONFAULT) ? Vma::kLockedOnFault : Vma::kLocked;
  def_lock_ = (flags & MCL_FUTURE) ? kind : Vma::kUnlocked;
  if (!(flags & MCL_CURRENT)) return Ok();
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Vma& v : as_) ranges.emplace_back(v.start, v.end);
  for (auto [s, e] : ranges) (void)apply_lock(s, e, kind);
  return Ok();
}

Result<void> MemoryManager::munlockall() {
  std::lock_guard lock(mu_);
  def_lock_ = Vma::kUnlocked;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Vma& v : as_) ranges.emplace_back(v.start, v.end);
  for (auto [s, e] : ranges) (void)apply_lock(s, e, Vma::kUnlocked);
  return Ok();
}

void MemoryManager::fork_advice_in_child() {
  std::lock_guard lock(mu_);
  std::vector<std::pair<uint64_t, uint64_t>> gone;
  for (const Vma& v : as_) {
    if (v.dont_fork) {
      gone.emplace_back(v.start, v.end);
    } else if (v.wipe_on_fork && v.backing == Vma::kAnon && !v.special) {
      // dup_mmap copies no page of it: the child's host copy of the run
      // is dropped, and the private anonymous reservation reads as zeros.
      host_discard(host_phys(v.phys), v.len());
      if (sync_) sync_->narrowed(v.phys, v.len());
    }
  }
  // Not copied at all: as munmap in the child, before it runs.
  for (auto [s, e] : gone) unmap_range(s, e);
}

void MemoryManager::drop_locks_in_child() {
  std::lock_guard lock(mu_);
  def_lock_ = Vma::kUnlocked;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Vma& v : as_)
    if (v.lock != Vma::kUnlocked) ranges.emplace_back(v.start, v.end);
  for (auto [s, e] : ranges) as_.set_lock(s, e, Vma::kUnlocked, /*merge=*/false);
}

// ---------------------------------------------------------------- limits

uint64_t MemoryManager::memlock_limit_bytes() const {
  return limits_ ? limits_->cur(RLIMIT_MEMLOCK) : host_memlock_limit();
}

uint64_t MemoryManager::mapped_pages(uint64_t start, uint64_t end) const {
  uint64_t n = 0;
  for (const Vma& p : as_.pieces(start, end)) n += p.len() / kPageSize;
  return n;
}

bool MemoryManager::may_expand(int prot, int flags, uint64_t npages) const {
  if (!limits_) return true;
  const uint64_t as_cur = limits_->cur(RLIMIT_AS), data_cur = limits_->cur(RLIMIT_DATA);
  if (as_cur == kRlimInfinity && data_cur == kRlimInfinity) return true;
  uint64_t total = 0, data = 0;
  for (const Vma& v : as_) {
    const uint64_t n = v.len() / kPageSize;
    total += n;
    if (is_data_mapping(v.prot, v.flags)) data += n;
  }
  return may_expand_vm(total, data, prot, flags, npages, as_cur, data_cur,
                       limits_->max(RLIMIT_DATA));
}

}  // namespace elfuse
