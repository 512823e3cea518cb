// System V IPC: shared memory (shmget, shmat, shmdt, shmctl), semaphores
// (semget, semop, semtimedop, semctl) and message queues (msgget, msgsnd,
// msgrcv, msgctl). The objects are the host kernel's, in elfuse's IPC
// namespace, so ids, keys, permissions, limits, SEM_UNDO (undone when the
// host process exits), blocking and wake-ups are Linux's own, shared with
// native processes and other elfuse processes. elfuse translates the
// buffers; shmat and shmdt map the segment into guest memory
// (MemoryManager::shmat, docs/internals.md "System V shared memory").
//
// A guest buffer that cannot be read is handed to the host as an address
// that faults, so the host reports EFAULT at the point in its own order of
// checks where Linux would (ipc/shm.c, ipc/sem.c, ipc/msg.c).
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using fs::arg_int;

// The x86_64 kernel structs (ipc64_perm based, arch/x86/include/uapi/asm/
// shmbuf.h, sembuf.h, msgbuf.h) are glibc's and musl's on x86_64.
static_assert(sizeof(struct shmid_ds) == 112);
static_assert(sizeof(struct shminfo) == 72);
static_assert(sizeof(struct shm_info) == 48);
static_assert(sizeof(struct semid_ds) == 104);
static_assert(sizeof(struct seminfo) == 40);
static_assert(sizeof(struct msqid_ds) == 120);
static_assert(sizeof(struct msginfo) == 32);
static_assert(sizeof(struct sembuf) == 6);

