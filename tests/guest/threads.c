// Guest threads: pthread_create/join (clone3 with glibc 2.36, clone with
// musl), mutexes and condition variables, TLS, many threads, pthread_exit,
// detached threads, tids, per-thread signals, robust mutexes, exit_group
// from a thread while others block or spin, the leader's pthread_exit, fork
// and execve from a multi-threaded process, a futex ping-pong.
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// linux/futex.h (musl-gcc has no kernel headers).
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129

static pid_t tid(void) {
  return (pid_t)syscall(SYS_gettid);
}

static void fail(const char* what) {
  printf("FAIL: %s (%s)\n", what, strerror(errno));
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// ------------------------------------------------------------ sums

struct sum_arg {
  long from, to, result;
  pid_t tid;
};

static void* sum_thread(void* p) {
  struct sum_arg* a = p;
  long s = 0;
  for (long i = a->from; i < a->to; i++) s += i * i % 1000;
  a->result = s;
  a->tid = tid();
  return p;
}

static void test_sums(void) {
  pthread_t th[8];
  struct sum_arg args[8];
  for (int i = 0; i < 8; i++) {
    args[i] = (struct sum_arg){i * 100000L, (i + 1) * 100000L, 0, 0};
    if (pthread_create(&th[i], NULL, sum_thread, &args[i])) fail("pthread_create");
  }
  long total = 0;
  int distinct = 1;
  for (int i = 0; i < 8; i++) {
    void* ret;
    pthread_join(th[i], &ret);
    if (ret != &args[i]) printf("join returned the wrong value\n");
    printf("sum %d: %ld\n", i, args[i].result);
    total += args[i].result;
    if (args[i].tid == getpid() || args[i].tid <= 0) distinct = 0;
    for (int j = 0; j < i; j++)
      if (args[j].tid == args[i].tid) distinct = 0;
  }
  printf("total %ld\n", total);
  printf("tids distinct and not the pid: %s\n", distinct ? "yes" : "no");
  printf("main tid == pid: %s\n", tid() == getpid() ? "yes" : "no");
}

// ------------------------------------------------------------ ping-pong

static pthread_mutex_t pp_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cv = PTHREAD_COND_INITIALIZER;
static int pp_turn, pp_count;

static void* pong(void* p) {
  for (int i = 0; i < 2000; i++) {
    pthread_mutex_lock(&pp_mu);
    while (pp_turn != 1) pthread_cond_wait(&pp_cv, &pp_mu);
    pp_count++;
    pp_turn = 0;
    pthread_cond_signal(&pp_cv);
    pthread_mutex_unlock(&pp_mu);
  }
  return NULL;
}

static void test_ping_pong(void) {
  pthread_t th;
  pthread_create(&th, NULL, pong, NULL);
  for (int i = 0; i < 2000; i++) {
    pthread_mutex_lock(&pp_mu);
    while (pp_turn != 0) pthread_cond_wait(&pp_cv, &pp_mu);
    pp_count++;
    pp_turn = 1;
    pthread_cond_signal(&pp_cv);
    pthread_mutex_unlock(&pp_mu);
  }
  pthread_join(th, NULL);
  printf("ping-pong count %d\n", pp_count);
}

// ------------------------------------------------------------ TLS

static __thread int tls_value = 5;
static __thread char tls_buf[64];

static void* tls_thread(void* p) {
  int n = (int)(intptr_t)p;
  int initial = tls_value;
  tls_value = n * 7;
  snprintf(tls_buf, sizeof tls_buf, "thread %d", n);
  for (int i = 0; i < 1000; i++) sched_yield();
  int ok = tls_value == n * 7 && strcmp(tls_buf, "thread ") > 0;
  char expect[64];
  snprintf(expect, sizeof expect, "thread %d", n);
  ok = ok && strcmp(tls_buf, expect) == 0 && initial == 5;
  return (void*)(intptr_t)ok;
}

static void test_tls(void) {
  pthread_t th[6];
  tls_value = 99;
  for (int i = 0; i < 6; i++) pthread_create(&th[i], NULL, tls_thread, (void*)(intptr_t)(i + 1));
  int all = 1;
  for (int i = 0; i < 6; i++) {
    void* r;
    pthread_join(th[i], &r);
    all = all && r == (void*)1;
  }
  printf("tls per thread: %s, main's value %d\n", all ? "yes" : "no", tls_value);
}

// ------------------------------------------------------------ many threads

enum { kMany = 512 };
static pthread_barrier_t many_barrier;
static atomic_int many_sum;

static void* many_thread(void* p) {
  atomic_fetch_add(&many_sum, (int)(intptr_t)p);
  pthread_barrier_wait(&many_barrier);  // all alive at the same time
  return p;
}

static void test_many(void) {
  static pthread_t th[kMany];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_barrier_init(&many_barrier, NULL, kMany + 1);
  int created = 0;
  for (int i = 0; i < kMany; i++) {
    int e = pthread_create(&th[i], &attr, many_thread, (void*)(intptr_t)i);
    if (e) {
      printf("pthread_create %d: %s\n", i, strerror(e));
      break;
    }
    created++;
  }
  if (created == kMany) pthread_barrier_wait(&many_barrier);
  long joined = 0;
  for (int i = 0; i < created; i++) {
    void* r;
    pthread_join(th[i], &r);
    joined += (intptr_t)r;
  }
  printf("%d threads alive at once: sum %d, joined %ld\n", created, atomic_load(&many_sum), joined);
  // Once more: ended threads leave room for new ones.
  for (int round = 0; round < 3; round++) {
    static struct sum_arg args[64];
    for (int i = 0; i < 64; i++) {
      args[i] = (struct sum_arg){0, 10, 0, 0};
      if (pthread_create(&th[i], &attr, sum_thread, &args[i])) fail("pthread_create again");
    }
    for (int i = 0; i < 64; i++) pthread_join(th[i], NULL);
  }
  printf("3 x 64 more threads: ok\n");
}

// ------------------------------------------------------------ exit values, detached

static void* exit_value_thread(void* p) {
  pthread_exit((void*)42);
  return NULL;
}

static sem_t detached_sem;
static atomic_int detached_count;

static void* detached_thread(void* p) {
  atomic_fetch_add(&detached_count, 1);
  sem_post(&detached_sem);
  return NULL;
}

static void test_exit_detached(void) {
  pthread_t th;
  void* r;
  pthread_create(&th, NULL, exit_value_thread, NULL);
  pthread_join(th, &r);
  printf("pthread_exit value %ld\n", (long)(intptr_t)r);
  sem_init(&detached_sem, 0, 0);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (int i = 0; i < 4; i++) pthread_create(&th, &attr, detached_thread, NULL);
  for (int i = 0; i < 4; i++) sem_wait(&detached_sem);
  printf("detached threads ran: %d\n", atomic_load(&detached_count));
}

// ------------------------------------------------------------ signals

static atomic_int handled_by;
static void on_usr(int sig) {
  atomic_store(&handled_by, tid());
}

static sigjmp_buf segv_jmp;
static atomic_int segv_tid;
static void on_segv(int sig, siginfo_t* si, void* uc) {
  atomic_store(&segv_tid, tid());
  siglongjmp(segv_jmp, 1);
}

static atomic_int target_tid, target_stop;
static void* signal_target(void* p) {
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, NULL);
  atomic_store(&target_tid, tid());
  while (!atomic_load(&target_stop)) usleep(1000);
  return NULL;
}

