// elfuse's self-confinement filter (base/self_confine.h): what the program
// decides, read by a classic-BPF interpreter, and the program installed for
// real in forked children (no KVM needed): a denied call fails or kills, an
// allowed one works, threads started before and after have it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>

#include "base/self_confine.h"

namespace elfuse::confine {
namespace {

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t kKill = SECCOMP_RET_KILL_PROCESS;
constexpr uint32_t kEperm = SECCOMP_RET_ERRNO | EPERM;
constexpr uint32_t kEnosys = SECCOMP_RET_ERRNO | ENOSYS;

uint32_t decide(int nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                uint64_t a4 = 0, uint64_t a5 = 0) {
  static const std::vector<sock_filter> prog = build_filter();
  const uint64_t args[6] = {a0, a1, a2, a3, a4, a5};
  return evaluate(prog, nr, args);
}

uint64_t probe() {
  return reinterpret_cast<uintptr_t>(kMountProbePath);
}
constexpr uint64_t kAtFdcwd = static_cast<uint64_t>(int64_t{AT_FDCWD});

TEST(SelfConfine, ProgramFitsTheKernelsLimits) {
  std::vector<sock_filter> p = build_filter();
  EXPECT_LT(p.size(), 4096u);  // BPF_MAXINSNS
  EXPECT_EQ(p.back().code, BPF_RET | BPF_K);
}

TEST(SelfConfine, EveryDeniedCallGetsItsAction) {
  for (const DeniedCall& d : denied_calls()) {
    uint32_t want = d.action == Action::kKill     ? kKill
                    : d.action == Action::kEperm  ? kEperm
                    : d.action == Action::kEnosys ? kEnosys
                                                  : kAllow;
    EXPECT_EQ(decide(d.nr), want) << d.name;
  }
  EXPECT_EQ(decide(SYS_ptrace), kKill);
  EXPECT_EQ(decide(SYS_bpf), kKill);
  EXPECT_EQ(decide(SYS_keyctl), kKill);
  EXPECT_EQ(decide(SYS_mount), kKill);
  EXPECT_EQ(decide(SYS_execve), kKill);
  EXPECT_EQ(decide(SYS_io_uring_setup), kKill);
  EXPECT_EQ(decide(SYS_process_vm_readv), kKill);
  EXPECT_EQ(decide(SYS_process_vm_writev), kKill);
  EXPECT_EQ(decide(SYS_clone3), kEnosys);
  EXPECT_EQ(decide(444), kKill);  // landlock_create_ruleset
  EXPECT_EQ(decide(446), kKill);  // landlock_restrict_self
  EXPECT_EQ(decide(460), kKill);  // lsm_set_self_attr
}

TEST(SelfConfine, WhatElfuseCallsIsAllowed) {
  for (int nr : {SYS_read, SYS_write, SYS_openat, SYS_mmap, SYS_munmap, SYS_futex, SYS_rt_sigaction,
                 SYS_exit_group, SYS_getpid, SYS_seccomp, SYS_prctl, SYS_kcmp, SYS_pidfd_getfd,
                 SYS_chroot, SYS_capset, SYS_setresuid, SYS_syslog, SYS_open_by_handle_at,
                 453 /* map_shadow_stack: probed once (sys_newer.cc) */})
    EXPECT_EQ(decide(nr), kAllow) << nr;
}

TEST(SelfConfine, OtherArchitecturesAndX32Kill) {
  const uint64_t none[6] = {};
  std::vector<sock_filter> p = build_filter();
  EXPECT_EQ(evaluate(p, SYS_read, none, 0x40000003 /* AUDIT_ARCH_I386 */), kKill);
  EXPECT_EQ(decide(0x40000000 | SYS_read), kKill);
  EXPECT_EQ(decide(0x40000000 | 512), kKill);
}

TEST(SelfConfine, KvmIoctlsOnlyFromTheList) {
  for (uint32_t k : kvm_ioctls()) EXPECT_EQ(decide(SYS_ioctl, 5, k), kAllow) << std::hex << k;
  EXPECT_EQ(decide(SYS_ioctl, 5, KVM_RUN), kAllow);
  // The high half of the register is not the kernel's (unsigned int cmd).
  EXPECT_EQ(decide(SYS_ioctl, 5, 0xdead00000000ull | KVM_RUN), kAllow);
  EXPECT_EQ(decide(SYS_ioctl, 5, KVM_GET_DIRTY_LOG), kEperm);
  EXPECT_EQ(decide(SYS_ioctl, 5, KVM_SET_GSI_ROUTING), kEperm);
  EXPECT_EQ(decide(SYS_ioctl, 5, KVM_CREATE_DEVICE), kEperm);
  // Other drivers' requests pass (the guest's are an allowlist already).
  EXPECT_EQ(decide(SYS_ioctl, 0, TCGETS), kAllow);
  EXPECT_EQ(decide(SYS_ioctl, 0, FIONREAD), kAllow);
}

TEST(SelfConfine, NoNewNamespaces) {
  constexpr uint64_t kThread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                               CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
                               CLONE_CHILD_CLEARTID;
  EXPECT_EQ(decide(SYS_clone, kThread), kAllow);
  EXPECT_EQ(decide(SYS_clone, SIGCHLD), kAllow);
  EXPECT_EQ(decide(SYS_clone, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD), kAllow);
  EXPECT_EQ(decide(SYS_clone, 0x80 /* exit signal 128's bit, not CLONE_NEWTIME */), kAllow);
  for (uint64_t ns : {CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS,
                      CLONE_NEWIPC, CLONE_NEWCGROUP}) {
    EXPECT_EQ(decide(SYS_clone, SIGCHLD | ns), kEperm) << ns;
    EXPECT_EQ(decide(SYS_unshare, ns), kEperm) << ns;
  }
  EXPECT_EQ(decide(SYS_unshare, 0x80 /* CLONE_NEWTIME */), kEperm);
  EXPECT_EQ(decide(SYS_unshare, CLONE_FS | CLONE_FILES), kAllow);
  EXPECT_EQ(decide(SYS_unshare, CLONE_SYSVSEM), kAllow);
  EXPECT_EQ(decide(SYS_setns, 3, 0), kEperm);
}

TEST(SelfConfine, MountApiOnlyAsProbes) {
  // open_tree without OPEN_TREE_CLONE: any path (an O_PATH fd).
  EXPECT_EQ(decide(SYS_open_tree, 3, 0x1234, AT_EMPTY_PATH), kAllow);
  EXPECT_EQ(decide(SYS_open_tree, kAtFdcwd, probe(), OPEN_TREE_CLONE), kAllow);
  EXPECT_EQ(decide(SYS_open_tree, kAtFdcwd, probe() + 1, OPEN_TREE_CLONE), kEperm);
  EXPECT_EQ(decide(SYS_open_tree, kAtFdcwd, probe(), OPEN_TREE_CLONE | AT_EMPTY_PATH), kEperm);
  EXPECT_EQ(decide(SYS_open_tree, 3, probe(), OPEN_TREE_CLONE), kEperm);
  // move_mount: both paths the probe's, no EMPTY_PATH.
  EXPECT_EQ(decide(SYS_move_mount, kAtFdcwd, probe(), kAtFdcwd, probe(), 0), kAllow);
  EXPECT_EQ(decide(SYS_move_mount, kAtFdcwd, probe(), kAtFdcwd, probe(), MOVE_MOUNT_F_SYMLINKS),
            kAllow);
  EXPECT_EQ(decide(SYS_move_mount, kAtFdcwd, probe(), kAtFdcwd, 0x1000, 0), kEperm);
  EXPECT_EQ(decide(SYS_move_mount, 3, probe(), kAtFdcwd, probe(), 0), kEperm);
  EXPECT_EQ(decide(SYS_move_mount, kAtFdcwd, probe(), kAtFdcwd, probe(), MOVE_MOUNT_T_EMPTY_PATH),
            kEperm);
  EXPECT_EQ(decide(SYS_move_mount, kAtFdcwd, probe() ^ (1ull << 40), kAtFdcwd, probe(), 0), kEperm);
  // fsmount: no fd.
  EXPECT_EQ(decide(SYS_fsmount, 0xffffffffu, 0, 0), kAllow);
  EXPECT_EQ(decide(SYS_fsmount, 3, 0, 0), kEperm);
  // fspick, mount_setattr.
  EXPECT_EQ(decide(SYS_fspick, kAtFdcwd, probe(), 0), kAllow);
  EXPECT_EQ(decide(SYS_fspick, kAtFdcwd, probe(), FSPICK_EMPTY_PATH), kEperm);
  EXPECT_EQ(decide(SYS_mount_setattr, kAtFdcwd, probe(), 0, 0x1000, 32), kAllow);
  EXPECT_EQ(decide(SYS_mount_setattr, kAtFdcwd, probe(), AT_EMPTY_PATH, 0x1000, 32), kEperm);
  EXPECT_EQ(decide(SYS_mount_setattr, kAtFdcwd, 0x2000, 0, 0x1000, 32), kEperm);
}

// Runs body in a forked child that installs the filter first; returns the
// child's wait status. body returns the child's exit status.
int in_confined_child(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<sock_filter> p = build_filter();
    if (install(p) != 0) _exit(100);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(SelfConfine, InstalledADeniedCallFailsAndAnAllowedOneWorks) {
  int st = in_confined_child([] {
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 1;
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != SECCOMP_MODE_FILTER) return 2;
    if (syscall(SYS_getpid) != getpid()) return 3;
    if (unshare(CLONE_NEWUSER) != -1 || errno != EPERM) return 4;
    if (syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) return 5;
    if (syscall(SYS_setns, 0, 0) != -1 || errno != EPERM) return 6;
    // A KVM ioctl not on the list: EPERM before any fd lookup.
    if (ioctl(0, KVM_CREATE_DEVICE, nullptr) != -1 || errno != EPERM) return 7;
    // One on the list reaches the kernel (stdin is no KVM fd).
    if (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF) return 8;
    // The mount API's probe form reaches the kernel and fails there.
    if (syscall(SYS_fspick, AT_FDCWD, kMountProbePath, 0) != -1 ||
        (errno != ENOENT && errno != EPERM))
      return 9;
    if (syscall(SYS_fspick, AT_FDCWD, "/", 0) != -1 || errno != EPERM) return 10;
    // fork and threads (pthread_create falls back from clone3 to clone).
    pthread_t t;
    std::atomic<int> ran{0};
    if (pthread_create(
            &t, nullptr,
            [](void* p) -> void* {
              static_cast<std::atomic<int>*>(p)->store(1);
              return nullptr;
            },
            &ran) != 0)
      return 11;
    pthread_join(t, nullptr);
    if (ran.load() != 1) return 12;
    pid_t c = fork();
    if (c == 0) _exit(prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == SECCOMP_MODE_FILTER ? 0 : 1);
    int cs = 0;
    waitpid(c, &cs, 0);
    if (!WIFEXITED(cs) || WEXITSTATUS(cs) != 0) return 13;
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(SelfConfine, InstalledAKilledCallEndsTheProcessBySigsys) {
  for (int which = 0; which < 6; which++) {
    int st = in_confined_child([which] {
      switch (which) {
        case 0:
          syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
          break;
        case 1:
          syscall(SYS_bpf, 0, nullptr, 0);
          break;
        case 2:
          syscall(SYS_keyctl, 0, 0, 0, 0, 0);
          break;
        case 3: {
          char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
          execve("/bin/true", argv, argv + 1);
          break;
        }
        case 4:
        case 5: {
          // Even on itself (elfuse's copies are its own: base/safe_copy.h).
          char from[8] = "x", to[8];
          iovec local{to, sizeof to}, remote{from, sizeof from};
          syscall(which == 4 ? SYS_process_vm_readv : SYS_process_vm_writev, getpid(), &local, 1,
                  &remote, 1, 0);
          break;
        }
      }
      return 42;  // not reached
    });
    ASSERT_TRUE(WIFSIGNALED(st)) << which << ": status " << st;
    EXPECT_EQ(WTERMSIG(st), SIGSYS) << which;
  }
}

TEST(SelfConfine, ThreadsStartedBeforeTheFilterHaveIt) {
  int st = in_confined_child([] { return 0; });
  ASSERT_TRUE(WIFEXITED(st));
  // A thread that exists when install() runs gets the filter (TSYNC).
  pid_t pid = fork();
  if (pid == 0) {
    std::atomic<int> go{0}, result{-1};
    struct Arg {
      std::atomic<int>* go;
      std::atomic<int>* result;
    } arg{&go, &result};
    pthread_t t;
    pthread_create(
        &t, nullptr,
        [](void* p) -> void* {
          auto* a = static_cast<Arg*>(p);
          while (a->go->load() == 0) usleep(1000);
          a->result->store(static_cast<int>(prctl(PR_GET_SECCOMP, 0, 0, 0, 0)));
          return nullptr;
        },
        &arg);
    std::vector<sock_filter> p = build_filter();
    if (install(p) != 0) _exit(100);
    go.store(1);
    pthread_join(t, nullptr);
    _exit(result.load() == SECCOMP_MODE_FILTER ? 0 : 1);
  }
  int s = 0;
  waitpid(pid, &s, 0);
  ASSERT_TRUE(WIFEXITED(s));
  EXPECT_EQ(WEXITSTATUS(s), 0);
}

TEST(SelfConfine, EnvironmentSwitch) {
  unsetenv("ELFUSE_NO_CONFINE");
  EXPECT_FALSE(disabled_by_environment());
  setenv("ELFUSE_NO_CONFINE", "1", 1);
  EXPECT_TRUE(disabled_by_environment());
  setenv("ELFUSE_NO_CONFINE", "0", 1);
  EXPECT_FALSE(disabled_by_environment());
  setenv("ELFUSE_NO_CONFINE", "", 1);
  EXPECT_FALSE(disabled_by_environment());
  unsetenv("ELFUSE_NO_CONFINE");
}

}  // namespace
}  // namespace elfuse::confine
