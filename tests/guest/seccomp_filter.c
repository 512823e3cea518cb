// seccomp(2) filter mode (SECCOMP_SET_MODE_FILTER, PR_SET_SECCOMP): install
// checks, the actions (ERRNO, TRAP, KILL_*, TRACE, USER_NOTIF, LOG),
// stacking, inheritance by fork, execve and threads, TSYNC, and the
// Seccomp lines of /proc/self/status. Each case runs in a child of its own.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "classic_bpf.h"

// The kernel's definitions (linux/audit.h, seccomp.h), which the musl build
// has no headers for; classic BPF's are in classic_bpf.h.
#define AUDIT_ARCH_X86_64 0xc000003eu
struct seccomp_data {
  int nr;
  uint32_t arch;
  uint64_t instruction_pointer;
  uint64_t args[6];
};
#define SECCOMP_MODE_STRICT 1
#define SECCOMP_MODE_FILTER 2
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_FILTER_FLAG_TSYNC (1u << 0)
#define SECCOMP_FILTER_FLAG_LOG (1u << 1)
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1u << 2)
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1u << 3)
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1u << 4)
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1u << 5)
#define SECCOMP_RET_KILL_PROCESS 0x80000000u
#define SECCOMP_RET_KILL_THREAD 0x00000000u
#define SECCOMP_RET_TRAP 0x00030000u
#define SECCOMP_RET_ERRNO 0x00050000u
#define SECCOMP_RET_USER_NOTIF 0x7fc00000u
#define SECCOMP_RET_TRACE 0x7ff00000u
#define SECCOMP_RET_LOG 0x7ffc0000u
#define SECCOMP_RET_ALLOW 0x7fff0000u

static const char* self_path;

static const char* err_name(int e) {
  switch (e) {
    case 0:
      return "0";
    case EPERM:
      return "EPERM";
    case EACCES:
      return "EACCES";
    case EINVAL:
      return "EINVAL";
    case EFAULT:
      return "EFAULT";
    case ENOSYS:
      return "ENOSYS";
    case ESRCH:
      return "ESRCH";
    case E2BIG:
      return "E2BIG";
    case EROFS:
      return "EROFS";
    case ENOMEM:
      return "ENOMEM";
    case 4095:
      return "4095";
  }
  static char buf[32];
  snprintf(buf, sizeof buf, "errno %d", e);
  return buf;
}

static void show(const char* what, long r) {
  if (r < 0)
    printf("%s: -1 %s\n", what, err_name(errno));
  else
    printf("%s: %ld\n", what, r);
  fflush(stdout);
}

// getppid's result: only whether it is a pid.
static void show_getppid(const char* what) {
  errno = 0;
  long r = syscall(SYS_getppid);
  if (r < 0)
    printf("%s getppid: -1 %s\n", what, err_name(errno));
  else
    printf("%s getppid: a pid\n", what);
  fflush(stdout);
}

static void show_status(const char* what, const char* file) {
  FILE* f = fopen(file, "r");
  if (!f) {
    printf("%s: cannot open %s\n", what, file);
    return;
  }
  char line[256];
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "Seccomp", 7) || !strncmp(line, "NoNewPrivs", 10))
      printf("%s %s", what, line);
  fclose(f);
  printf("%s PR_GET_SECCOMP: %d\n", what, prctl(PR_GET_SECCOMP));
  fflush(stdout);
}

struct rule {
  long nr;
  uint32_t ret;
};

// arch == x86_64 or KILL_PROCESS; then one JEQ per rule; else ALLOW.
static long install(unsigned flags, const struct rule* rules, int n) {
  struct sock_filter prog[64];
  int i = 0;
  prog[i++] =
      (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  prog[i++] =
      (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (int r = 0; r < n; r++) {
    prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, rules[r].nr, 0, 1);
    prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, rules[r].ret);
  }
  prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog fprog = {(unsigned short)i, prog};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
}

static long install_one(unsigned flags, long nr, uint32_t ret) {
  struct rule r = {nr, ret};
  return install(flags, &r, 1);
}

static void nnp(void) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) printf("PR_SET_NO_NEW_PRIVS failed\n");
}