static void* faulting_thread(void* p) {
  if (sigsetjmp(segv_jmp, 1) == 0) *(volatile int*)16 = 1;
  return (void*)(intptr_t)tid();
}

static void test_signals(void) {
  signal(SIGUSR1, on_usr);
  signal(SIGUSR2, on_usr);
  pthread_t th;
  pthread_create(&th, NULL, signal_target, NULL);
  while (!atomic_load(&target_tid)) usleep(100);
  // tgkill to one thread: its handler runs on that thread.
  atomic_store(&handled_by, 0);
  syscall(SYS_tgkill, getpid(), atomic_load(&target_tid), SIGUSR1);
  for (int i = 0; i < 2000 && !atomic_load(&handled_by); i++) usleep(1000);
  printf("tgkill reached the target thread: %s\n",
         atomic_load(&handled_by) == atomic_load(&target_tid) ? "yes" : "no");
  // The mask is per thread: blocked here, the process signal goes there.
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &usr2, NULL);
  atomic_store(&handled_by, 0);
  kill(getpid(), SIGUSR2);
  for (int i = 0; i < 2000 && !atomic_load(&handled_by); i++) usleep(1000);
  printf("kill went to the thread that does not block it: %s\n",
         atomic_load(&handled_by) == atomic_load(&target_tid) ? "yes" : "no");
  pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
  atomic_store(&target_stop, 1);
  pthread_join(th, NULL);
  // A fault is delivered to the thread that faulted.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  void* r;
  pthread_create(&th, NULL, faulting_thread, NULL);
  pthread_join(th, &r);
  printf("SIGSEGV handled on the faulting thread: %s\n",
         atomic_load(&segv_tid) == (int)(intptr_t)r ? "yes" : "no");
  signal(SIGSEGV, SIG_DFL);
}