namespace {

// An address every host access faults on (above TASK_SIZE: access_ok
// fails), for an argument the guest gave as unreadable memory.
void* const kFaultPtr = reinterpret_cast<void*>(~0ull - 4095);

// Guest bytes for a host call to read: the host address when they are one
// host range (no copy), a copy when they cross VMAs, kFaultPtr when some
// byte is not readable (len 0: any pointer; the host reads nothing).
struct HostIn {
  std::vector<uint8_t> copy;
  const void* ptr = kFaultPtr;
};

HostIn host_in(SyscallContext& ctx, uint64_t addr, uint64_t len) {
  HostIn h;
  auto ranges = ctx.mm.host_ranges(addr, len, PROT_READ);
  if (!ranges) return h;
  if (ranges->size() == 1) {
    h.ptr = (*ranges)[0].iov_base;
  } else if (ranges->empty()) {
    h.ptr = h.copy.data();
  } else {
    h.copy.resize(len);
    if (!ctx.mm.copy_in(h.copy.data(), addr, len).ok()) return h;
    h.ptr = h.copy.data();
  }
  return h;
}

// A host buffer for a host call to fill, copied to the guest afterwards:
// the guest's own memory when it is one writable host range.
struct HostOut {
  std::vector<uint8_t> copy;
  void* ptr = nullptr;
  bool direct = false;
};

HostOut host_out(SyscallContext& ctx, uint64_t addr, uint64_t len) {
  HostOut h;
  auto ranges = ctx.mm.host_ranges(addr, len, PROT_WRITE);
  if (ranges && ranges->size() == 1) {
    h.ptr = (*ranges)[0].iov_base;
    h.direct = true;
    return h;
  }
  h.copy.resize(len);
  h.ptr = h.copy.data();
  return h;
}

// After a successful host call that filled `n` bytes of h.
int64_t finish_out(SyscallContext& ctx, const HostOut& h, uint64_t addr, uint64_t n, long ret) {
  if (ret < 0) return -static_cast<int64_t>(errno);
  if (!h.direct && n > 0 && !ctx.mm.copy_out(addr, h.copy.data(), n).ok()) return -EFAULT;
  return ret;
}

// A ctl call whose buffer is one struct, written (out) or read (in).
int64_t ctl_out(SyscallContext& ctx, long nr, int id, long cmd_arg2, int cmd, uint64_t buf,
                size_t size, bool three_args) {
  std::vector<uint8_t> tmp(size);
  long r = three_args ? ::syscall(nr, id, cmd, tmp.data())
                      : ::syscall(nr, id, cmd_arg2, cmd, tmp.data());
  if (r < 0) return -static_cast<int64_t>(errno);
  if (!ctx.mm.copy_out(buf, tmp.data(), size).ok()) return -EFAULT;
  return r;
}

int64_t ctl_in(SyscallContext& ctx, long nr, int id, long cmd_arg2, int cmd, uint64_t buf,
               size_t size, bool three_args) {
  std::vector<uint8_t> tmp(size);
  const void* p = ctx.mm.copy_in(tmp.data(), buf, size).ok() ? tmp.data() : kFaultPtr;
  long r = three_args ? ::syscall(nr, id, cmd, p) : ::syscall(nr, id, cmd_arg2, cmd, p);
  return host_rax(r);
}

// /proc/sysvipc/sem: the number of semaphores in set `semid`, whatever the
// caller's permissions (GETALL/SETALL need it to size their arrays before
// the kernel checks them). 0 when there is no such set.
unsigned long sem_nsems(int semid) {
  FILE* f = ::fopen("/proc/sysvipc/sem", "re");
  if (!f) return 0;
  char line[512];
  unsigned long nsems = 0;
  (void)::fgets(line, sizeof line, f);  // header
  while (::fgets(line, sizeof line, f)) {
    long long key = 0;
    int id = -1;
    unsigned perms = 0;
    unsigned long n = 0;
    if (std::sscanf(line, "%lld %d %o %lu", &key, &id, &perms, &n) == 4 && id == semid) {
      nsems = n;
      break;
    }
  }
  ::fclose(f);
  return nsems;
}

// /proc/sys/kernel/msgmax: the largest message (msg_ctlmax).
uint64_t msg_max() {
  FILE* f = ::fopen("/proc/sys/kernel/msgmax", "re");
  unsigned long long v = 8192;
  if (f) {
    if (std::fscanf(f, "%llu", &v) != 1) v = 8192;
    ::fclose(f);
  }
  return v;
}

// A message whose mtype is readable but whose text is not: mtype at the end
// of a readable page followed by an inaccessible one, so the host reads the
// type and faults on the text, as Linux does in that order (ksys_msgsnd,
// then do_msgsnd's checks, then load_msg). Made per call: this is only the
// path of a faulting guest buffer.
class MtypeThenFault {
 public:
  explicit MtypeThenFault(long mtype) {
    void* p = ::mmap(nullptr, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    pages_ = static_cast<uint8_t*>(p);
    ::mprotect(pages_ + 4096, 4096, PROT_NONE);
    std::memcpy(pages_ + 4096 - sizeof mtype, &mtype, sizeof mtype);
  }
  ~MtypeThenFault() {
    if (pages_) ::munmap(pages_, 2 * 4096);
  }
  MtypeThenFault(const MtypeThenFault&) = delete;
  MtypeThenFault& operator=(const MtypeThenFault&) = delete;
  const void* ptr() const { return pages_ ? pages_ + 4096 - sizeof(long) : kFaultPtr; }

 private:
  uint8_t* pages_ = nullptr;
};

}  // namespace

// ---------------------------------------------------------------- shm

int64_t sys_shmget(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_shmget, static_cast<key_t>(a.a[0]), a.a[1], arg_int(a.a[2])));
}

int64_t sys_shmat(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.shmat(arg_int(a.a[0]), a.a[1], arg_int(a.a[2])));
}

int64_t sys_shmdt(SyscallContext& ctx, const SyscallArgs& a) {
  return to_rax(ctx.mm.shmdt(a.a[0]));
}

