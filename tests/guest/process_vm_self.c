// process_vm_readv/writev (mm/process_vm_access.c) on the caller's own
// process, as gVisor's process_vm_read_write.cc runs them: the argument
// checks in the kernel's order (flags, the local then the remote iovecs,
// then the task), transfers across several iovecs on both sides, a thread's
// tid as the target, partial transfers that stop at the first inaccessible
// byte, EFAULT when nothing moved, ESRCH for no such task or a zombie.
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

static long pvm(int write, pid_t pid, const struct iovec* l, unsigned long ln,
                const struct iovec* r, unsigned long rn, unsigned long flags) {
  return syscall(write ? SYS_process_vm_writev : SYS_process_vm_readv, pid, l, ln, r, rn, flags);
}

// Local and remote iovec layouts of gVisor's parameterized cases.
static void transfer(const char* title, const char** ldata, int ln, const char** rdata, int rn) {
  static char lbuf[8][64], rbuf[8][64];
  struct iovec l[8], r[8];
  for (int write = 0; write < 2; write++) {
    size_t lt = 0, rt = 0;
    for (int i = 0; i < ln; i++) {
      strcpy(lbuf[i], ldata[i]);
      l[i] = (struct iovec){lbuf[i], strlen(ldata[i])};
      lt += l[i].iov_len;
    }
    for (int i = 0; i < rn; i++) {
      strcpy(rbuf[i], rdata[i]);
      r[i] = (struct iovec){rbuf[i], strlen(rdata[i])};
      rt += r[i].iov_len;
    }
    errno = 0;
    long n = pvm(write, getpid(), l, ln, r, rn, 0);
    printf("%s %s: %ld %s (local %zu, remote %zu)\n", title, write ? "writev" : "readv", n,
           n < 0 ? errname(errno) : "", lt, rt);
    printf("  local:");
    for (int i = 0; i < ln; i++) printf(" [%.*s]", (int)l[i].iov_len, lbuf[i]);
    printf("\n  remote:");
    for (int i = 0; i < rn; i++) printf(" [%.*s]", (int)r[i].iov_len, rbuf[i]);
    printf("\n");
  }
}

static volatile int thread_tid, thread_stop;
static void* sibling(void* arg) {
  (void)arg;
  thread_tid = (int)syscall(SYS_gettid);
  while (!thread_stop) usleep(1000);
  return NULL;
}

