// unshare and setns (kernel/fork.c ksys_unshare, kernel/nsproxy.c setns).
// Namespaces are never entered or created for a guest: as clone(2)'s note
// says, that needs privileges elfuse does not pass on, so the answer is
// EPERM where Linux would act, after Linux's argument checks. The parts of
// unshare that are not namespaces are the host's own: a guest thread is a
// host thread, so unsharing its fd table, its fs context (cwd, root, umask)
// or its SysV semaphore undo list is the host's unshare on that thread; for
// a process with one thread Linux makes the first two no-ops, and so does
// elfuse.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "fs/sysroot.h"
#include "syscalls/fs_common.h"
#include "syscalls/table.h"

namespace elfuse {

using namespace fs;

namespace {

constexpr uint64_t kNamespaces = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                 CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME;

// The CLONE_NEW* type of a namespace file (/proc/PID/ns/NAME, or a bind
// mount of one), from its link text "NAME:[inode]"; 0 for anything else.
// (NS_GET_NSTYPE would ask the same of the fd, but an ioctl on an
// arbitrary guest fd could mean something else to its driver.)
int ns_type(int fd) {
  char link[64];
  std::string self = proc_fd_path(fd);
  ssize_t n = ::readlink(self.c_str(), link, sizeof link - 1);
  if (n <= 0) return 0;
  link[n] = 0;
  static const struct {
    const char* name;
    int type;
  } kTypes[] = {{"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"mnt", CLONE_NEWNS},
                {"net", CLONE_NEWNET},       {"pid", CLONE_NEWPID}, {"time", CLONE_NEWTIME},
                {"user", CLONE_NEWUSER},     {"uts", CLONE_NEWUTS}};
  for (const auto& t : kTypes) {
    size_t len = strlen(t.name);
    if (strncmp(link, t.name, len) == 0 && strncmp(link + len, ":[", 2) == 0) return t.type;
  }
  return 0;
}

size_t guest_threads(Process& p) {
  std::lock_guard lock(p.threads_mu);
  return p.threads.size();
}

}  // namespace

// unshare(flags): unknown flags EINVAL; the implied flags are added
// (CLONE_NEWUSER: CLONE_THREAD | CLONE_FS; CLONE_VM: CLONE_SIGHAND;
// CLONE_SIGHAND: CLONE_THREAD; CLONE_NEWNS: CLONE_FS); CLONE_THREAD,
// CLONE_SIGHAND and CLONE_VM are EINVAL for a process with other threads
// and no-ops otherwise (check_unshare_flags); then namespaces are EPERM;
// then CLONE_FS, CLONE_FILES and CLONE_SYSVSEM are done on the host thread.
int64_t sys_unshare(SyscallContext& ctx, const SyscallArgs& a) {
  uint64_t flags = a.a[0];
  constexpr uint64_t kAllowed = CLONE_THREAD | CLONE_FS | CLONE_SIGHAND | CLONE_VM | CLONE_FILES |
                                CLONE_SYSVSEM | kNamespaces;
  if (flags & ~kAllowed) return -EINVAL;
  if (flags & CLONE_NEWUSER) flags |= CLONE_THREAD | CLONE_FS;
  if (flags & CLONE_VM) flags |= CLONE_SIGHAND;
  if (flags & CLONE_SIGHAND) flags |= CLONE_THREAD;
  if (flags & CLONE_NEWNS) flags |= CLONE_FS;
  size_t threads = guest_threads(ctx.proc);
  if ((flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)) && threads > 1) return -EINVAL;
  if (flags & kNamespaces) return -EPERM;
  uint64_t host = flags & CLONE_SYSVSEM;
  if (threads > 1) host |= flags & (CLONE_FS | CLONE_FILES);
  if (host == 0) return 0;
  return host_rax(::syscall(SYS_unshare, host));
}

// setns(fd, nstype): the fd (EBADF); a namespace file whose type differs
// from a non-zero nstype, a pidfd with no or unknown namespace flags, or
// any other file: EINVAL; joining one's own user namespace: EINVAL; any
// other join: EPERM.
int64_t sys_setns(SyscallContext& ctx, const SyscallArgs& a) {
  int fd = arg_int(a.a[0]);
  int nstype = arg_int(a.a[1]);
  if (fd < 0 || fd >= ctx.proc.fds.floor || ::fcntl(fd, F_GETFD) < 0) return -EBADF;
  int type = ns_type(fd);
  if (type > 0) {
    if (nstype && nstype != type) return -EINVAL;
    if (type == CLONE_NEWUSER) {
      struct stat mine, theirs;
      if (::stat("/proc/thread-self/ns/user", &mine) == 0 && ::fstat(fd, &theirs) == 0 &&
          mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino)
        return -EINVAL;
    }
    return -EPERM;
  }
  // A pidfd: fs/pidfs.c fdinfo has a "Pid:" line.
  char path[64];
  snprintf(path, sizeof path, "/proc/thread-self/fdinfo/%d", fd);
  bool pidfd = false;
  if (FILE* f = fopen(path, "re")) {
    char line[256];
    while (!pidfd && fgets(line, sizeof line, f)) pidfd = strncmp(line, "Pid:", 4) == 0;
    fclose(f);
  }
  if (!pidfd) return -EINVAL;
  if (nstype == 0 || (static_cast<uint64_t>(static_cast<unsigned>(nstype)) & ~kNamespaces))
    return -EINVAL;
  return -EPERM;
}

}  // namespace elfuse
