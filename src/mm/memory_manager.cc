// Memory syscalls with Linux's semantics. The order of checks, and so which
// errno wins when several apply, follows the kernel functions named in the
// comments (mm/mmap.c, mm/mremap.c, mm/mprotect.c, mm/madvise.c, mm/vma.c,
// arch/x86/kernel/sys_x86_64.c) as of Linux 6.x.
//
// Physical memory: each VMA maps one contiguous run of guest-physical memory.
// The reservation is private anonymous host memory (docs/design.md "Memory"),
// so MADV_DONTNEED on a released run zeroes it: a run handed out again is
// always zero-filled.
#include "mm/memory_manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "base/checked.h"
#include "base/log.h"

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

struct FileSource {
  int fd = -1;
  int access = O_RDONLY;  // O_ACCMODE bits
  struct stat st {};
  bool noexec = false;
  std::string path;
};

// ksys_mmap_pgoff: fget(fd) or EBADF. O_PATH descriptors are not mappable
// (fget refuses FMODE_PATH files).
Result<FileSource> inspect_fd(int fd) {
  FileSource f;
  f.fd = fd;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (fl & O_PATH)) return Errno{EBADF};
  f.access = fl & O_ACCMODE;
  if (fstat(fd, &f.st) != 0) return Errno{errno};
  struct statvfs sv {};
  if (fstatvfs(fd, &sv) == 0) f.noexec = sv.f_flag & ST_NOEXEC;
  char buf[PATH_MAX];
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(link.c_str(), buf, sizeof buf);
  if (n > 0) f.path.assign(buf, static_cast<size_t>(n));
  return f;
}

bool is_dev_zero(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 5;
}

// Copies len bytes of fd at off into dst; bytes past EOF stay zero.
Result<void> fill_from_file(uint8_t* dst, int fd, uint64_t off, uint64_t len) {
  uint64_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, dst + done, len - done, static_cast<off_t>(off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno{errno};
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
  }
  return Ok();
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
  // The pool grows in 1 GiB steps up to the whole reservation.
  if (sync_)
    phys_.set_growth(phys_size_, 1ull << 30, [this](uint64_t old_end, uint64_t new_end) {
      return sync_->extend(old_end, new_end);
    });
}

// ---------------------------------------------------------------- helpers

