// Processes and their state: exit, exit_group, clone/fork/vfork, execve,
// wait4/waitid, arch_prctl, set_tid_address, robust lists, rseq,
// personality, prctl.
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "abi/linux.h"
#include "fs/proc/procfs.h"
#include "hv/hypervisor.h"
#include "kernel/exec.h"
#include "kernel/exitless.h"
#include "kernel/fault.h"
#include "kernel/fork.h"
#include "kernel/process.h"
#include "kernel/thread.h"
#include "syscalls/fs_common.h"
#include "syscalls/table.h"
#include "vdso/vdso.h"

namespace elfuse {

// exit(2) ends the calling thread; with one thread it ends the process.
int64_t sys_exit(SyscallContext& ctx, const SyscallArgs& a) {
  ctx.outcome = Outcome::kExitThread;
  ctx.exit_code = static_cast<int>(a.a[0] & 0xff);
  return 0;
}

int64_t sys_exit_group(SyscallContext& ctx, const SyscallArgs& a) {
  ctx.outcome = Outcome::kExitGroup;
  ctx.exit_code = static_cast<int>(a.a[0] & 0xff);
  return 0;
}

// arch/x86/kernel/process_64.c do_arch_prctl_64 and do_arch_prctl_common.
int64_t sys_arch_prctl(SyscallContext& ctx, const SyscallArgs& a) {
  Vcpu& vcpu = *ctx.thread.vcpu;
  uint64_t arg = a.a[1];
  switch (static_cast<int>(a.a[0])) {
    case ARCH_SET_FS:
    case ARCH_SET_GS:
      if (arg >= kTaskSizeMax) return -EPERM;
      return to_rax(a.a[0] == ARCH_SET_FS ? vcpu.set_fs_base(arg) : vcpu.set_gs_base(arg));
    case ARCH_GET_FS:
    case ARCH_GET_GS: {
      Result<uint64_t> base = a.a[0] == ARCH_GET_FS ? vcpu.fs_base() : vcpu.gs_base();
      if (!base.ok()) return -base.error();
      uint64_t v = *base;
      return to_rax(ctx.mm.copy_out(arg, &v, sizeof v));
    }
    case ARCH_GET_CPUID:
      return 1;  // CPUID is never made to fault here
    case ARCH_SET_CPUID:
      return -ENODEV;  // no CPUID faulting, as on CPUs without it
    case ARCH_MAP_VDSO_64: {
      // prctl_map_vdso (CONFIG_CHECKPOINT_RESTORE, for CRIU): map_vdso_once
      // at the hint, then the text's size. Also under --no-vdso, as the
      // kernel does under vdso=0. ARCH_MAP_VDSO_32 (a 32-bit vDSO elfuse
      // does not have) stays EINVAL, as does ARCH_MAP_VDSO_X32 on kernels
      // without CONFIG_X86_X32_ABI. Without the host's data pages in the VM
      // (a backend that cannot share them) it is EINVAL as without a vDSO.
      if (!ctx.proc.vdso_attached) return -EINVAL;
      Result<uint64_t> r = vdso_map_once(ctx.mm, arg);
      if (!r.ok()) return r.error() == ENOENT ? -EINVAL : -r.error();
      return static_cast<int64_t>(vdso_text_size());
    }
    default:
      return -EINVAL;
  }
}

int64_t sys_set_tid_address(SyscallContext& ctx, const SyscallArgs& a) {
  ctx.thread.clear_child_tid = a.a[0];
  return ctx.thread.tid;
}

// kernel/futex/syscalls.c: the head's size must be sizeof(robust_list_head).
int64_t sys_set_robust_list(SyscallContext& ctx, const SyscallArgs& a) {
  if (a.a[1] != 24) return -EINVAL;
  ctx.thread.robust_list = a.a[0];
  ctx.thread.robust_list_len = a.a[1];
  return 0;
}

int64_t sys_get_robust_list(SyscallContext& ctx, const SyscallArgs& a) {
  // kernel/futex/syscalls.c: 0 is the caller; another tid must be a thread
  // of this process here (another process's list is not ours to read).
  uint64_t head = ctx.thread.robust_list, len = ctx.thread.robust_list_len;
  if (a.a[0] != 0 && static_cast<int>(a.a[0]) != ctx.thread.tid) {
    std::lock_guard lock(ctx.proc.threads_mu);
    const Thread* found = nullptr;
    for (const auto& t : ctx.proc.threads)
      if (t->tid == static_cast<int>(a.a[0])) found = t.get();
    if (!found) return -ESRCH;
    head = found->robust_list;
    len = found->robust_list_len;
  }
  if (auto r = ctx.mm.copy_out(a.a[1], &head, 8); !r.ok()) return -r.error();
  return to_rax(ctx.mm.copy_out(a.a[2], &len, 8));
}

// Restartable sequences are not provided; glibc then runs without them, as
// on a kernel older than 4.18.
int64_t sys_rseq(SyscallContext&, const SyscallArgs&) {
  return -ENOSYS;
}

// kernel/exec_domain.c: 0xffffffff queries.
int64_t sys_personality(SyscallContext& ctx, const SyscallArgs& a) {
  int old = ctx.proc.personality;
  if (static_cast<uint32_t>(a.a[0]) != 0xffffffff) ctx.proc.personality = static_cast<int>(a.a[0]);
  return old;
}

int64_t sys_prctl(SyscallContext& ctx, const SyscallArgs& a) {
  switch (static_cast<int>(a.a[0])) {
    case PR_SET_NAME: {
      char name[16] = {};
      // kernel/sys.c: strncpy_from_user of 15 bytes, always terminated.
      for (int i = 0; i < 15; i++) {
        if (auto r = ctx.mm.copy_in(&name[i], a.a[1] + i, 1); !r.ok()) return -r.error();
        if (!name[i]) break;
      }
      return host_rax(prctl(PR_SET_NAME, name, 0, 0, 0));
    }
    case PR_GET_NAME: {
      char name[16] = {};
      if (prctl(PR_GET_NAME, name, 0, 0, 0) < 0) return -errno;
      return to_rax(ctx.mm.copy_out(a.a[1], name, sizeof name));
    }
    case PR_GET_DUMPABLE:
    case PR_SET_DUMPABLE:
    case PR_GET_KEEPCAPS:
    case PR_SET_KEEPCAPS:
    case PR_GET_TIMERSLACK:
    case PR_SET_TIMERSLACK:
    case PR_CAPBSET_READ:
    case PR_CAPBSET_DROP:
    case PR_GET_SECUREBITS:
    case PR_SET_SECUREBITS:
    case PR_CAP_AMBIENT:
    case PR_SET_PDEATHSIG:
    case PR_SET_CHILD_SUBREAPER:
      // Integer-only options: the host's answer is the guest's. The
      // capability sets, securebits and keepcaps are the calling host
      // thread's, as Linux keeps them per thread (execve applies them:
      // kernel/exec.cc apply_exec_credentials). The guest is the host
      // process, so a parent-death signal or subreaper status set
      // on the host acts for the guest (the signal is delivered like any
      // other host signal).
      return host_rax(prctl(static_cast<int>(a.a[0]), a.a[1], a.a[2], a.a[3], a.a[4]));
    case PR_SET_NO_NEW_PRIVS:
      // kernel/sys.c: the guest's flag, not the host thread's (which elfuse's
      // self-confinement always sets, base/self_confine.h).
      if (a.a[1] != 1 || a.a[2] || a.a[3] || a.a[4]) return -EINVAL;
      ctx.thread.no_new_privs = true;
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      if (a.a[1] || a.a[2] || a.a[3] || a.a[4]) return -EINVAL;
      return ctx.thread.no_new_privs ? 1 : 0;
    case PR_GET_SECCOMP:
      // kernel/seccomp.c prctl_get_seccomp: the mode (strict mode never gets
      // here: prctl kills in it).
      return ctx.thread.seccomp_strict            ? SECCOMP_MODE_STRICT
             : ctx.thread.seccomp_filtered.load() ? SECCOMP_MODE_FILTER
                                                  : SECCOMP_MODE_DISABLED;
    case PR_SET_SECCOMP:
      // prctl_set_seccomp: do_seccomp with no flags; strict ignores arg3
      // (sys_sandbox.cc).
      if (a.a[1] == SECCOMP_MODE_STRICT)
        return sys_seccomp(ctx, SyscallArgs{SYS_seccomp, {SECCOMP_SET_MODE_STRICT, 0, 0}});
      if (a.a[1] == SECCOMP_MODE_FILTER)
        return sys_seccomp(ctx, SyscallArgs{SYS_seccomp, {SECCOMP_SET_MODE_FILTER, 0, a.a[2]}});
      return -EINVAL;
    case PR_SET_MM: {
      // kernel/sys.c prctl_set_mm: arg5, or arg4 with an option other than
      // AUXV/MAP/MAP_SIZE, is EINVAL; MAP_SIZE writes sizeof(struct
      // prctl_mm_map); MAP checks its size (EINVAL) and copies the map in
      // (EFAULT). elfuse does not let the guest rewrite the layout it keeps
      // (brk, stack, arguments, auxv, exe link): what follows is the answer
      // of a caller without CAP_SYS_RESOURCE (and, for MAP, without
      // CAP_CHECKPOINT_RESTORE), EPERM.
      constexpr uint64_t kPrctlMmMapSize = 104;  // include/uapi/linux/prctl.h
      uint64_t opt = a.a[1];
      if (a.a[4] ||
          (a.a[3] && opt != PR_SET_MM_AUXV && opt != PR_SET_MM_MAP && opt != PR_SET_MM_MAP_SIZE))
        return -EINVAL;
      if (opt == PR_SET_MM_MAP_SIZE) {
        uint32_t size = kPrctlMmMapSize;
        return to_rax(ctx.mm.copy_out(a.a[2], &size, sizeof size));
      }
      if (opt == PR_SET_MM_MAP) {
        if (a.a[3] != kPrctlMmMapSize) return -EINVAL;
        uint8_t map[kPrctlMmMapSize];
        if (auto r = ctx.mm.copy_in(map, a.a[2], sizeof map); !r.ok()) return -r.error();
      }
      return -EPERM;
    }
    case PR_GET_PDEATHSIG:
    case PR_GET_CHILD_SUBREAPER: {
      // kernel/sys.c: put_user of an int through arg2.
      int value = 0;
      if (prctl(static_cast<int>(a.a[0]), &value, 0, 0, 0) < 0) return -errno;
      return to_rax(ctx.mm.copy_out(a.a[1], &value, sizeof value));
    }
    default:
      return -EINVAL;
  }
}

// ------------------------------------------------------------ processes

namespace {

constexpr uint64_t kCloneNamespaces = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                      CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

// The child's pidfd for CLONE_PIDFD, made in the reserved slot (a
// close-on-exec descriptor, PIDFD_THREAD for a thread, as copy_process's
// pidfd_prepare), its number stored at the guest's address, which
// do_clone found writable. A child reaped by another thread of the parent
// in between (a concurrent wait) leaves -1 there and no descriptor.
void install_pidfd(SyscallContext& ctx, const CloneRequest& req, uint64_t addr, int pid) {
  int32_t fd = -1;
  long pidfd = ::syscall(SYS_pidfd_open, pid, (req.flags & CLONE_THREAD) ? kPidfdThread : 0);
  if (pidfd >= 0) {
    fd = req.pidfd_slot;
    dup3(static_cast<int>(pidfd), fd, O_CLOEXEC);
    ::close(static_cast<int>(pidfd));
  } else {
    ::close(req.pidfd_slot);
  }
  (void)ctx.mm.copy_out(addr, &fd, sizeof fd);
}

// kernel/fork.c copy_process's flag rules, then the cases elfuse runs.
// pidfd: CLONE_PIDFD's address (clone3's own field, clone's parent_tid).
int64_t do_clone(SyscallContext& ctx, CloneRequest req, uint64_t pidfd = 0) {
  uint64_t f = req.flags;
  // kernel_clone: the pidfd and the parent's tid cannot share an address
  // (legacy clone passes both in parent_tid); copy_process: CLONE_DETACHED
  // is reserved with CLONE_PIDFD.
  if ((f & CLONE_PIDFD) && (f & CLONE_PARENT_SETTID) && pidfd == req.parent_tid) return -EINVAL;
  if ((f & CLONE_THREAD) && !(f & CLONE_SIGHAND)) return -EINVAL;
  if ((f & CLONE_SIGHAND) && !(f & CLONE_VM)) return -EINVAL;
  if ((f & (CLONE_NEWNS | CLONE_FS)) == (CLONE_NEWNS | CLONE_FS)) return -EINVAL;
  if (f & kCloneNamespaces) return -EPERM;  // namespaces need privileges elfuse does not pass on
  // arch/x86/kernel/process.c copy_thread: CLONE_SETTLS sets the FS base
  // through do_arch_prctl_64(ARCH_SET_FS), EPERM at or above TASK_SIZE_MAX.
  if ((f & CLONE_SETTLS) && req.tls >= kTaskSizeMax) return -EPERM;
  if (f & CLONE_PIDFD) {
    if (f & CLONE_DETACHED) return -EINVAL;
    // copy_process: put_user of the pidfd fails (EFAULT) before the child
    // exists. Tested here by writing back what is there: the child must
    // not see a value (its memory is copied before Linux stores it).
    int32_t old = 0;
    if (!ctx.mm.copy_in(&old, pidfd, sizeof old).ok() ||
        !ctx.mm.copy_out(pidfd, &old, sizeof old).ok())
      return -EFAULT;
    // pidfd_prepare: the lowest free descriptor, taken before the child
    // is made (EMFILE: no child).
    int slot = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (slot < 0) return -errno;
    if (static_cast<uint64_t>(slot) >= fs::fd_limit(ctx.proc)) {
      ::close(slot);
      return -EMFILE;
    }
    req.pidfd_slot = slot;
  }
  // Threads: a host thread and a vCPU in this VM (kernel/thread.h). A
  // process sharing memory without being a thread (CLONE_VM without
  // CLONE_THREAD or CLONE_VFORK) is not provided. A vfork that shares
  // memory (posix_spawn) runs on a copy instead: the child only execs or
  // exits, and the parent waits for that. A thread made with CLONE_VFORK
  // is a thread, and its creator waits for its exit or execve.
  Result<int> child = Errno{ENOSYS};
  if ((f & CLONE_VM) && (!(f & CLONE_VFORK) || (f & CLONE_THREAD))) {
    if (f & CLONE_THREAD) {
      child = clone_thread(ctx.proc, ctx.thread, req);
      if (child.ok() && (f & CLONE_VFORK)) wait_vfork_thread(ctx.proc, ctx.thread, *child);
    }
  } else {
    req.shares_memory = f & CLONE_VM;
    req.flags &= ~CLONE_VM;
    child = fork_process(ctx.proc, ctx.thread, req);
  }
  if (req.pidfd_slot >= 0) {
    if (!child.ok())
      ::close(req.pidfd_slot);
    else if (*child > 0)  // the parent (a forked child closed its copy)
      install_pidfd(ctx, req, pidfd, *child);
  }
  return child.ok() ? *child : -child.error();
}

}  // namespace

int64_t sys_clone(SyscallContext& ctx, const SyscallArgs& a) {
  // x86_64 argument order: flags, stack, parent_tid, child_tid, tls.
  CloneRequest req;
  req.flags = a.a[0] & ~uint64_t{CSIGNAL};
  req.exit_signal = static_cast<int>(a.a[0] & CSIGNAL);
  req.stack = a.a[1];
  req.parent_tid = a.a[2];
  req.child_tid = a.a[3];
  req.tls = a.a[4];
  // Legacy clone returns CLONE_PIDFD's descriptor through parent_tid.
  return do_clone(ctx, req, (req.flags & CLONE_PIDFD) ? a.a[2] : 0);
}

// include/uapi/linux/sched.h struct clone_args (version 0 is 64 bytes).
int64_t sys_clone3(SyscallContext& ctx, const SyscallArgs& a) {
  struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    uint64_t set_tid, set_tid_size, cgroup;
  } args{};
  uint64_t size = a.a[1];
  if (size < 64 || size > 4096) return -EINVAL;
  uint64_t copy = std::min<uint64_t>(size, sizeof args);
  if (auto r = ctx.mm.copy_in(&args, a.a[0], copy); !r.ok()) return -r.error();
  if (args.exit_signal & ~uint64_t{CSIGNAL}) return -EINVAL;
  if ((args.flags & CSIGNAL) || args.set_tid || args.set_tid_size) return -EINVAL;
  // clone3_args_valid: CLONE_THREAD and CLONE_PARENT take no exit signal.
  if ((args.flags & (CLONE_THREAD | CLONE_PARENT)) && args.exit_signal) return -EINVAL;
  if (args.flags & CLONE_INTO_CGROUP) return -EINVAL;  // not provided
  if ((args.stack == 0) != (args.stack_size == 0)) return -EINVAL;
  CloneRequest req;
  req.flags = args.flags;
  req.exit_signal = static_cast<int>(args.exit_signal);
  req.stack = args.stack ? args.stack + args.stack_size : 0;
  req.parent_tid = args.parent_tid;
  req.child_tid = args.child_tid;
  req.tls = args.tls;
  return do_clone(ctx, req, args.pidfd);
}

