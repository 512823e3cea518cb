// Guest buffers and iovec arrays handed to the host kernel for the socket and
// splice families (sys_socket.cc, sys_splice.cc).
//
// The idea: bytes the guest may access become host iovecs into guest memory;
// bytes it may not access become a segment at a host address that always
// faults. The host kernel then copies up to exactly the byte where Linux
// would have faulted for the guest, and gives the answer Linux gives at that
// point (a short count for a stream, EFAULT for a datagram, EFAULT after the
// checks that come first...), without elfuse re-deriving each protocol's
// rules.
#pragma once

#include <sys/mman.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "mm/memory_manager.h"
#include "syscalls/fs_common.h"
#include "syscalls/syscall.h"

namespace elfuse::uio {

// A host page that is never accessible: a pointer the host kernel faults on
// at its first byte (copy_from_user / copy_to_user give EFAULT).
inline void* fault_ptr() {
  static void* page = [] {
    void* p = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? reinterpret_cast<void*>(uintptr_t{1}) : p;
  }();
  return page;
}

// A host path argument that fails to copy as a guest path failed
// (copy_path: EFAULT, or ENAMETOOLONG for no NUL within PATH_MAX): handed to
// the host call, it gives the errors that come before the path's in their
// order, and then this one.
inline const char* failing_path(int err) {
  if (err != ENAMETOOLONG) return static_cast<const char*>(fault_ptr());
  static const std::string too_long(fs::kPathMax, 'x');
  return too_long.c_str();
}

// Appends the host ranges of guest [addr, addr+len) to out: the accessible
// prefix (found by bisection: accessibility of prefixes is monotonic) and,
// when the whole range is not accessible, one faulting segment for the rest.
// Returns false when a faulting segment was added.
inline bool append_ranges(const MemoryManager& mm, uint64_t addr, uint64_t len, int prot,
                          std::vector<iovec>& out) {
  if (len == 0) return true;
  if (auto r = mm.host_ranges(addr, len, prot); r.ok()) {
    out.insert(out.end(), r->begin(), r->end());
    return true;
  }
  uint64_t ok = 0, bad = len;
  while (bad - ok > 1) {
    uint64_t mid = ok + (bad - ok) / 2;
    if (mm.host_ranges(addr, mid, prot).ok())
      ok = mid;
    else
      bad = mid;
  }
  if (ok > 0) {
    auto r = mm.host_ranges(addr, ok, prot);
    if (r.ok()) out.insert(out.end(), r->begin(), r->end());
  }
  out.push_back(iovec{fault_ptr(), static_cast<size_t>(len - ok)});
  return false;
}

// lib/iov_iter.c import_iovec for a guest array of nr iovecs (the caller has
// checked nr against UIO_MAXIOV, whose errno differs by caller): EFAULT when
// the array cannot be read, EINVAL for a length negative as ssize_t, EFAULT
// for a segment beyond TASK_SIZE (access_ok); the total is clamped to
// MAX_RW_COUNT. prot: PROT_READ when the host reads the buffers (send),
// PROT_WRITE when it fills them (receive). *total: the bytes asked for.
// More than UIO_MAXIOV host segments (a buffer crossing many VMAs) are cut
// there: a short transfer.
inline Result<std::vector<iovec>> import_iovec(const MemoryManager& mm, uint64_t addr, uint64_t nr,
                                               int prot, uint64_t* total) {
  std::vector<iovec> guest(nr);
  if (nr > 0) TRY(mm.copy_in(guest.data(), addr, nr * sizeof(iovec)));
  for (const auto& g : guest)
    if (static_cast<int64_t>(g.iov_len) < 0) return Errno{EINVAL};
  std::vector<iovec> host;
  uint64_t sum = 0;
  for (const auto& g : guest) {
    uint64_t base = reinterpret_cast<uint64_t>(g.iov_base);
    if (!linux_access_ok(base, g.iov_len)) return Errno{EFAULT};
    uint64_t len = std::min<uint64_t>(g.iov_len, fs::kMaxRwCount - sum);
    sum += len;
    append_ranges(mm, base, len, prot, host);
  }
  if (host.size() > fs::kIovMax) host.resize(fs::kIovMax);
  if (total) *total = sum;
  return host;
}

// The host address of guest [addr, addr+len) for a host call that reads or
// writes it in place (prot), when the whole range is accessible that way
// and one run of host memory; NULL stays NULL (the host's own answer for
// it), an empty range is a harmless non-NULL pointer, anything else the
// faulting page (EFAULT where Linux's copy fails, after the checks that
// come first). len must come from a register or an elfuse copy, never from
// guest memory the host reads again.
inline void* host_span(const MemoryManager& mm, uint64_t addr, uint64_t len, int prot) {
  static char empty;
  if (addr == 0) return nullptr;
  if (len == 0) return &empty;
  auto r = mm.host_ranges(addr, len, prot);
  if (!r.ok() || r->empty()) return fault_ptr();
  for (size_t i = 1; i < r->size(); i++)
    if (static_cast<char*>((*r)[i - 1].iov_base) + (*r)[i - 1].iov_len != (*r)[i].iov_base)
      return fault_ptr();
  return (*r)[0].iov_base;
}

}  // namespace elfuse::uio
