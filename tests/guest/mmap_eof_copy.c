// The kernel's own copies to and from a file mapping whose pages lie past
// the end of the file: copy_to_user/copy_from_user fail with EFAULT where a
// load or store of the program would be SIGBUS, for MAP_SHARED and
// MAP_PRIVATE, a structure straddling EOF's page boundary, a path, with
// every signal blocked, in a thread, and with a SIGSEGV pending meanwhile.
// A robust futex word past EOF ends the exit walk quietly; one before EOF
// gets FUTEX_OWNER_DIED.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "own_dir.h"

#define PAGE 4096

static char* shared_map;   // 3 pages of a file of PAGE + 100 bytes, MAP_SHARED
static char* private_map;  // the same, MAP_PRIVATE

static void copies(const char* who, char* m) {
  char* past = m + 2 * PAGE;  // wholly past EOF
  printf("%s:\n", who);
  // Stores by the kernel (copy_to_user).
  SHOW(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, past));
  SHOW(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, past - 8));   // straddles
  SHOW(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, past - 16));  // just fits
  SHOW(syscall(SYS_fstat, 0, past));
  SHOW(syscall(SYS_uname, past));
  SHOW(syscall(SYS_pipe2, past, O_CLOEXEC));
  SHOW(syscall(SYS_getrandom, past, 16, 0));
  uint64_t mask;
  SHOW(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, past, 8));
  // Loads by the kernel (copy_from_user, strncpy_from_user).
  SHOW(syscall(SYS_nanosleep, past, NULL));
  SHOW(syscall(SYS_rt_sigprocmask, SIG_BLOCK, past, &mask, 8));
  SHOW(syscall(SYS_openat, AT_FDCWD, past, O_RDONLY));
  SHOW(syscall(SYS_write, 1, past, 10));
  // The bytes before EOF's page end are there (zero past EOF in its page).
  struct timespec ts = {0, 1};
  memcpy(past - PAGE, &ts, sizeof ts);
  SHOW(syscall(SYS_nanosleep, past - PAGE, NULL));
  char path[] = "eof.dat";
  memcpy(m + PAGE - 3, path, sizeof path);  // straddles EOF, in the file's last page
  int fd = (int)syscall(SYS_openat, AT_FDCWD, m + PAGE - 3, O_RDONLY);
  printf("open of a path across EOF: %s\n", fd >= 0 ? "opened" : errname(errno));
  if (fd >= 0) close(fd);
  memcpy(past - sizeof path, path, sizeof path);  // ends at the page past EOF
  path[0] = 0;
  fd = (int)syscall(SYS_openat, AT_FDCWD, past - sizeof path + 4, O_RDONLY);
  printf("open of a path up to the page past EOF: %s\n", fd >= 0 ? "opened" : errname(errno));
  if (fd >= 0) close(fd);
  char* unterminated = past - 4;
  memset(unterminated, 'x', 4);
  SHOW(syscall(SYS_openat, AT_FDCWD, unterminated, O_RDONLY));
}

static void* thread_copies(void* arg) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, NULL);
  copies("thread, all blocked", (char*)arg);
  return NULL;
}

static volatile sig_atomic_t segv_caught, segv_code;
static void on_segv(int sig, siginfo_t* si, void* uc) {
  segv_caught++;
  segv_code = si->si_code;
}

// include/uapi/linux/futex.h (musl has no kernel headers).
struct robust_list {
  struct robust_list* next;
};
struct robust_list_head {
  struct robust_list list;
  long futex_offset;
  struct robust_list* list_op_pending;
};
#define FUTEX_OWNER_DIED 0x40000000

// set_robust_list with one entry whose futex word is at `word`.
struct robust_arg {
  uint32_t* word;
  int store_tid;
};
static void* robust_thread(void* p) {
  struct robust_arg* a = p;
  static __thread struct robust_list_head head;
  static __thread struct robust_list entry;
  entry.next = &head.list;
  head.list.next = &entry;
  head.futex_offset = (long)((char*)a->word - (char*)&entry);
  head.list_op_pending = NULL;
  if (a->store_tid) *a->word = (uint32_t)syscall(SYS_gettid);
  if (syscall(SYS_set_robust_list, &head, sizeof head) != 0) printf("set_robust_list failed\n");
  return NULL;
}

static void robust(const char* who, uint32_t* word, int store_tid) {
  struct robust_arg a = {word, store_tid};
  pthread_t t;
  if (pthread_create(&t, NULL, robust_thread, &a) != 0) {
    printf("pthread_create failed\n");
    return;
  }
  pthread_join(t, NULL);
  // The kernel's exit walk ran when the thread's task ended, which may be
  // just after the join returns (CLONE_CHILD_CLEARTID comes first).
  for (int i = 0; i < 1000 && store_tid && !(*word & FUTEX_OWNER_DIED); i++) usleep(1000);
  if (store_tid)
    printf("%s: owner died: %s\n", who, (*word & FUTEX_OWNER_DIED) ? "yes" : "no");
  else
    printf("%s: alive\n", who);
}

int main(void) {
  own_dir_enter();
  setvbuf(stdout, NULL, _IONBF, 0);
  int fd = open("eof.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
  char page[PAGE + 100];
  memset(page, 'f', sizeof page);
  SHOW(write(fd, page, sizeof page));
  shared_map = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  private_map = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(shared_map != MAP_FAILED && private_map != MAP_FAILED);

  copies("shared", shared_map);
  copies("private", private_map);

  // Every signal blocked, SIGBUS and SIGSEGV included.
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  copies("all blocked", shared_map);
  sigprocmask(SIG_SETMASK, &old, NULL);

  pthread_t t;
  if (pthread_create(&t, NULL, thread_copies, private_map) == 0) pthread_join(t, NULL);

  // A SIGSEGV sent to the thread while blocked stays pending across the
  // failed copies and is delivered once at the unblock.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  sigset_t segv;
  sigemptyset(&segv);
  sigaddset(&segv, SIGSEGV);
  sigprocmask(SIG_BLOCK, &segv, NULL);
  syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSEGV);
  SHOW(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, shared_map + 2 * PAGE));
  SHOW(syscall(SYS_nanosleep, private_map + 2 * PAGE, NULL));
  sigset_t pending;
  sigpending(&pending);
  printf("SIGSEGV pending: %s, caught: %d\n", sigismember(&pending, SIGSEGV) ? "yes" : "no",
         (int)segv_caught);
  sigprocmask(SIG_UNBLOCK, &segv, NULL);
  printf("caught: %d, SI_TKILL: %s\n", (int)segv_caught, segv_code == SI_TKILL ? "yes" : "no");

  robust("robust word past EOF", (uint32_t*)(shared_map + 2 * PAGE), 0);
  robust("robust word before EOF", (uint32_t*)(shared_map + 64), 1);

  // The pages come back when the file grows.
  SHOW(ftruncate(fd, 3 * PAGE));
  SHOW(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, shared_map + 2 * PAGE));
  SHOW(syscall(SYS_uname, private_map + 2 * PAGE));
  close(fd);
  printf("done\n");
  return 0;
}