int64_t sys_fork(SyscallContext& ctx, const SyscallArgs&) {
  CloneRequest req;
  req.exit_signal = SIGCHLD;
  return do_clone(ctx, req);
}

int64_t sys_vfork(SyscallContext& ctx, const SyscallArgs&) {
  CloneRequest req;
  req.flags = CLONE_VFORK | CLONE_VM;
  req.exit_signal = SIGCHLD;
  return do_clone(ctx, req);
}

namespace {

// fs/exec.c: at most MAX_ARG_STRINGS pointers, each string at most
// MAX_ARG_STRLEN bytes (E2BIG); a NULL array is an empty one.
Result<std::vector<std::string>> copy_in_strings(MemoryManager& mm, uint64_t array) {
  constexpr uint64_t kMaxStrings = 0x7fffffff;
  std::vector<std::string> out;
  if (!array) return out;
  for (uint64_t i = 0;; i++) {
    if (i >= kMaxStrings) return Errno{E2BIG};
    uint64_t ptr;
    TRY(mm.copy_in(&ptr, array + i * 8, sizeof ptr));
    if (!ptr) break;
    Result<std::string> s = mm.copy_in_string(ptr, kMaxArgStrlen);
    if (!s.ok()) return Errno{s.error() == ENAMETOOLONG ? E2BIG : s.error()};
    out.push_back(std::move(s.value()));
  }
  return out;
}

int64_t do_execve(SyscallContext& ctx, int dirfd, uint64_t path_addr, uint64_t argv_addr,
                  uint64_t envp_addr, int flags) {
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return -EINVAL;
  if (dirfd != AT_FDCWD && !ctx.proc.fds.guest_fd(dirfd)) return -EBADF;
  Result<std::string> path = ctx.mm.copy_in_string(path_addr, 4096);
  if (!path.ok()) return -path.error();
  if (path->empty() && !(flags & AT_EMPTY_PATH)) return -ENOENT;
  // elfuse's own fds and threads through /proc: as closed fds, gone tasks.
  if (!path->empty() && hidden_proc_entry(ctx.proc, dirfd, *path)) return -ENOENT;
  Result<std::vector<std::string>> argv = copy_in_strings(ctx.mm, argv_addr);
  if (!argv.ok()) return -argv.error();
  Result<std::vector<std::string>> envp = copy_in_strings(ctx.mm, envp_addr);
  if (!envp.ok()) return -envp.error();

  ExecRequest req;
  req.dirfd = dirfd;
  // /proc/self/exe is the guest program, not elfuse.
  req.path = dirfd == AT_FDCWD ? fs::followed_host_path(ctx.proc, *path) : *path;
  req.flags = flags;
  req.argv = std::move(argv.value());
  req.envp = std::move(envp.value());
  req.sysroot = ctx.proc.sysroot;
  req.caller_exe = ctx.proc.exe_path;
  req.caller_pid = ctx.proc.pid;
  // execveat(2), fs/exec.c alloc_bprm: AT_EXECFN names the file through
  // /dev/fd when it is reached relative to a descriptor; that name is gone
  // after the exec when the fd is close-on-exec, so a #! script (whose
  // interpreter would open it) fails with ENOENT.
  req.execfn = *path;
  if (dirfd != AT_FDCWD && (path->empty() || (*path)[0] != '/')) {
    req.execfn = "/dev/fd/" + std::to_string(dirfd) + (path->empty() ? "" : "/" + *path);
    int fdflags = fcntl(dirfd, F_GETFD);
    req.path_inaccessible = fdflags >= 0 && (fdflags & FD_CLOEXEC);
  }
  ElfOr<PreparedExec> prepared = prepare_exec(std::move(req));
  if (!prepared.ok()) return -prepared.error().linux_errno;
  // fs/exec.c de_thread: the other threads go; a thread other than the
  // leader hands the new program to the leader's host thread.
  if (!de_thread(ctx.proc, ctx.thread, prepared.value())) {
    ctx.outcome = Outcome::kThreadGone;
    return 0;
  }
  if (auto r = commit_exec(ctx.proc, ctx.thread, prepared.value()); !r.ok()) {
    // Past the point of no return: fs/exec.c kills the task with SIGSEGV.
    die_by_signal(SIGSEGV);
  }
  ctx.outcome = Outcome::kNoReturn;
  return 0;
}

}  // namespace

