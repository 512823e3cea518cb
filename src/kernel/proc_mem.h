// The process's own /proc/<pid>/mem (also /proc/self/mem, thread-self, a
// guest thread's /proc/<tid>/mem and /proc/<pid>/task/<tid>/mem), served
// from GUEST memory. The host's file of that name is elfuse's memory, so the
// guest never gets it: the /proc gate (fs/proc/procfs.h gate_opened) hands
// the guest instead a harmless host object, an empty memfd sealed against
// writing, growing and shrinking (mode 0600, as the kernel's file), and
// records its identity (st_dev, st_ino) here with its owner: the process
// and its exec generation. The read and write family, lseek, mmap,
// sendfile, splice and copy_file_range look a descriptor up here (only
// while the registry is not empty: no host call on the syscall path
// otherwise) and give fs/proc/base.c's mem_rw, mem_lseek and the missing
// ->mmap / ->splice_read semantics; everything else reaches the empty
// memfd, which yields no byte of anything. docs/internals.md "/proc",
// docs/security.md "/proc".
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "base/result.h"

namespace elfuse {

class Process;
class MemoryManager;

// One registered mem file (one open of it: the memfd is new per open, as
// the kernel's struct file is, so dup, fork and SCM_RIGHTS share it).
struct ProcMemFile {
  uint64_t dev = 0, ino = 0;
  // The process that opened it (Process::proc_mem_token, a random number
  // a forked child does not inherit) and which of its images
  // (Process::exec_count); owner_token 0: a file received from another
  // process (SCM_RIGHTS, pidfd_getfd).
  uint64_t owner_token = 0;
  uint64_t exec_gen = 0;
  // Bit 63 of the file position; the low 63 bits are the memfd's own host
  // offset (the host refuses negative offsets), which the open file
  // description shares as the kernel's f_pos is shared.
  bool pos_high = false;
};

// Part of Process; a forked child copies it (then owns none of it).
struct ProcMemRegistry {
  std::mutex mu;
  std::atomic<size_t> count{0};  // entries.size(), read without the lock
  std::vector<ProcMemFile> entries;
};

// Whose memory a registered descriptor reaches, seen from the caller.
enum class ProcMemOwner {
  kOwn,      // this process's current image
  kOldMm,    // this process before an execve: the kernel's mm is gone
  kForeign,  // another process's (a forked parent's, a sender's)
};

struct ProcMemRef {
  ProcMemFile file;
  ProcMemOwner owner;
};

// The gate: the guest opened its own mem with `flags` (the host opened
// elfuse's, now closed by the caller). The new guest descriptor (the lowest
// free number), or an errno.
Result<int> proc_mem_open(Process& proc, int flags);

// nullopt unless host fd `fd` (a guest fd) is a registered mem file. One
// fstat when the registry is not empty, nothing otherwise.
std::optional<ProcMemRef> proc_mem_find(Process& proc, int fd);

// A descriptor this process got from another (SCM_RIGHTS, pidfd_getfd):
// when it is some elfuse process's mem file, it is registered as foreign.
// One fstat per descriptor.
void proc_mem_adopt(Process& proc, int fd);

// The guest closed `fd`: when it was a registered mem file, entries no
// descriptor of the process holds any more are dropped, so that the
// registry empties again. One fstat when the registry is not empty.
struct ProcMemClose {
  bool was_mem = false;
};
ProcMemClose proc_mem_before_close(Process& proc, int fd);
void proc_mem_after_close(Process& proc, const ProcMemClose& c);

// fs/read_write.c + fs/proc/base.c mem_rw on a registered descriptor.
// segs: the guest's (base, len) pairs (one for read/write/pread/pwrite);
// vectored: readv & co. (import_iovec's rules were applied by the caller,
// which passes the clamped lengths). pos: the offset of pread & co.; null
// for the file position. Returns bytes or -errno.
int64_t proc_mem_rw(Process& proc, MemoryManager& mm, int fd, const ProcMemRef& ref,
                    const std::vector<iovec>& segs, bool write, const uint64_t* pos);

// fs/proc/base.c mem_lseek: SEEK_SET and SEEK_CUR on an unsigned offset,
// anything else EINVAL. Returns the new offset (any 64-bit value).
int64_t proc_mem_lseek(Process& proc, int fd, const ProcMemRef& ref, int64_t offset, int whence);

}  // namespace elfuse