static void run_case(const char* name, void (*fn)(void)) {
  printf("== %s\n", name);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    fn();
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  if (WIFSIGNALED(st))
    printf("%s: killed by signal %d (%s)\n", name, WTERMSIG(st), strsignal(WTERMSIG(st)));
  else
    printf("%s: exit %d\n", name, WEXITSTATUS(st));
  fflush(stdout);
}

// ------------------------------------------------------------ cases

static void bad_programs(void) {
  struct sock_filter ok[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  struct sock_fprog p = {0, ok};
  show("len 0", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  nnp();
  static struct sock_filter big[BPF_MAXINSNS + 1];
  for (int i = 0; i <= BPF_MAXINSNS; i++) big[i] = ok[0];
  p = (struct sock_fprog){BPF_MAXINSNS + 1, big};
  show("len 4097", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  struct sock_filter no_ret[] = {BPF_STMT(BPF_LD | BPF_IMM, 0)};
  p = (struct sock_fprog){1, no_ret};
  show("no RET", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  struct sock_filter out[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), BPF_STMT(BPF_RET | BPF_A, 0)};
  p = (struct sock_fprog){2, out};
  show("load at 64", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  struct sock_filter unal[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), BPF_STMT(BPF_RET | BPF_A, 0)};
  p = (struct sock_fprog){2, unal};
  show("unaligned load", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  struct sock_filter half[] = {BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0), BPF_STMT(BPF_RET | BPF_A, 0)};
  p = (struct sock_fprog){2, half};
  show("half-word load", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  struct sock_filter jump[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0),
                               BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  p = (struct sock_fprog){2, jump};
  show("jump past the end", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  struct sock_filter mem[] = {BPF_STMT(BPF_LD | BPF_MEM, 0), BPF_STMT(BPF_RET | BPF_A, 0)};
  p = (struct sock_fprog){2, mem};
  show("scratch read before write", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  struct sock_filter div0[] = {BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0),
                               BPF_STMT(BPF_RET | BPF_A, 0)};
  p = (struct sock_fprog){2, div0};
  show("divide by 0", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  p = (struct sock_fprog){1, ok};
  show("bad flags", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 1u << 20, &p));
  show("TSYNC|NEW_LISTENER",
       syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
               SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_NEW_LISTENER, &p));
  show("WAIT_KILLABLE_RECV alone",
       syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &p));
  show("bad fprog pointer", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (void*)8));
  p = (struct sock_fprog){1, NULL};
  show("NULL filter", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  p = (struct sock_fprog){1, (struct sock_filter*)8};
  show("bad filter pointer", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  show("unknown op", syscall(SYS_seccomp, 99, 0, NULL));
  // A program that runs into an unmapped page.
  char* pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pages != MAP_FAILED) {
    munmap(pages + 4096, 4096);
    struct sock_filter* edge = (struct sock_filter*)(pages + 4096 - sizeof ok);
    edge[0] = ok[0];
    p = (struct sock_fprog){2, edge};
    show("filter across an unmapped page", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
    p = (struct sock_fprog){1, edge};
    show("the same, one instruction", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
    show_status("after a one-instruction filter", "/proc/self/status");
  }
  show_status("after refusals", "/proc/self/status");
}

static void errno_action(void) {
  nnp();
  struct rule rules[] = {
      {SYS_getppid, SECCOMP_RET_ERRNO | EPERM},
      {SYS_getpid, SECCOMP_RET_ERRNO | E2BIG},
      {SYS_uname, SECCOMP_RET_ERRNO | 0xffff},  // capped at MAX_ERRNO
      {SYS_getuid, SECCOMP_RET_ERRNO | 0},      // skipped, returns 0
  };
  show("install", install(0, rules, 4));
  show_getppid("filtered");
  errno = 0;
  show("getpid", syscall(SYS_getpid));
  struct utsname u;
  show("uname", syscall(SYS_uname, &u));
  show("getuid", syscall(SYS_getuid));
  show("getgid is a number", syscall(SYS_getgid) >= 0);
  show_status("filtered", "/proc/self/status");
  show("PR_SET_SECCOMP strict now", prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT));
}

static void errno_by_argument(void) {
  nnp();
  int p[2];
  if (pipe(p)) return;
  // write to the pipe's write end is EROFS; other writes pass.
  struct sock_filter prog[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)p[1], 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EROFS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog fp = {6, prog};
  show("install by prctl", prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp));
  for (int i = 0; i < 3; i++) show("write to the pipe", write(p[1], "x", 1));
  show("write to stdout", write(1, "", 0));
}

static void on_sigsys(int sig, siginfo_t* si, void* uc_) {
  ucontext_t* uc = uc_;
  printf("handler: signo %d (%s) code %d errno %d syscall %d arch 0x%x\n", sig, strsignal(sig),
         si->si_code, si->si_errno, si->si_syscall, si->si_arch);
  printf("handler: call_addr is the RIP: %d, RAX is the number: %d\n",
         (uint64_t)si->si_call_addr == (uint64_t)uc->uc_mcontext.gregs[REG_RIP],
         uc->uc_mcontext.gregs[REG_RAX] == si->si_syscall);
  fflush(stdout);
}

static void trap_action(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &sa, NULL);
  nnp();
  show("install", install_one(0, SYS_uname, SECCOMP_RET_TRAP | 0x42));
  struct utsname u;
  show("uname returns", syscall(SYS_uname, &u));
  show_getppid("not filtered");
}

static void trap_blocked(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGSYS);
  sigprocmask(SIG_BLOCK, &set, NULL);
  nnp();
  show("install", install_one(0, SYS_uname, SECCOMP_RET_TRAP));
  struct utsname u;
  show("uname returns", syscall(SYS_uname, &u));
}

static void kill_process(void) {
  nnp();
  show("install", install_one(0, SYS_getppid, SECCOMP_RET_KILL_PROCESS));
  show_getppid("killed");
  printf("not reached\n");
}

static void kill_thread_alone(void) {
  nnp();
  show("install", install_one(0, SYS_getppid, SECCOMP_RET_KILL_THREAD));
  show_getppid("killed");
  printf("not reached\n");
}

static void unknown_action(void) {
  nnp();
  show("install", install_one(0, SYS_getppid, 0x00010000));
  show_getppid("killed");
  printf("not reached\n");
}

static volatile pid_t killed_tid;

static void* call_getppid(void* arg) {
  killed_tid = (pid_t)syscall(SYS_gettid);
  show_getppid((const char*)arg);
  return NULL;
}

// Not pthread_join: musl's join never returns for a thread that died this
// way (natively too).
static void kill_thread_of_two(void) {
  nnp();
  show("install", install_one(0, SYS_getppid, SECCOMP_RET_KILL_THREAD));
  pthread_t t;
  pthread_create(&t, NULL, call_getppid, "thread");
  int gone = 0;
  for (int i = 0; i < 5000 && !gone; i++) {
    pid_t tid = killed_tid;
    if (tid && syscall(SYS_tgkill, getpid(), tid, 0) != 0 && errno == ESRCH) gone = 1;
    if (!gone) usleep(1000);
  }
  printf("the thread is gone: %d; the main thread goes on\n", gone);
}

static void trace_notif_log(void) {
  nnp();
  struct rule rules[] = {
      {SYS_getppid, SECCOMP_RET_TRACE},
      {SYS_uname, SECCOMP_RET_USER_NOTIF},
      {SYS_getpid, SECCOMP_RET_LOG},
  };
  show("install", install(0, rules, 3));
  show_getppid("TRACE");
  struct utsname u;
  show("USER_NOTIF uname", syscall(SYS_uname, &u));
  show("LOG getpid is a pid", syscall(SYS_getpid) > 0);
}

static void stacking(void) {
  nnp();
  struct rule first[] = {{SYS_uname, SECCOMP_RET_ERRNO | EPERM}, {SYS_getppid, SECCOMP_RET_LOG}};
  struct rule second[] = {{SYS_getppid, SECCOMP_RET_ERRNO | EACCES},
                          {SYS_getpid, SECCOMP_RET_TRACE}};
  struct rule third[] = {{SYS_uname, SECCOMP_RET_ERRNO | E2BIG},
                         {SYS_getpid, SECCOMP_RET_ERRNO | EROFS}};
  show("first", install(0, first, 2));
  show("second", install(SECCOMP_FILTER_FLAG_LOG, second, 2));
  show("third", install(SECCOMP_FILTER_FLAG_SPEC_ALLOW, third, 2));
  struct utsname u;
  show("uname (EPERM and E2BIG: the newest)", syscall(SYS_uname, &u));
  show_getppid("LOG and EACCES");
  show("getpid (TRACE and EROFS)", syscall(SYS_getpid));
  show_status("three filters", "/proc/self/status");
  show("fourth", install_one(0, SYS_getppid, SECCOMP_RET_TRAP));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &sa, NULL);
  show_getppid("TRAP beats EACCES");
  show("fifth", install_one(0, SYS_getppid, SECCOMP_RET_KILL_THREAD));
  show_getppid("KILL_THREAD beats TRAP");
}

