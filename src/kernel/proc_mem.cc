#include "kernel/proc_mem.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "abi/linux.h"
#include "base/private_fd.h"
#include "base/unique_fd.h"
#include "fs/sysroot.h"
#include "kernel/process.h"

namespace elfuse {
namespace {

// The host object behind a guest's mem descriptor: named so that a process
// receiving one from another can recognise it (proc_mem_adopt).
constexpr char kMemfdName[] = "elfuse:proc-mem";
constexpr char kMemfdLink[] = "/memfd:elfuse:proc-mem (deleted)";
constexpr int kSeals = F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;
// fs/proc/base.c: mem is S_IRUSR|S_IWUSR.
constexpr mode_t kMode = 0600;
// Past this many entries an open drops the ones no descriptor holds.
constexpr size_t kPruneAbove = 64;
// fs/proc/base.c mem_rw moves at most a page per access_remote_vm.
constexpr uint64_t kChunk = kPageSize;

// The owner token of this process (Process::proc_mem_token), made on first
// use: a forked child starts with none, so every entry it inherited is
// foreign to it, whatever pids are reused later.
uint64_t own_token(Process& proc) {
  if (proc.proc_mem_token == 0) {
    uint64_t t = 0;
    while (t == 0) {
      if (::getrandom(&t, sizeof t, 0) != static_cast<ssize_t>(sizeof t)) t = 0;
    }
    proc.proc_mem_token = t;
  }
  return proc.proc_mem_token;
}

bool looks_like_ours(const struct stat& st) {
  return S_ISREG(st.st_mode) && st.st_nlink == 0 && st.st_size == 0 &&
         (st.st_mode & 07777) == kMode;
}

ProcMemFile* find_locked(ProcMemRegistry& r, uint64_t dev, uint64_t ino) {
  for (ProcMemFile& f : r.entries)
    if (f.dev == dev && f.ino == ino) return &f;
  return nullptr;
}

// Keeps the entries some descriptor of the process (below the floor)
// still holds. Called with the registry lock held.
void prune_locked(Process& proc) {
  ProcMemRegistry& r = proc.proc_mem;
  std::vector<std::pair<uint64_t, uint64_t>> held;
  DIR* d = ::opendir("/proc/thread-self/fd");
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long n = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end || n < 0 || n >= proc.fds.floor) continue;
    struct stat st;
    if (::fstat(static_cast<int>(n), &st) == 0 && looks_like_ours(st))
      held.emplace_back(st.st_dev, st.st_ino);
  }
  ::closedir(d);
  std::erase_if(r.entries, [&](const ProcMemFile& f) {
    return std::find(held.begin(), held.end(), std::make_pair(f.dev, f.ino)) == held.end();
  });
  r.count.store(r.entries.size(), std::memory_order_release);
}

void add_entry(Process& proc, const ProcMemFile& f) {
  ProcMemRegistry& r = proc.proc_mem;
  std::lock_guard lock(r.mu);
  if (find_locked(r, f.dev, f.ino)) return;
  r.entries.push_back(f);
  r.count.store(r.entries.size(), std::memory_order_release);
  if (r.entries.size() > kPruneAbove) prune_locked(proc);
}

// The file position: the memfd's host offset holds bits 0-62, the entry
// bit 63.
uint64_t get_pos(Process& proc, int fd, const ProcMemRef& ref) {
  off_t low = ::lseek(fd, 0, SEEK_CUR);
  if (low < 0) low = 0;
  bool high = ref.file.pos_high;
  {
    std::lock_guard lock(proc.proc_mem.mu);
    if (ProcMemFile* f = find_locked(proc.proc_mem, ref.file.dev, ref.file.ino)) high = f->pos_high;
  }
  return static_cast<uint64_t>(low) | (high ? 1ull << 63 : 0);
}

void set_pos(Process& proc, int fd, const ProcMemRef& ref, uint64_t pos) {
  ::lseek(fd, static_cast<off_t>(pos & ~(1ull << 63)), SEEK_SET);
  std::lock_guard lock(proc.proc_mem.mu);
  if (ProcMemFile* f = find_locked(proc.proc_mem, ref.file.dev, ref.file.ino))
    f->pos_high = pos >> 63;
}

// fs/proc/base.c mem_rw on one buffer: a page at a time through the
// process's memory (access_remote_vm with FOLL_FORCE); the first access
// that moves nothing ends it (EIO when nothing moved); a guest buffer that
// faults is EFAULT even after some bytes moved. *ppos ends at the address
// reached.
int64_t mem_rw(MemoryManager& mm, uint64_t buf, uint64_t count, uint64_t* ppos, bool write) {
  uint64_t addr = *ppos;
  int64_t copied = 0;
  uint8_t page[kChunk];
  while (count > 0) {
    uint64_t this_len = std::min(count, kChunk);
    if (write && !mm.copy_in(page, buf, this_len).ok()) {
      copied = -EFAULT;
      break;
    }
    this_len = mm.access_forced(addr, page, this_len, write);
    if (this_len == 0) {
      if (copied == 0) copied = -EIO;
      break;
    }
    if (!write && !mm.copy_out(buf, page, this_len).ok()) {
      copied = -EFAULT;
      break;
    }
    buf += this_len;
    addr += this_len;
    copied += static_cast<int64_t>(this_len);
    count -= this_len;
  }
  *ppos = addr;
  return copied;
}

}  // namespace

