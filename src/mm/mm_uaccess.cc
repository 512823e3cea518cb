// The memory manager's checked access to guest memory (Linux's uaccess
// and mm/memory.c access_remote_vm): copy_in, copy_out, strings, host
// iovecs, /proc/PID/mem's forced access, and the pages that are SIGBUS.
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

// ---------------------------------------------------------------- access

Result<void> MemoryManager::check_access(uint64_t guest, uint64_t len, int prot) const {
  assert_locked();
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

}  // namespace elfuse