// shmctl(shmid, cmd, buf), ipc/shm.c ksys_shmctl. shm_nattch in IPC_STAT
// is the host's count, which counts each guest attach (and each piece of
// one) once: the guest's VMAs of a segment are the host's (MemoryManager).
int64_t sys_shmctl(SyscallContext& ctx, const SyscallArgs& a) {
  const int id = arg_int(a.a[0]), cmd = arg_int(a.a[1]);
  const uint64_t buf = a.a[2];
  switch (cmd) {
    case IPC_STAT:
    case SHM_STAT:
    case SHM_STAT_ANY:
      return ctl_out(ctx, SYS_shmctl, id, 0, cmd, buf, sizeof(struct shmid_ds), true);
    case IPC_INFO:
      return ctl_out(ctx, SYS_shmctl, id, 0, cmd, buf, sizeof(struct shminfo), true);
    case SHM_INFO:
      return ctl_out(ctx, SYS_shmctl, id, 0, cmd, buf, sizeof(struct shm_info), true);
    case IPC_SET:
      return ctl_in(ctx, SYS_shmctl, id, 0, cmd, buf, sizeof(struct shmid_ds), true);
    default:  // IPC_RMID, SHM_LOCK, SHM_UNLOCK take no buffer; others are EINVAL
      return host_rax(::syscall(SYS_shmctl, id, cmd, nullptr));
  }
}

// ---------------------------------------------------------------- sem

int64_t sys_semget(SyscallContext&, const SyscallArgs& a) {
  return host_rax(
      ::syscall(SYS_semget, static_cast<key_t>(a.a[0]), arg_int(a.a[1]), arg_int(a.a[2])));
}

// semtimedop(semid, sops, nsops, timeout), ipc/sem.c ksys_semtimedop: the
// timeout is read first, then do_semtimedop checks nsops (EINVAL, E2BIG)
// before it reads sops. The operations block in the host; a signal ends
// the wait with EINTR, never restarted (signal(7)).
int64_t sys_semtimedop(SyscallContext& ctx, const SyscallArgs& a) {
  const int id = arg_int(a.a[0]);
  const unsigned nsops = fs::arg_uint(a.a[2]);
  struct timespec ts {};
  const void* tsp = nullptr;
  if (a.a[3]) tsp = ctx.mm.copy_in(&ts, a.a[3], sizeof ts).ok() ? &ts : kFaultPtr;
  HostIn sops = host_in(ctx, a.a[1], uint64_t(nsops) * sizeof(struct sembuf));
  return host_rax(::syscall(SYS_semtimedop, id, sops.ptr, nsops, tsp));
}

int64_t sys_semop(SyscallContext& ctx, const SyscallArgs& a) {
  SyscallArgs b = a;
  b.a[3] = 0;
  return sys_semtimedop(ctx, b);
}

// semctl(semid, semnum, cmd, arg), ipc/sem.c ksys_semctl: arg is union
// semun passed by value; for the commands that take a buffer it is the
// guest's pointer.
int64_t sys_semctl(SyscallContext& ctx, const SyscallArgs& a) {
  const int id = arg_int(a.a[0]), semnum = arg_int(a.a[1]), cmd = arg_int(a.a[2]);
  const uint64_t arg = a.a[3];
  switch (cmd) {
    case IPC_STAT:
    case SEM_STAT:
    case SEM_STAT_ANY:
      return ctl_out(ctx, SYS_semctl, id, semnum, cmd, arg, sizeof(struct semid_ds), false);
    case IPC_INFO:
    case SEM_INFO:
      return ctl_out(ctx, SYS_semctl, id, semnum, cmd, arg, sizeof(struct seminfo), false);
    case IPC_SET:
      return ctl_in(ctx, SYS_semctl, id, semnum, cmd, arg, sizeof(struct semid_ds), false);
    case GETALL: {
      // semctl_main: the set and the permission first, then the copy.
      const uint64_t n = uint64_t(sem_nsems(id)) * sizeof(unsigned short);
      HostOut out = host_out(ctx, arg, n);
      long r = ::syscall(SYS_semctl, id, semnum, cmd, n ? out.ptr : nullptr);
      return finish_out(ctx, out, arg, n, r);
    }
    case SETALL: {
      const uint64_t n = uint64_t(sem_nsems(id)) * sizeof(unsigned short);
      HostIn in = host_in(ctx, arg, n);
      return host_rax(::syscall(SYS_semctl, id, semnum, cmd, n ? in.ptr : nullptr));
    }
    default:  // GETVAL, SETVAL (arg.val), GETPID, GETNCNT, GETZCNT, IPC_RMID
      return host_rax(::syscall(SYS_semctl, id, semnum, cmd, arg));
  }
}

