// The memory manager's mmap side (Linux's mm/mmap.c, mm/vma.c and
// arch/x86/kernel/sys_x86_64.c): get_unmapped_area, mapping installation,
// mmap, the loader's fixed mappings, special mappings, munmap and brk.
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
#include "mm/memory_manager.h"
#include "mm/mm_internal.h"

namespace elfuse {

using namespace mm_internal;

namespace {

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

}  // namespace

// arch/x86/kernel/sys_x86_64.c arch_get_unmapped_area_topdown plus the
// generic checks of mm/mmap.c __get_unmapped_area.
Result<uint64_t> MemoryManager::unmapped_area(uint64_t hint, uint64_t len, int flags,
                                              uint64_t phys_hint) const {
  assert_locked();
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
  assert_locked();
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
  return munmap_locked(addr, len);
}

Result<void> MemoryManager::munmap_locked(uint64_t addr, uint64_t len) {
  assert_locked();
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

}  // namespace elfuse
