// clone with CLONE_SETTLS of an address at or above the user address limit is
// EPERM (arch/x86 copy_thread: do_arch_prctl_64 ARCH_SET_FS); a canonical TLS
// address works; clone3 with CLONE_PARENT or CLONE_THREAD and a non-zero
// exit_signal is EINVAL (kernel/fork.c clone3_args_valid). A child that does
// get created leaves at once through a raw exit, touching no memory.
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

struct clone_args_v0 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

// The syscall; in a child (0 returned) exit(0) at once.
static long raw(long nr, long a1, long a2, long a3, long a4, long a5) {
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  __asm__ volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "mov $60, %%eax\n\t"
      "xor %%edi, %%edi\n\t"
      "syscall\n"
      "1:"
      : "=a"(ret)
      : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8)
      : "rcx", "r11", "memory");
  if (ret < 0 && ret > -4096) {
    errno = (int)-ret;
    return -1;
  }
  return ret;
}

static void reap(long pid) {
  int st = 0;
  if (pid > 0) {
    waitpid((pid_t)pid, &st, __WALL);
    printf("child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  }
}

int main(void) {
  static char tls_area[64];
  const long bad[] = {(long)0x8000000000000000ull, (long)0x00007ffffffff000ull,
                      (long)0xffff800000000000ull};
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    long r = SHOW(raw(SYS_clone, SIGCHLD | CLONE_SETTLS, 0, 0, 0, bad[i]));
    reap(r);
  }
  long r = OK(raw(SYS_clone, SIGCHLD | CLONE_SETTLS, 0, 0, 0, (long)tls_area));
  reap(r);

  struct clone_args_v0 ca;
  memset(&ca, 0, sizeof ca);
  ca.flags = CLONE_PARENT;
  ca.exit_signal = SIGCHLD;
  SHOW(raw(SYS_clone3, (long)&ca, sizeof ca, 0, 0, 0));
  ca.flags = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
  SHOW(raw(SYS_clone3, (long)&ca, sizeof ca, 0, 0, 0));
  ca.flags = CLONE_PARENT | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
  SHOW(raw(SYS_clone3, (long)&ca, sizeof ca, 0, 0, 0));
  ca.flags = 0;
  r = OK(raw(SYS_clone3, (long)&ca, sizeof ca, 0, 0, 0));
  reap(r);
  return 0;
}