int64_t sys_execve(SyscallContext& ctx, const SyscallArgs& a) {
  return do_execve(ctx, AT_FDCWD, a.a[0], a.a[1], a.a[2], 0);
}

int64_t sys_execveat(SyscallContext& ctx, const SyscallArgs& a) {
  return do_execve(ctx, static_cast<int>(a.a[0]), a.a[1], a.a[2], a.a[3], static_cast<int>(a.a[4]));
}

// Guest pids are host pids: waiting is the host's wait4/waitid, with the
// results copied out (after the child was reaped, as the kernel does).
int64_t sys_wait4(SyscallContext& ctx, const SyscallArgs& a) {
  int status = 0;
  struct rusage ru {};
  long r = syscall(SYS_wait4, static_cast<pid_t>(a.a[0]), a.a[1] ? &status : nullptr,
                   static_cast<int>(a.a[2]), a.a[3] ? &ru : nullptr);
  if (r < 0) return -errno;
  if (r > 0 && a.a[1]) {
    if (auto c = ctx.mm.copy_out(a.a[1], &status, sizeof status); !c.ok()) return -c.error();
  }
  if (a.a[3]) {
    if (auto c = ctx.mm.copy_out(a.a[3], &ru, sizeof ru); !c.ok()) return -c.error();
  }
  return r;
}

int64_t sys_waitid(SyscallContext& ctx, const SyscallArgs& a) {
  siginfo_t info{};
  struct rusage ru {};
  long r = syscall(SYS_waitid, static_cast<int>(a.a[0]), static_cast<pid_t>(a.a[1]),
                   a.a[2] ? &info : nullptr, static_cast<int>(a.a[3]), a.a[4] ? &ru : nullptr);
  if (r < 0) return -errno;
  if (a.a[2]) {
    if (auto c = ctx.mm.copy_out(a.a[2], &info, sizeof info); !c.ok()) return -c.error();
  }
  if (a.a[4]) {
    if (auto c = ctx.mm.copy_out(a.a[4], &ru, sizeof ru); !c.ok()) return -c.error();
  }
  return r;
}

}  // namespace elfuse