int main(void) {
  {
    const char* l[] = {""};
    const char* r[] = {""};
    transfer("BothEmpty", l, 1, r, 1);
  }
  {
    const char* l[] = {"l"};
    const char* r[] = {"r"};
    transfer("SingleChar", l, 1, r, 1);
  }
  {
    const char* l[] = {"OK, I'll try"};
    const char* r[] = {"No!", "Try not", "Do...or do not", "There is no try."};
    transfer("LargerRemoteBuffer", l, 1, r, 4);
  }
  {
    const char* l[] = {"Look!", "The cave is collapsing!"};
    const char* r[] = {"This is no cave."};
    transfer("LargerLocalBuffer", l, 2, r, 1);
  }

  // A large transfer (the 32 MiB case), checked by content.
  {
    size_t len = 32 << 20;
    char* a = malloc(len);
    char* b = malloc(len);
    for (size_t i = 0; i < len; i++) a[i] = (char)(i * 7 + 3), b[i] = 0;
    struct iovec l = {b, len}, r = {a, len};
    long n = pvm(0, getpid(), &l, 1, &r, 1, 0);
    printf("32 MiB readv: %ld, equal %s\n", n, memcmp(a, b, len) == 0 ? "yes" : "no");
    free(a);
    free(b);
  }

  // A sibling thread's tid names this process.
  {
    pthread_t t;
    pthread_create(&t, NULL, sibling, NULL);
    while (!thread_tid) usleep(1000);
    char src[] = "from the thread", dst[32] = {0};
    struct iovec l = {dst, sizeof src}, r = {src, sizeof src};
    long n = pvm(0, thread_tid, &l, 1, &r, 1, 0);
    printf("thread tid: %ld [%s]\n", n, dst);
    thread_stop = 1;
    pthread_join(t, NULL);
  }

  // Argument checks, in order.
  struct iovec iov = {0};
  char c[8] = "3263827";
  struct iovec ok = {c, 7};
  SHOW(pvm(0, 0, &iov, 1, &iov, 1, 10));
  SHOW(pvm(1, 0, &iov, 1, &iov, 1, 10));
  SHOW(pvm(0, getpid(), NULL, 1, &ok, 1, 0));
  SHOW(pvm(1, getpid(), NULL, 1, &ok, 1, 0));
  SHOW(pvm(0, getpid(), &ok, 1, NULL, 1, 0));
  SHOW(pvm(1, getpid(), &ok, 1, NULL, 1, 0));
  SHOW(pvm(0, getpid(), &ok, IOV_MAX + 1, &ok, 1, 0));
  SHOW(pvm(0, getpid(), &ok, 1, &ok, IOV_MAX + 1, 0));
  SHOW(pvm(1, getpid(), &ok, 1, &ok, IOV_MAX + 1, 0));
  struct iovec neg = {c, (size_t)-1};
  SHOW(pvm(0, getpid(), &neg, 1, &ok, 1, 0));
  SHOW(pvm(0, getpid(), &ok, 1, &neg, 1, 0));
  // Nothing asked: 0 before the task is looked up.
  SHOW(pvm(0, getpid(), NULL, 0, &ok, 1, 0));
  SHOW(pvm(0, getpid(), &ok, 1, NULL, 0, 0));
  SHOW(pvm(0, -1, &iov, 1, &ok, 1, 0));
  SHOW(pvm(0, -1, &ok, 1, &iov, 1, 0));
  SHOW(pvm(0, -1, &ok, 1, &ok, 1, 0));
  SHOW(pvm(1, -1, &ok, 1, &ok, 1, 0));
  SHOW(pvm(0, 0, &ok, 1, &ok, 1, 0));

  // Partial transfers: the second remote (or local) iovec is bad.
  {
    char c1[] = "1138", c2[] = "3720", k1[] = "xxxx";
    struct iovec good[2] = {{c1, 4}, {c2, 4}};
    struct iovec bad[2] = {{k1, 4}, {(void*)0xDEADBEEF, 42}};
    SHOW(pvm(1, getpid(), good, 2, bad, 2, 0));
    printf("  [%s]\n", k1);
    SHOW(pvm(0, getpid(), bad, 2, good, 2, 0));
    SHOW(pvm(1, getpid(), bad, 2, good, 2, 0));
    SHOW(pvm(0, getpid(), good, 2, bad, 2, 0));
  }
  // PROT_NONE and read-only remote or local memory.
  {
    char* none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char* ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char buf[128];
    struct iovec vnone = {none, 4096}, vro = {ro, 128}, valid = {buf, sizeof buf};
    SHOW(pvm(1, getpid(), &vnone, 1, &valid, 1, 0));
    SHOW(pvm(1, getpid(), &valid, 1, &vnone, 1, 0));
    SHOW(pvm(1, getpid(), &valid, 1, &vro, 1, 0));
    SHOW(pvm(0, getpid(), &valid, 1, &vro, 1, 0));
    SHOW(pvm(0, getpid(), &vro, 1, &valid, 1, 0));
    // Remote: a readable page, then an unmapped one: the first page moves.
    char* two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + 4096, 4096);
    static char big[8192];
    struct iovec vtwo = {two + 4000, 1000}, vbig = {big, sizeof big};
    SHOW(pvm(0, getpid(), &vbig, 1, &vtwo, 1, 0));
    SHOW(pvm(1, getpid(), &vbig, 1, &vtwo, 1, 0));
    struct iovec ltwo = {two + 4000, 1000};
    SHOW(pvm(0, getpid(), &ltwo, 1, &vbig, 1, 0));
  }
  // A zombie has no memory: ESRCH.
  {
    pid_t child = fork();
    if (child == 0) _exit(0);
    siginfo_t si;
    waitid(P_PID, child, &si, WEXITED | WNOWAIT);
    SHOW(pvm(1, child, &ok, 1, &ok, 1, 0));
    waitpid(child, NULL, 0);
    SHOW(pvm(1, child, &ok, 1, &ok, 1, 0));
  }
  return 0;
}