// ------------------------------------------------------------ robust mutex

static pthread_mutex_t robust;
static void* robust_owner(void* p) {
  pthread_mutex_lock(&robust);
  return NULL;  // ends holding it
}

static void test_robust(void) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&robust, &a);
  pthread_t th;
  pthread_create(&th, NULL, robust_owner, NULL);
  pthread_join(th, NULL);
  int e = pthread_mutex_lock(&robust);
  printf("lock after the owner died: %s\n", e == EOWNERDEAD ? "EOWNERDEAD" : strerror(e));
  if (e == EOWNERDEAD) pthread_mutex_consistent(&robust);
  pthread_mutex_unlock(&robust);
  printf("lock again: %d\n", pthread_mutex_lock(&robust));
  pthread_mutex_unlock(&robust);
}

// ------------------------------------------------------------ futex ping-pong

static _Atomic uint32_t fword;

static long futex(_Atomic uint32_t* w, int op, uint32_t val) {
  return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static void* futex_pong(void* p) {
  for (int i = 0; i < 5000; i++) {
    while (atomic_load(&fword) != 1) futex(&fword, FUTEX_WAIT_PRIVATE, 0);
    atomic_store(&fword, 0);
    futex(&fword, FUTEX_WAKE_PRIVATE, 1);
  }
  return NULL;
}

static void test_futex(void) {
  pthread_t th;
  pthread_create(&th, NULL, futex_pong, NULL);
  double t0 = now();
  for (int i = 0; i < 5000; i++) {
    while (atomic_load(&fword) != 0) futex(&fword, FUTEX_WAIT_PRIVATE, 1);
    atomic_store(&fword, 1);
    futex(&fword, FUTEX_WAKE_PRIVATE, 1);
  }
  while (atomic_load(&fword) != 0) futex(&fword, FUTEX_WAIT_PRIVATE, 1);
  pthread_join(th, NULL);
  fprintf(stderr, "%s", "");
  if (getenv("THREADS_TIMING")) printf("futex round trip %.1f us\n", (now() - t0) / 5000 * 1e6);
  printf("futex ping-pong: 5000 rounds\n");
}

// ------------------------------------------------------------ process ends

static int pipe_fds[2];

static void* blocked_reader(void* p) {
  char c;
  read(pipe_fds[0], &c, 1);  // never returns: nothing is written
  return NULL;
}

static void* spinner(void* p) {
  for (volatile unsigned long i = 0;; i++) {
  }
  return NULL;
}

static void* group_exiter(void* p) {
  usleep(20000);
  syscall(SYS_exit_group, 7);
  return NULL;
}

static void* late_exiter(void* p) {
  usleep(50000);
  printf("the other thread goes on after the main thread's pthread_exit\n");
  fflush(stdout);
  exit(3);
}

static void* late_raw_exit(void* p) {
  usleep(50000);
  syscall(SYS_exit, 5);
  return NULL;
}

static void child_status(const char* what, pid_t pid) {
  int st;
  double t0 = now();
  waitpid(pid, &st, 0);
  double dt = now() - t0;
  if (WIFEXITED(st))
    printf("%s: exit %d%s\n", what, WEXITSTATUS(st), dt < 5 ? "" : " (slow)");
  else
    printf("%s: signal %d\n", what, WTERMSIG(st));
}

static void test_process_end(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    pipe(pipe_fds);
    pthread_t th;
    pthread_create(&th, NULL, blocked_reader, NULL);
    pthread_create(&th, NULL, blocked_reader, NULL);
    pthread_create(&th, NULL, spinner, NULL);
    pthread_create(&th, NULL, group_exiter, NULL);
    for (;;) pause();
  }
  child_status("exit_group from a thread, others blocked and spinning", pid);

  pid = fork();
  if (pid == 0) {
    pthread_t th;
    pthread_create(&th, NULL, late_exiter, NULL);
    pthread_exit(NULL);
  }
  child_status("main thread's pthread_exit, then exit(3) from another", pid);

  pid = fork();
  if (pid == 0) {
    // Raw exit(2) of every thread: the status is the leader's (kernel/exit.c
    // wait_task_zombie reads the group leader's exit code).
    pthread_t th;
    pthread_create(&th, NULL, late_raw_exit, NULL);
    syscall(SYS_exit, 9);
  }
  child_status("raw exit(9) of the leader, then raw exit(5) of the last thread", pid);
}

