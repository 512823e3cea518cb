// The memory manager's System V shared memory attach and detach
// (ipc/shm.c do_shmat, ksys_shmdt).
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

}  // namespace elfuse
