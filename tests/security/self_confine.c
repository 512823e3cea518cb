// elfuse confines its own host threads with a seccomp filter and
// no_new_privs (src/base/self_confine.h). The guest must not notice: the
// calls the filter refuses on the host are answered by elfuse's handlers as
// before (Linux's errno, or the answer of a kernel built without the
// feature), elfuse stays alive after each of them, and the guest's own
// no_new_privs and seccomp state is its own (prctl, /proc/self/status).
//
// Where Linux and elfuse's documented policy may differ (bpf natively works
// for root; elfuse answers ENOSYS), the line printed is what holds in both
// ("fails", "own memory or refused"); where they agree the errno is
// printed. "alive" after each group shows that elfuse was not killed.
#include <fcntl.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void exact(const char* what, long r) {
  if (r < 0)
    printf("%s: -1 %s\n", what, errname(errno));
  else
    printf("%s: %ld\n", what, r);
}

// Linux (any configuration, any privilege) fails these with bogus
// arguments; elfuse fails them with ENOSYS, as a kernel without them.
static void fails(const char* what, long r) {
  printf("%s: %s\n", what, r == -1 ? "fails" : "SUCCEEDED");
}

static void status_fields(const char* who) {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) {
    printf("%s: no /proc/self/status\n", who);
    return;
  }
  char line[256];
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "NoNewPrivs:", 11) || !strncmp(line, "Seccomp:", 8) ||
        !strncmp(line, "Seccomp_filters:", 16))
      printf("%s %s", who, line);
  fclose(f);
}

static void* thread_nnp(void* arg) {
  (void)arg;
  printf("thread: PR_GET_NO_NEW_PRIVS = %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  return NULL;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && !strcmp(argv[1], "exec")) {
    printf("exec: PR_GET_NO_NEW_PRIVS = %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    status_fields("exec:");
    return 0;
  }

  // Debugging and another process's memory.
  exact("ptrace(PTRACE_PEEKDATA, parent)", syscall(SYS_ptrace, PTRACE_PEEKDATA, getppid(), 0, 0));
  exact("ptrace(PTRACE_ATTACH, self)", syscall(SYS_ptrace, PTRACE_ATTACH, getpid(), 0, 0));
  char secret[16] = "mine", got[16] = {0};
  struct iovec local = {got, sizeof got}, remote = {secret, sizeof secret};
  long r = syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0);
  printf("process_vm_readv(self): %s\n",
         r == -1 ? "own memory or refused"
         : (r == sizeof secret && !strcmp(got, "mine")) ? "own memory or refused"
                                                         : "LEAK");
  printf("alive\n");

  // Kernel programs, counters, rings, keys.
  fails("bpf(999)", syscall(SYS_bpf, 999, NULL, 0));
  fails("perf_event_open(NULL)", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
  fails("io_uring_setup(0, NULL)", syscall(SYS_io_uring_setup, 0, NULL));
  fails("userfaultfd(~0)", syscall(SYS_userfaultfd, ~0));
  fails("keyctl(9999)", syscall(SYS_keyctl, 9999, 0, 0, 0, 0));
  fails("add_key(NULL)", syscall(SYS_add_key, NULL, NULL, NULL, 0, 0));
  fails("request_key(NULL)", syscall(SYS_request_key, NULL, NULL, NULL, 0));
  fails("kexec_load(bad flags)", syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000ul));
  fails("init_module(NULL)", syscall(SYS_init_module, NULL, 0, NULL));
  fails("finit_module(-1)", syscall(SYS_finit_module, -1, "", 0));
  fails("delete_module(NULL)", syscall(SYS_delete_module, NULL, 0));
  printf("alive\n");

  // The mount table and host-wide knobs: elfuse's handlers answer as Linux
  // up to the point of acting.
  exact("mount(/nonexistent)", mount("none", "/nonexistent-elfuse", "tmpfs", 0, NULL));
  exact("umount2(/nonexistent)", umount2("/nonexistent-elfuse", 0));
  exact("pivot_root(/nonexistent)", syscall(SYS_pivot_root, "/nonexistent-a", "/nonexistent-b"));
  exact("swapon(bad flags)", syscall(SYS_swapon, "/nonexistent-elfuse", ~0));
  exact("acct(/nonexistent)", syscall(SYS_acct, "/nonexistent-elfuse/x"));
  exact("reboot(bad magic)", syscall(SYS_reboot, 1, 2, 0, NULL));
  exact("sethostname(len 1000)", syscall(SYS_sethostname, "x", 1000));
  exact("setns(-1)", syscall(SYS_setns, -1, 0));
  printf("alive\n");

  // The guest's own no_new_privs and seccomp state.
  printf("PR_GET_NO_NEW_PRIVS = %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  printf("PR_GET_SECCOMP = %d\n", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
  status_fields("before:");
  exact("PR_SET_NO_NEW_PRIVS(2)", prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0));
  exact("PR_GET_NO_NEW_PRIVS(1)", prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
  exact("PR_SET_NO_NEW_PRIVS(1)", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  printf("PR_GET_NO_NEW_PRIVS = %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  status_fields("after:");
  // Threads (glibc's pthread_create uses clone3) and children inherit it.
  pthread_t t;
  if (pthread_create(&t, NULL, thread_nnp, NULL) == 0) pthread_join(t, NULL);
  pid_t c = fork();
  if (c == 0) {
    printf("child: PR_GET_NO_NEW_PRIVS = %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    // execve keeps it (and runs the program, which the host filter's
    // refusal of the host's execve must not prevent).
    char* args[] = {argv[0], "exec", NULL};
    execv(argv[0], args);
    printf("execv: %s\n", errname(errno));
    _exit(1);
  }
  int st = 0;
  waitpid(c, &st, 0);
  printf("child: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

  // Strict mode still works: write is allowed, getpid kills.
  c = fork();
  if (c == 0) {
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) _exit(3);
    static const char msg[] = "strict: write allowed\n";
    syscall(SYS_write, 1, msg, sizeof msg - 1);
    syscall(SYS_getpid);
    syscall(SYS_write, 1, "strict: NOT KILLED\n", 19);
    syscall(SYS_exit, 4);
  }
  waitpid(c, &st, 0);
  if (WIFSIGNALED(st))
    printf("strict child: killed by %s\n", WTERMSIG(st) == SIGKILL ? "SIGKILL" : "another signal");
  else
    printf("strict child: exit %d\n", WEXITSTATUS(st));
  printf("alive\n");
  return 0;
}