// ------------------------------------------------------------ fork, exec

static pthread_mutex_t busy_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int busy_stop;

static void* busy(void* p) {
  while (!atomic_load(&busy_stop)) {
    pthread_mutex_lock(&busy_mu);
    void* m = malloc(1000);
    free(m);
    pthread_mutex_unlock(&busy_mu);
  }
  return NULL;
}

static void* forked_child_thread(void* p) {
  return (void*)(intptr_t)(tid() != getpid());
}

static void* exec_thread(void* p) {
  char* argv[] = {"/proc/self/exe", "exec-child", NULL};
  execv("/proc/self/exe", argv);
  return NULL;
}

static void test_fork_exec(void) {
  pthread_t th[3];
  for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, busy, NULL);
  fflush(stdout);
  for (int round = 0; round < 5; round++) {
    pid_t pid = fork();
    if (pid == 0) {
      // Only this thread exists here; the runtime must not hang on a lock
      // another thread held at the fork.
      void* m = malloc(100);
      free(m);
      pthread_t t;
      void* r = NULL;
      if (pthread_create(&t, NULL, forked_child_thread, NULL) == 0) pthread_join(t, &r);
      _exit(r == (void*)1 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("fork round %d: status %x\n", round, st);
  }
  printf("fork from a multi-threaded process: ok\n");
  atomic_store(&busy_stop, 1);
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);

  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    pthread_t t;
    pthread_create(&t, NULL, exec_thread, NULL);
    pthread_create(&t, NULL, spinner, NULL);
    for (;;) pause();
  }
  child_status("execve from a thread", pid);
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
    printf("after execve from a thread: tid == pid: %s\n", tid() == getpid() ? "yes" : "no");
    return 4;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  test_sums();
  test_ping_pong();
  test_tls();
  test_exit_detached();
  test_many();
  test_signals();
  test_robust();
  test_futex();
  test_process_end();
  test_fork_exec();
  return 0;
}