static void fork_inherits(void) {
  nnp();
  show("install", install_one(0, SYS_getppid, SECCOMP_RET_ERRNO | EPERM));
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    show_getppid("forked child");
    show_status("forked child", "/proc/self/status");
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("forked child status %d\n", st);
}

static void exec_keeps(void) {
  nnp();
  show("install", install_one(0, SYS_getppid, SECCOMP_RET_ERRNO | EPERM));
  show("second install", install_one(0, SYS_uname, SECCOMP_RET_ERRNO | EACCES));
  fflush(stdout);
  execl(self_path, self_path, "exec-child", (char*)NULL);
  show("execl", -1);
}

static int exec_go[2];

static void* exec_from_thread(void* arg) {
  (void)arg;
  char c;
  if (read(exec_go[0], &c, 1) != 1) return NULL;
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  show("thread install", install_one(0, SYS_uname, SECCOMP_RET_ERRNO | EACCES));
  fflush(stdout);
  execl(self_path, self_path, "exec-child", (char*)NULL);
  show("execl", -1);
  return NULL;
}

// The exec'ing thread's filters go with the new program (which runs as the
// leader), not the leader's own.
static void exec_keeps_thread(void) {
  if (pipe(exec_go)) return;
  pthread_t t;
  pthread_create(&t, NULL, exec_from_thread, NULL);
  nnp();
  show("leader install", install_one(0, SYS_getppid, SECCOMP_RET_ERRNO | EPERM));
  if (write(exec_go[1], "g", 1) != 1) return;
  pthread_join(t, NULL);
}