// ---------------------------------------------------------------- msg

int64_t sys_msgget(SyscallContext&, const SyscallArgs& a) {
  return host_rax(::syscall(SYS_msgget, static_cast<key_t>(a.a[0]), arg_int(a.a[1])));
}

// msgsnd(msqid, msgp, msgsz, msgflg), ipc/msg.c ksys_msgsnd/do_msgsnd.
int64_t sys_msgsnd(SyscallContext& ctx, const SyscallArgs& a) {
  const int id = arg_int(a.a[0]), flg = arg_int(a.a[3]);
  const uint64_t msgp = a.a[1], msgsz = a.a[2];
  const void* p = kFaultPtr;
  HostIn in;
  auto end = checked_add(msgsz, sizeof(long));
  if (end && static_cast<int64_t>(msgsz) >= 0) {
    in = host_in(ctx, msgp, *end);
    p = in.ptr;
  }
  if (p != kFaultPtr) return host_rax(::syscall(SYS_msgsnd, id, p, msgsz, flg));
  long mtype;
  if (!ctx.mm.copy_in(&mtype, msgp, sizeof mtype).ok())
    return host_rax(::syscall(SYS_msgsnd, id, kFaultPtr, msgsz, flg));
  MtypeThenFault half(mtype);
  return host_rax(::syscall(SYS_msgsnd, id, half.ptr(), msgsz, flg));
}

// msgrcv(msqid, msgp, msgsz, msgtyp, msgflg), ipc/msg.c do_msgrcv. A
// message is taken off the queue before it is copied out; when the copy
// fails it is lost with EFAULT, as on Linux.
int64_t sys_msgrcv(SyscallContext& ctx, const SyscallArgs& a) {
  const int id = arg_int(a.a[0]), flg = arg_int(a.a[4]);
  const uint64_t msgp = a.a[1], bufsz = a.a[2];
  const long msgtyp = static_cast<long>(a.a[3]);
  if (static_cast<int64_t>(bufsz) < 0)
    return host_rax(::syscall(SYS_msgrcv, id, kFaultPtr, bufsz, msgtyp, flg));
  const uint64_t total = bufsz + sizeof(long);
  auto ranges = ctx.mm.host_ranges(msgp, total, PROT_WRITE);
  if (ranges && ranges->size() == 1)
    return host_rax(::syscall(SYS_msgrcv, id, (*ranges)[0].iov_base, bufsz, msgtyp, flg));
  // Not one host range (or not writable: the message is still taken, then
  // EFAULT): receive into a host buffer. No message is larger than msgmax,
  // so a larger buffer need not be allocated.
  const uint64_t want = std::min<uint64_t>(bufsz, msg_max());
  std::vector<uint8_t> tmp(want + sizeof(long));
  long r = ::syscall(SYS_msgrcv, id, tmp.data(), want, msgtyp, flg);
  if (r < 0) return -static_cast<int64_t>(errno);
  if (!ctx.mm.copy_out(msgp, tmp.data(), sizeof(long) + static_cast<uint64_t>(r)).ok())
    return -EFAULT;
  return r;
}

int64_t sys_msgctl(SyscallContext& ctx, const SyscallArgs& a) {
  const int id = arg_int(a.a[0]), cmd = arg_int(a.a[1]);
  const uint64_t buf = a.a[2];
  switch (cmd) {
    case IPC_STAT:
    case MSG_STAT:
    case MSG_STAT_ANY:
      return ctl_out(ctx, SYS_msgctl, id, 0, cmd, buf, sizeof(struct msqid_ds), true);
    case IPC_INFO:
    case MSG_INFO:
      return ctl_out(ctx, SYS_msgctl, id, 0, cmd, buf, sizeof(struct msginfo), true);
    case IPC_SET:
      return ctl_in(ctx, SYS_msgctl, id, 0, cmd, buf, sizeof(struct msqid_ds), true);
    default:  // IPC_RMID; others are EINVAL
      return host_rax(::syscall(SYS_msgctl, id, cmd, nullptr));
  }
}

}  // namespace elfuse