void MemoryManager::write_ptes(uint64_t va, uint64_t pa, uint64_t len, int prot) {
  // Only a split of a 2 MiB page or a new table can fail, and only when the
  // table pool is exhausted: a sizing error of elfuse, not the guest's.
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
  // Released only after every PTE store (ShadowSync contract).
  for (const Vma& v : gone) release_run(v.phys, v.len());
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
  // Large mappings get a 2 MiB congruent address so the page tables can
  // use 2 MiB pages (Linux aligns large anonymous mappings to PMD_SIZE too,
  // mm/mmap.c __get_unmapped_area / thp_get_unmapped_area).
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
  if (m.fill_fd >= 0 && m.fill_bytes > 0) {
    auto r = fill_from_file(host_phys(pa), m.fill_fd, m.file_offset, m.fill_bytes);
    if (!r.ok()) {
      release_run(pa, m.len);
      return Errno{r.error()};
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
  v.name = m.name;
  if (!as_.insert(v).ok()) fatal("mm: inserting over a mapped range");
  write_ptes(v.start, pa, m.len, v.prot);
  return m.addr;
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
  if (!anon) {
    file = TRY(inspect_fd(fd));
    // /dev/zero behaves as anonymous memory (drivers/char/mem.c mmap_zero).
    if (is_dev_zero(file->st)) {
      if ((flags & kMapTypeMask) == MAP_PRIVATE) file.reset();
    }
  }
  if (flags & MAP_HUGETLB) {
    // No hugetlbfs pages are reserved for the guest (as on a host with
    // vm.nr_hugepages = 0): hugetlb_file_setup fails with ENOMEM.
    if (anon || !file) return Errno{ENOMEM};
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

  const bool shared_dev_zero = file && is_dev_zero(file->st);
  uint64_t phys_hint = ~0ull;
  uint64_t where = TRY(unmapped_area(addr, len, flags, phys_hint));
  if ((flags & MAP_FIXED_NOREPLACE) && !as_.range_free(where, where + len)) return Errno{EEXIST};

  NewMapping m;
  m.addr = where;
  m.len = len;
  m.prot = prot;
  m.flags = flags;
  if (file && !shared_dev_zero) {
    // file_mmap_ok: the mapping must end below MAX_LFS_FILESIZE.
    if (len > static_cast<uint64_t>(LLONG_MAX) || off > static_cast<uint64_t>(LLONG_MAX) - len)
      return Errno{EOVERFLOW};
    switch (flags & kMapTypeMask) {
      case MAP_SHARED:
      case kMapSharedValidate:
        if (!(file->access == O_RDONLY || file->access == O_RDWR)) return Errno{EACCES};
        if ((prot & PROT_WRITE) && file->access != O_RDWR) return Errno{EACCES};
        // Shared file mappings need the host overlay (design.md "Memory");
        // not implemented yet.
        return Errno{ENODEV};
      case MAP_PRIVATE:
        if (file->access == O_WRONLY) return Errno{EACCES};
        if (file->noexec) {
          if (prot & PROT_EXEC) return Errno{EPERM};
          m.max_prot &= ~PROT_EXEC;
        }
        // No ->mmap: directories, pipes, sockets, most character devices.
        if (!S_ISREG(file->st.st_mode) && !S_ISBLK(file->st.st_mode)) return Errno{ENODEV};
        if (flags & MAP_GROWSDOWN) return Errno{EINVAL};
        break;
      default:
        return Errno{EINVAL};
    }
    // A private copy of the file's bytes; pages past EOF read as zero
    // (Linux would raise SIGBUS for whole pages past EOF).
    m.backing = Vma::kFile;
    m.name = file->path;
    m.file_offset = off;
    m.fill_fd = fd;
    uint64_t size = static_cast<uint64_t>(std::max<off_t>(file->st.st_size, 0));
    m.fill_bytes = off < size ? std::min(len, size - off) : 0;
  } else {
    switch (flags & kMapTypeMask) {
      case MAP_SHARED:
        if (flags & MAP_GROWSDOWN) return Errno{EINVAL};
        m.backing = Vma::kSharedAnon;
        break;
      case MAP_PRIVATE:
      case kMapDroppable:
        m.backing = Vma::kAnon;
        break;
      default:
        // Anonymous MAP_SHARED_VALIDATE is EINVAL too (do_mmap).
        if (!shared_dev_zero || (flags & kMapTypeMask) != kMapSharedValidate) return Errno{EINVAL};
        m.backing = Vma::kSharedAnon;
    }
    if (shared_dev_zero) {
      m.backing = Vma::kSharedAnon;
      m.flags = (m.flags & ~kMapTypeMask) | MAP_SHARED;
    }
    if (m.flags & kMapDroppable) m.flags = (m.flags & ~kMapTypeMask) | MAP_PRIVATE;
  }
  // MAP_POPULATE, MAP_LOCKED, MAP_NONBLOCK: memory is mapped eagerly anyway.
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

// ---------------------------------------------------------------- munmap

// mm/vma.c do_vmi_munmap.
Result<void> MemoryManager::munmap(uint64_t addr, uint64_t len) {
  std::lock_guard lock(mu_);
  const uint64_t task = layout_.task_size;
  if (!page_aligned(addr) || addr > task || len > task - addr) return Errno{EINVAL};
  len = page_round_up(len).value();  // len <= task: cannot overflow
  if (len == 0) return Errno{EINVAL};
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
  std::vector<Vma> old = TRY(as_.protect(start, *end, prot));
  for (const Vma& v : old) write_ptes(v.start, v.phys, v.len(), prot);
  for (const Vma& v : old)
    if (sync_ && narrows(v.prot, prot)) sync_->narrowed(v.phys, v.len());
  return Ok();
}

// ---------------------------------------------------------------- mremap

Result<void> MemoryManager::grow_vma(Vma v, uint64_t new_end, PhysAllocator::Placement where) {
  const uint64_t delta = new_end - v.end;
  if (phys_.try_grow(v.phys, v.len(), v.len() + delta)) {
    Vma ext = v.clipped(v.start, v.end);
    ext.start = v.end;
    ext.end = new_end;
    ext.phys = v.phys + v.len();
    ext.file_offset = v.file_offset + v.len();
    if (!as_.insert(ext).ok()) fatal("mm: growing over a mapped range");
    write_ptes(ext.start, ext.phys, delta, ext.prot);
    return Ok();
  }
  // The run cannot grow: move the whole VMA to a new run at the same
  // virtual address, so it stays one VMA as on Linux.
  const uint64_t new_len = new_end - v.start;
  auto pa = phys_.alloc_run(new_len, v.start, where);
  if (!pa) return Errno{ENOMEM};
  Vma nv = v;
  move_contents(*pa, v.phys, v.len());
  as_.remove(v.start, v.end);
  nv.end = new_end;
  nv.phys = *pa;
  if (!as_.insert(nv).ok()) fatal("mm: regrowing over a mapped range");
  write_ptes(nv.start, nv.phys, new_len, nv.prot);
  release_run(v.phys, v.len());
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
  if (new_len > old_len) {
    bool at_run_end = src.end == v.end;
    if (!at_run_end || !phys_.try_grow(src.phys, old_len, new_len)) {
      auto r = phys_.alloc_run(new_len, dest);
      if (!r) return Errno{ENOMEM};
      pa = *r;
      same_run = false;
      move_contents(pa, src.phys, old_len);
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
    if (sync_) sync_->narrowed(src.phys, old_len);
  } else {
    release_run(src.phys, old_len);
  }
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
  // vma_to_resize / resize_is_valid
  if (old_len == 0) return Errno{EINVAL};  // duplicating a shared mapping: unsupported
  if (old_len > v->end - addr) return Errno{EFAULT};
  const bool dontunmap = flags & MREMAP_DONTUNMAP;
  if (dontunmap && !(v->backing == Vma::kAnon && (v->flags & MAP_PRIVATE)))
    return Errno{EINVAL};  // only private anonymous (Linux before 5.13)
  uint64_t dest = new_addr;
  if (!(flags & MREMAP_FIXED)) {
    int mflags = (v->flags & MAP_SHARED) ? MAP_SHARED : 0;
    dest = TRY(unmapped_area(new_addr, new_len, mflags, v->phys_of(addr)));
  } else {
    dest = TRY(unmapped_area(new_addr, new_len, MAP_FIXED));
  }
  Vma copy = *v;
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
    return mremap_to(addr, old_len, new_len, flags, new_addr);
  }
  // Shrinking (or same size) always succeeds: it just unmaps the tail.
  if (old_len >= new_len) {
    if (old_len != new_len) TRY(munmap(addr + new_len, old_len - new_len));
    return addr;
  }
  const Vma* v = as_.find(addr);
  if (!v) return Errno{EFAULT};
  if (old_len == 0) return Errno{EINVAL};  // see mremap_to
  if (old_len > v->end - addr) return Errno{EFAULT};
  const Vma copy = *v;
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
  switch (advice) {
    case MADV_DONTNEED:
    case MADV_DONTNEED_LOCKED:
      // Private anonymous pages read as zero afterwards; shared anonymous
      // memory keeps its data (it lives in shmem). Private file copies
      // would re-read the file on Linux: not done yet, contents stay.
      if (piece.backing == Vma::kAnon) host_discard(host_phys(piece.phys), piece.len());
      return Ok();
    case MADV_FREE:
      if (piece.backing != Vma::kAnon) return Errno{EINVAL};  // vma_is_anonymous
      // Freeing at once is one of the behaviours MADV_FREE allows.
      host_discard(host_phys(piece.phys), piece.len());
      return Ok();
    case MADV_REMOVE:
      if (piece.backing == Vma::kAnon) return Errno{EINVAL};  // no vm_file
      if (piece.backing == Vma::kFile) return Errno{EACCES};  // not shared+writable
      host_discard(host_phys(piece.phys), piece.len());       // punch the shmem hole
      return Ok();
    case MADV_WIPEONFORK:
      if (piece.backing != Vma::kAnon) return Errno{EINVAL};
      return Ok();
    default:
      return Ok();
  }
}

// mm/madvise.c do_madvise / madvise_walk_vmas.
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

// ---------------------------------------------------------------- brk

// mm/mmap.c SYSCALL_DEFINE1(brk).
uint64_t MemoryManager::brk(uint64_t want) {
  std::lock_guard lock(mu_);
  Layout& L = layout_;
  if (L.brk_start == 0 || want < L.brk_start) return L.brk;
  auto newbrk_r = page_round_up(want);
  if (!newbrk_r) return L.brk;
  const uint64_t newbrk = *newbrk_r;
  const uint64_t oldbrk = page_round_up(L.brk).value();
  if (newbrk == oldbrk) {
    L.brk = want;
    return want;
  }
  // Always allow shrinking brk.
  if (want <= L.brk) {
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
  const Vma* prev = oldbrk > 0 ? as_.find(oldbrk - 1) : nullptr;
  if (prev && prev->end == oldbrk && prev->name == "[heap]" && prev->backing == Vma::kAnon &&
      prev->prot == (PROT_READ | PROT_WRITE) && prev->max_prot == kProtRWX &&
      prev->flags == MAP_PRIVATE) {
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
  auto ranges = TRY(host_ranges(guest_src, len, PROT_READ));
  auto* d = static_cast<uint8_t*>(dst);
  for (const iovec& r : ranges) {
    std::memcpy(d, r.iov_base, r.iov_len);
    d += r.iov_len;
  }
  return Ok();
}

Result<void> MemoryManager::copy_out(uint64_t guest_dst, const void* src, uint64_t len) {
  std::lock_guard lock(mu_);
  auto ranges = TRY(host_ranges(guest_dst, len, PROT_WRITE));
  auto* s = static_cast<const uint8_t*>(src);
  for (const iovec& r : ranges) {
    std::memcpy(r.iov_base, s, r.iov_len);
    s += r.iov_len;
  }
  return Ok();
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

}  // namespace elfuse