Result<int> proc_mem_open(Process& proc, int flags) {
  int m =
      static_cast<int>(::syscall(SYS_memfd_create, kMemfdName, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (m < 0) return Errno{errno == EMFILE ? ENFILE : errno};
  m = move_to_private_fd(m);
  if (m < 0) return Errno{ENFILE};
  UniqueFd memfd(m);
  if (::fchmod(m, kMode) != 0) return Errno{errno};
  if (::fcntl(m, F_ADD_SEALS, kSeals) != 0) return Errno{errno};
  // The guest's access mode and the status flags F_GETFL reports; the
  // lowest free number, as the host's open gave.
  int keep = flags & (O_ACCMODE | O_APPEND | O_NONBLOCK | O_SYNC | O_DSYNC | O_CLOEXEC | O_NOATIME);
  int fd = ::open(proc_fd_path(m).c_str(), keep | O_LARGEFILE);
  if (fd < 0) return Errno{errno};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Errno{err};
  }
  ProcMemFile f;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  f.owner_token = own_token(proc);
  f.exec_gen = proc.exec_count;
  add_entry(proc, f);
  return fd;
}

std::optional<ProcMemRef> proc_mem_find(Process& proc, int fd) {
  ProcMemRegistry& r = proc.proc_mem;
  if (r.count.load(std::memory_order_acquire) == 0) return std::nullopt;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !looks_like_ours(st)) return std::nullopt;
  std::lock_guard lock(r.mu);
  const ProcMemFile* f = find_locked(r, st.st_dev, st.st_ino);
  if (!f) return std::nullopt;
  ProcMemRef ref{*f, ProcMemOwner::kForeign};
  if (f->owner_token != 0 && f->owner_token == proc.proc_mem_token)
    ref.owner = f->exec_gen == proc.exec_count ? ProcMemOwner::kOwn : ProcMemOwner::kOldMm;
  return ref;
}

void proc_mem_adopt(Process& proc, int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || !looks_like_ours(st)) return;
  if (::fcntl(fd, F_GET_SEALS) != kSeals) return;
  char link[sizeof kMemfdLink + 1];
  ssize_t n = ::readlink(proc_fd_path(fd).c_str(), link, sizeof link);
  if (n != static_cast<ssize_t>(sizeof kMemfdLink - 1) || std::memcmp(link, kMemfdLink, n) != 0)
    return;
  ProcMemFile f;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  f.owner_token = 0;  // nobody here: another process's memory
  add_entry(proc, f);
}

ProcMemClose proc_mem_before_close(Process& proc, int fd) {
  ProcMemClose c;
  c.was_mem = proc_mem_find(proc, fd).has_value();
  return c;
}

void proc_mem_after_close(Process& proc, const ProcMemClose& c) {
  if (!c.was_mem) return;
  std::lock_guard lock(proc.proc_mem.mu);
  prune_locked(proc);
}

int64_t proc_mem_rw(Process& proc, MemoryManager& mm, int fd, const ProcMemRef& ref,
                    const std::vector<iovec>& segs, bool write, const uint64_t* pos) {
  uint64_t total = 0;
  for (const iovec& s : segs) total += s.iov_len;
  if (total == 0) return 0;
  uint64_t p = pos ? *pos : get_pos(proc, fd, ref);
  // fs/read_write.c rw_verify_area on a file with unsigned offsets
  // (FOP_UNSIGNED_OFFSET): an offset above LLONG_MAX is allowed as long
  // as the end does not wrap past 2^64.
  if (static_cast<int64_t>(p) < 0 && total >= -p) return -EOVERFLOW;
  // mem_rw: an mm that is gone reads and writes nothing. Another process's
  // memory cannot be reached from here (docs/security.md): EIO, as for
  // memory that cannot be accessed.
  if (ref.owner == ProcMemOwner::kOldMm) return 0;
  if (ref.owner == ProcMemOwner::kForeign) return -EIO;
  // fs/read_write.c do_loop_readv_writev: one ->read/->write per segment,
  // stopping at an error or a short one.
  int64_t ret = 0;
  for (const iovec& s : segs) {
    int64_t nr = mem_rw(mm, reinterpret_cast<uint64_t>(s.iov_base), s.iov_len, &p, write);
    if (nr < 0) {
      if (ret == 0) ret = nr;
      break;
    }
    ret += nr;
    if (static_cast<uint64_t>(nr) != s.iov_len) break;
  }
  // ksys_read & co. store the position back only for a result >= 0.
  if (!pos && ret >= 0) set_pos(proc, fd, ref, p);
  return ret;
}

int64_t proc_mem_lseek(Process& proc, int fd, const ProcMemRef& ref, int64_t offset, int whence) {
  uint64_t p;
  switch (whence) {
    case SEEK_SET:
      p = static_cast<uint64_t>(offset);
      break;
    case SEEK_CUR:
      p = get_pos(proc, fd, ref) + static_cast<uint64_t>(offset);
      break;
    default:
      return -EINVAL;
  }
  set_pos(proc, fd, ref, p);
  // force_successful_syscall_return: any value, also one that reads as
  // negative.
  return static_cast<int64_t>(p);
}

}  // namespace elfuse