static void exec_child(void) {
  show_getppid("after execve");
  struct utsname u;
  show("after execve uname", syscall(SYS_uname, &u));
  show_status("after execve", "/proc/self/status");
}

static int sync_pipe[2], done_pipe[2];

static void* tsync_thread(void* arg) {
  (void)arg;
  char c;
  printf("thread NoNewPrivs before: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  show_getppid("thread before");
  // Calls elfuse may serve without an exit (its exitless worker): many, so
  // that one is serving this thread when the filter comes.
  struct utsname u;
  long ok = 0;
  for (int i = 0; i < 2000; i++) ok += syscall(SYS_uname, &u) == 0;
  printf("thread uname before: %ld of 2000\n", ok);
  fflush(stdout);
  if (write(sync_pipe[1], "r", 1) != 1) return NULL;
  if (read(done_pipe[0], &c, 1) != 1) return NULL;
  printf("thread NoNewPrivs after: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  show_getppid("thread after TSYNC");
  for (int i = 0; i < 3; i++) show("thread uname after TSYNC", syscall(SYS_uname, &u));
  show_status("thread", "/proc/thread-self/status");
  return NULL;
}

static void tsync(void) {
  if (pipe(sync_pipe) || pipe(done_pipe)) return;
  pthread_t t;
  pthread_create(&t, NULL, tsync_thread, NULL);
  char c;
  if (read(sync_pipe[0], &c, 1) != 1) return;
  nnp();
  show("install without TSYNC", install_one(0, SYS_uname, SECCOMP_RET_ERRNO | EACCES));
  show("install with TSYNC",
       install_one(SECCOMP_FILTER_FLAG_TSYNC, SYS_getppid, SECCOMP_RET_ERRNO | EPERM));
  if (write(done_pipe[1], "d", 1) != 1) return;
  pthread_join(t, NULL);
  show_getppid("main");
}

static pid_t other_tid;

static void* own_filter_thread(void* arg) {
  (void)arg;
  char c;
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  other_tid = (pid_t)syscall(SYS_gettid);
  show("thread install", install_one(0, SYS_uname, SECCOMP_RET_ERRNO | EACCES));
  if (write(sync_pipe[1], "r", 1) != 1) return NULL;
  if (read(done_pipe[0], &c, 1) != 1) return NULL;
  show_getppid("thread after the failed TSYNC");
  return NULL;
}

static void tsync_fails(void) {
  if (pipe(sync_pipe) || pipe(done_pipe)) return;
  pthread_t t;
  pthread_create(&t, NULL, own_filter_thread, NULL);
  char c;
  if (read(sync_pipe[0], &c, 1) != 1) return;
  nnp();
  long r = install_one(SECCOMP_FILTER_FLAG_TSYNC, SYS_getppid, SECCOMP_RET_ERRNO | EPERM);
  printf("TSYNC returns the other thread's tid: %d\n", r == other_tid);
  show("TSYNC|TSYNC_ESRCH", install_one(SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
                                        SYS_getppid, SECCOMP_RET_ERRNO | EPERM));
  show_getppid("main");
  if (write(done_pipe[1], "d", 1) != 1) return;
  pthread_join(t, NULL);
}

// MAX_INSNS_PER_PATH: 32768 instructions, each filter counting 4 more.
static void path_limit(void) {
  nnp();
  static struct sock_filter big[BPF_MAXINSNS];
  for (int i = 0; i < BPF_MAXINSNS; i++)
    big[i] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog p = {BPF_MAXINSNS, big};
  int n = 0;
  long r;
  while ((r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p)) == 0 && n < 20) n++;
  printf("filters of 4096 installed: %d, then ", n);
  show("the next", r);
  // The kernel counts its eBPF translation (3 + 2 per RET K): after three,
  // 4084 more RETs fit and 4085 do not.
  p.len = 4085;
  show("4085 more", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  p.len = 4084;
  show("4084 more", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p));
  show_status("path limit", "/proc/self/status");
}

static void privileges(void) {
  // Without no_new_privs a filter needs CAP_SYS_ADMIN: whatever this
  // process has (root usually), then none after becoming nobody.
  show("install with the caller's capabilities", install_one(0, SYS_uname, SECCOMP_RET_ALLOW));
  if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) {
    // Not root: the install above was EACCES already.
  }
  show("install as nobody", install_one(0, SYS_uname, SECCOMP_RET_ALLOW));
  nnp();
  show("install as nobody with no_new_privs", install_one(0, SYS_uname, SECCOMP_RET_ALLOW));
}

int main(int argc, char** argv) {
  self_path = "/proc/self/exe";
  if (argc > 1 && !strcmp(argv[1], "exec-child")) {
    exec_child();
    return 0;
  }
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  show_status("start", "/proc/self/status");
  run_case("bad programs", bad_programs);
  run_case("ERRNO", errno_action);
  run_case("ERRNO by argument", errno_by_argument);
  run_case("TRAP", trap_action);
  run_case("TRAP with SIGSYS blocked", trap_blocked);
  run_case("KILL_PROCESS", kill_process);
  run_case("KILL_THREAD, one thread", kill_thread_alone);
  run_case("unknown action", unknown_action);
  run_case("KILL_THREAD, two threads", kill_thread_of_two);
  run_case("TRACE, USER_NOTIF, LOG", trace_notif_log);
  run_case("stacking", stacking);
  run_case("fork", fork_inherits);
  run_case("execve", exec_keeps);
  run_case("execve from a thread", exec_keeps_thread);
  run_case("TSYNC", tsync);
  run_case("TSYNC refused", tsync_fails);
  run_case("path limit", path_limit);
  run_case("privileges", privileges);
  show_status("end", "/proc/self/status");
  return 0;
}
