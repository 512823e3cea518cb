// System V IPC: shared memory really shared with a forked child, attach
// counts (fork, split pieces, partial munmap, shmdt, exec, exit), SHM_RDONLY,
// SHM_RND, SHM_REMAP, IPC_RMID while attached, shmdt errors, the maps row;
// semaphores between processes (blocking, GETNCNT, SEM_UNDO, timeouts, EIDRM
// for a waiter); message queues between processes (types, MSG_NOERROR,
// MSG_EXCEPT, blocking receive, a receive into a bad buffer); the errors.
// IPC_PRIVATE keys only, and everything made is removed. Compared with
// native.
//
// Also a helper for tests/sysv_native_test.sh (a segment shared between
// native and elfuse processes): `sysv_ipc create`, `write ID TEXT`,
// `read ID`, `hold ID` (attached until stdin ends), `rm ID`.
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

union semun {
  int val;
  struct semid_ds* buf;
  unsigned short* array;
};

static long nattch(int id) {
  struct shmid_ds ds;
  if (shmctl(id, IPC_STAT, &ds) != 0) return -errno;
  return (long)ds.shm_nattch;
}

static int child_status(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WEXITSTATUS(st);
}

// The /proc/self/maps row of the mapping at p: perms, offset, inode equal to
// the id, and the name.
static void maps_row(const void* p, int id) {
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    unsigned long s, e, off, ino;
    char perms[8], dev[16], name[256] = "";
    if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %255[^\n]", &s, &e, perms, &off, dev, &ino, name) <
        6)
      continue;
    if (s != (unsigned long)p) continue;
    char* n = name;
    while (*n == ' ') n++;
    printf("maps: %s off=%lx ino=id:%d len=%lu name=%s\n", perms, off, ino == (unsigned long)id,
           e - s, n);
  }
  if (f) fclose(f);
}

static void smaps_flags(const void* p) {
  FILE* f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in = 0;
  while (f && fgets(line, sizeof line, f)) {
    unsigned long s, e;
    if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') - line < 40) {
      in = s == (unsigned long)p;
      continue;
    }
    if (in && strncmp(line, "VmFlags:", 8) == 0) printf("smaps %s", line);
  }
  if (f) fclose(f);
}

// Waits until process pid sleeps in a kernel function whose name contains
// `fn` (its /proc/PID/wchan), at most 5 s.
static void wait_in(pid_t pid, const char* fn) {
  char path[64], buf[128];
  snprintf(path, sizeof path, "/proc/%d/wchan", pid);
  for (int i = 0; i < 2500; i++) {
    FILE* f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    if (strstr(buf, fn)) return;
    usleep(2000);
  }
}

static sigjmp_buf jb;
static void on_segv(int sig) {
  siglongjmp(jb, sig);
}

static void shm_tests(const char* self) {
  printf("== shm\n");
  int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
  printf("shmget ok: %d\n", id >= 0);
  struct shmid_ds ds;
  OK(shmctl(id, IPC_STAT, &ds));
  printf("segsz %zu nattch %lu cpid self %d mode %o key %d\n", ds.shm_segsz, ds.shm_nattch,
         ds.shm_cpid == getpid(), ds.shm_perm.mode, ds.shm_perm.__key);
  char* p = shmat(id, NULL, 0);
  printf("shmat ok: %d aligned: %d\n", p != (void*)-1, ((uintptr_t)p & 4095) == 0);
  printf("nattch %ld\n", nattch(id));
  OK(shmctl(id, IPC_STAT, &ds));
  printf("lpid self %d atime set %d\n", ds.shm_lpid == getpid(), ds.shm_atime != 0);
  maps_row(p, id);
  smaps_flags(p);
  // Fresh segments are zero, and the last page is usable to its end.
  printf("zero %d %d\n", p[0], p[12287]);
  strcpy(p, "parent");

  // fork: the child inherits the attach (nattch 2) and writes into it.
  pid_t c = fork();
  if (c == 0) {
    printf("child sees '%s' nattch %ld\n", p, nattch(id));
    fflush(stdout);
    strcpy(p, "from child");
    p[9999] = 'z';
    _exit(0);
  }
  printf("child status %d\n", child_status(c));
  printf("parent sees '%s' %c nattch %ld\n", p, p[9999], nattch(id));

  // The same segment twice: two attaches, each its own.
  char* q = shmat(id, NULL, SHM_RDONLY);
  printf("second attach ok: %d distinct: %d nattch %ld\n", q != (void*)-1, q != p, nattch(id));
  printf("q sees '%s'\n", q);
  maps_row(q, id);
  SHOW(mprotect(q, 4096, PROT_READ | PROT_WRITE));  // SHM_RDONLY: never writable
  OK(mprotect(q, 4096, PROT_READ | PROT_EXEC));
  printf("nattch %ld\n", nattch(id));
  // A store to a read-only attach: SIGSEGV in a child.
  c = fork();
  if (c == 0) {
    q[1] = 'x';
    _exit(0);
  }
  printf("store to SHM_RDONLY: status %d\n", child_status(c));
  OK(shmdt(q));
  printf("nattch %ld\n", nattch(id));

  // Split pieces each count; shmdt removes every piece of the attach.
  OK(mprotect(p + 4096, 4096, PROT_READ));
  printf("after split: nattch %ld\n", nattch(id));
  OK(mprotect(p + 4096, 4096, PROT_READ | PROT_WRITE));
  printf("after mprotect back (no merge): nattch %ld\n", nattch(id));
  OK(mprotect(p + 8192, 4096, PROT_READ | PROT_WRITE | PROT_EXEC));
  printf("after exec split: nattch %ld\n", nattch(id));
  maps_row(p + 8192, id);
  OK(munmap(p, 4096));
  printf("after munmap of the first page: nattch %ld\n", nattch(id));
  SHOW(shmdt(p + 4096));  // not where the segment was attached
  SHOW(shmdt(p + 1));
  OK(shmdt(p));            // the remaining pieces, found from the attach address
  printf("after shmdt: nattch %ld\n", nattch(id));
  SHOW(shmdt(p));
  printf("store after shmdt: ");
  signal(SIGSEGV, on_segv);
  int sig = sigsetjmp(jb, 1);
  if (sig == 0) {
    p[0] = 1;
    printf("no fault\n");
  } else {
    printf("signal %d\n", sig);
  }
  signal(SIGSEGV, SIG_DFL);

  // Fixed addresses: SHM_RND rounds down, an unaligned one without it is
  // EINVAL, an overlap without SHM_REMAP is EINVAL, with it replaces.
  char* area = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  area[0] = 'a';
  SHOW(shmat(id, area + 4096, 0) == (void*)-1 ? -1 : 0);
  SHOW(shmat(id, area + 100, SHM_REMAP) == (void*)-1 ? -1 : 0);
  char* r = shmat(id, area + 100, SHM_RND | SHM_REMAP);
  printf("SHM_RND|SHM_REMAP at area+100: %s\n", r == area ? "area" : "elsewhere");
  printf("sees '%s' nattch %ld\n", r, nattch(id));
  printf("area[8191] zero: %d\n", area[8191]);
  OK(shmdt(r));
  SHOW(shmat(id, NULL, SHM_REMAP) == (void*)-1 ? -1 : 0);
  SHOW(shmat(id, (void*)100, SHM_RND | SHM_REMAP) == (void*)-1 ? -1 : 0);  // rounds to 0
  munmap(area, 8 * 4096);
  area = mmap(NULL, 8 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(area, 8 * 4096);
  r = shmat(id, area + 4096, 0);  // a free range: exactly there
  printf("fixed free range: %s\n", r == area + 4096 ? "there" : "elsewhere");
  OK(shmdt(r));

  // exec detaches: a child attaches, execs a program that reports the count.
  c = fork();
  if (c == 0) {
    if (shmat(id, NULL, 0) == (void*)-1) _exit(3);
    char ids[16];
    snprintf(ids, sizeof ids, "%d", id);
    printf("before exec nattch %ld\n", nattch(id));
    fflush(stdout);
    execl(self, self, "nattch", ids, (char*)NULL);
    _exit(4);
  }
  printf("exec child status %d\n", child_status(c));

  // Permissions, checked by the kernel without CAP_IPC_OWNER (a child
  // drops it): read for any attach, write unless SHM_RDONLY, exec for
  // SHM_EXEC.
  c = fork();
  if (c == 0) {
    struct cap_header {
      uint32_t version;
      int pid;
    } h = {0x20080522, 0};
    struct cap_data {
      uint32_t effective, permitted, inheritable;
    } d[2];
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << 15);  // CAP_IPC_OWNER
    OK(syscall(SYS_capset, &h, d));
    int ro = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0400);
    SHOW(shmat(ro, NULL, 0) == (void*)-1 ? -1 : 0);
    char* x = shmat(ro, NULL, SHM_RDONLY);
    printf("read-only attach ok: %d\n", x != (void*)-1);
    shmdt(x);
    SHOW(shmat(ro, NULL, SHM_RDONLY | SHM_EXEC) == (void*)-1 ? -1 : 0);
    int wo = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0200);
    SHOW(shmat(wo, NULL, SHM_RDONLY) == (void*)-1 ? -1 : 0);
    SHOW(shmat(wo, NULL, 0) == (void*)-1 ? -1 : 0);
    SHOW(shmctl(wo, IPC_STAT, &ds));
    int rwx = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0700);
    x = shmat(rwx, NULL, SHM_EXEC);
    printf("SHM_EXEC attach ok: %d\n", x != (void*)-1);
    maps_row(x, rwx);
    shmdt(x);
    shmctl(ro, IPC_RMID, NULL);
    shmctl(wo, IPC_RMID, NULL);
    shmctl(rwx, IPC_RMID, NULL);
    _exit(0);
  }
  printf("permissions child status %d\n", child_status(c));

  // IPC_RMID while attached: marked SHM_DEST, key private, still usable;
  // gone with the last detach.
  p = shmat(id, NULL, 0);
  OK(shmctl(id, IPC_RMID, NULL));
  OK(shmctl(id, IPC_STAT, &ds));
  printf("after IPC_RMID: dest %d nattch %lu\n", (ds.shm_perm.mode & SHM_DEST) != 0, ds.shm_nattch);
  printf("still readable: '%s'\n", p);
  char* p2 = shmat(id, NULL, 0);  // Linux allows attaching a SHM_DEST segment
  printf("attach after RMID ok: %d\n", p2 != (void*)-1);
  if (p2 != (void*)-1) shmdt(p2);
  OK(shmdt(p));
  printf("after last detach: %ld\n", nattch(id));

  // Errors.
  SHOW(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
  SHOW(shmat(-1, NULL, 0) == (void*)-1 ? -1 : 0);
  SHOW(shmat(0x7fffffff, NULL, 0) == (void*)-1 ? -1 : 0);
  SHOW(shmctl(-1, IPC_STAT, &ds));
  SHOW(shmctl(0x7fffffff, IPC_STAT, &ds));
  SHOW(shmctl(0, 12345, &ds));
  id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  SHOW(shmctl(id, IPC_STAT, (struct shmid_ds*)8));
  SHOW(shmctl(id, IPC_SET, (struct shmid_ds*)8));
  OK(shmctl(id, IPC_STAT, &ds));
  ds.shm_perm.mode = 0640;
  OK(shmctl(id, IPC_SET, &ds));
  OK(shmctl(id, IPC_STAT, &ds));
  printf("mode now %o\n", ds.shm_perm.mode & 0777);
  struct shminfo info;
  printf("IPC_INFO ok: %d\n", shmctl(0, IPC_INFO, (struct shmid_ds*)&info) >= 0);
  struct shm_info sinfo;
  printf("SHM_INFO ok: %d\n", shmctl(0, SHM_INFO, (struct shmid_ds*)&sinfo) >= 0);
  SHOW(shmctl(0, IPC_INFO, (struct shmid_ds*)8));
  OK(shmctl(id, IPC_RMID, NULL));
  SHOW(shmctl(id, IPC_RMID, NULL));
  SHOW(shmdt(area));  // nothing there
}

// Two pages in two VMAs (private, then shared memory): a buffer at the
// boundary crosses them.
static char* two_vmas(void) {
  char* two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mmap(two + 4096, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  return two;
}

static void sem_tests(void) {
  printf("== sem\n");
  int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
  printf("semget ok: %d\n", id >= 0);
  unsigned short vals[2] = {0, 5}, got[2] = {9, 9};
  union semun arg = {.array = vals};
  OK(semctl(id, 0, SETALL, arg));
  arg.array = got;
  OK(semctl(id, 0, GETALL, arg));
  printf("GETALL %u %u\n", got[0], got[1]);
  SHOW(semctl(id, 1, GETVAL));
  struct semid_ds ds;
  arg.buf = &ds;
  OK(semctl(id, 0, IPC_STAT, arg));
  printf("nsems %lu mode %o\n", (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);

  // A child blocks on sem 0; the parent sees it waiting, then releases it;
  // the child answers on sem 1.
  pid_t c = fork();
  if (c == 0) {
    struct sembuf down = {0, -1, 0};
    int r = semop(id, &down, 1);
    struct sembuf up = {1, 10, 0};
    semop(id, &up, 1);
    _exit(r == 0 ? 0 : 1);
  }
  for (int i = 0; i < 500 && semctl(id, 0, GETNCNT) != 1; i++) usleep(2000);
  SHOW(semctl(id, 0, GETNCNT));
  SHOW(semctl(id, 0, GETZCNT));
  struct sembuf up0 = {0, 1, 0};
  OK(semop(id, &up0, 1));
  struct sembuf wait1 = {1, -15, 0};
  OK(semop(id, &wait1, 1));
  printf("child status %d\n", child_status(c));
  SHOW(semctl(id, 0, GETPID) == c);

  // SEM_UNDO: a child's adjustment is undone when it exits.
  c = fork();
  if (c == 0) {
    struct sembuf u = {0, 3, SEM_UNDO};
    semop(id, &u, 1);
    printf("child set %d\n", semctl(id, 0, GETVAL));
    fflush(stdout);
    _exit(0);
  }
  child_status(c);
  SHOW(semctl(id, 0, GETVAL));

  // Non-blocking and timed waits.
  struct sembuf nb = {0, -1, IPC_NOWAIT};
  SHOW(semop(id, &nb, 1));
  struct sembuf w = {0, -1, 0};
  struct timespec ts = {0, 20 * 1000 * 1000};
  SHOW(semtimedop(id, &w, 1, &ts));
  struct sembuf both[2] = {{0, 1, 0}, {1, 1, 0}};
  OK(semop(id, both, 2));
  arg.array = got;
  OK(semctl(id, 0, GETALL, arg));
  printf("GETALL %u %u\n", got[0], got[1]);
  char* two = two_vmas();
  struct sembuf* across = (struct sembuf*)(two + 4096 - 6);
  across[0] = (struct sembuf){0, 2, 0};
  across[1] = (struct sembuf){1, 3, 0};
  OK(semop(id, across, 2));
  unsigned short* vals_across = (unsigned short*)(two + 4096 - 2);
  arg.array = vals_across;
  OK(semctl(id, 0, GETALL, arg));
  printf("GETALL across VMAs %u %u\n", vals_across[0], vals_across[1]);
  vals_across[0] = 1;
  vals_across[1] = 1;
  OK(semctl(id, 0, SETALL, arg));
  munmap(two, 8192);

  // Errors, in the kernel's order.
  SHOW(semop(id, &w, 0));
  SHOW(semop(-1, &w, 1));
  SHOW(semop(id, &w, 100000));                       // E2BIG before the copy
  SHOW(semop(id, (struct sembuf*)8, 1));
  SHOW(semtimedop(id, &w, 1, (struct timespec*)8));
  ts.tv_nsec = 2000000000;
  SHOW(semtimedop(id, &w, 1, &ts));
  struct sembuf bad = {7, 1, 0};
  SHOW(semop(id, &bad, 1));                          // EFBIG
  struct sembuf big = {0, 32767, 0};
  SHOW(semop(id, &big, 1));                          // ERANGE
  arg.val = 40000;
  SHOW(semctl(id, 0, SETVAL, arg));
  SHOW(semctl(id, 5, GETVAL));
  arg.array = (unsigned short*)8;
  SHOW(semctl(id, 0, GETALL, arg));
  SHOW(semctl(id, 0, SETALL, arg));
  arg.buf = (struct semid_ds*)8;
  SHOW(semctl(id, 0, IPC_STAT, arg));
  SHOW(semctl(id, 0, 12345));
  SHOW(semctl(0x7fffffff, 0, GETVAL));
  SHOW(semget(IPC_PRIVATE, -1, IPC_CREAT | 0600));
  struct seminfo si;
  arg.buf = (struct semid_ds*)&si;
  printf("SEM_INFO ok: %d\n", semctl(0, 0, SEM_INFO, arg) >= 0);

  // A waiter sees EIDRM when the set is removed.
  c = fork();
  if (c == 0) {
    struct sembuf d = {0, -100, 0};
    int r = semop(id, &d, 1);
    _exit(r < 0 ? errno : 0);
  }
  for (int i = 0; i < 500 && semctl(id, 0, GETNCNT) != 1; i++) usleep(2000);
  OK(semctl(id, 0, IPC_RMID));
  printf("waiter: %s\n", errname(child_status(c)));
  SHOW(semctl(id, 0, GETVAL));
}

struct msg {
  long mtype;
  char text[64];
};

static void msg_tests(void) {
  printf("== msg\n");
  int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  printf("msgget ok: %d\n", id >= 0);
  struct msg m = {1, "one"};
  OK(msgsnd(id, &m, 4, 0));
  m.mtype = 2;
  strcpy(m.text, "two");
  OK(msgsnd(id, &m, 4, 0));
  m.mtype = 3;
  strcpy(m.text, "three-long-message");
  OK(msgsnd(id, &m, 19, 0));
  struct msqid_ds ds;
  OK(msgctl(id, IPC_STAT, &ds));
  printf("qnum %lu cbytes %lu lspid self %d\n", ds.msg_qnum, ds.__msg_cbytes,
         ds.msg_lspid == getpid());
  struct msg r;
  memset(&r, 0, sizeof r);
  SHOW(msgrcv(id, &r, sizeof r.text, 2, 0));
  printf("got type %ld '%s'\n", r.mtype, r.text);
  SHOW(msgrcv(id, &r, 5, 3, IPC_NOWAIT));            // E2BIG: kept
  memset(&r, 0, sizeof r);
  SHOW(msgrcv(id, &r, 5, 3, MSG_NOERROR));
  printf("truncated '%s'\n", r.text);
  SHOW(msgrcv(id, &r, sizeof r.text, 5, IPC_NOWAIT));  // ENOMSG
  SHOW(msgrcv(id, &r, sizeof r.text, 1, MSG_EXCEPT | IPC_NOWAIT));
  memset(&r, 0, sizeof r);
  SHOW(msgrcv(id, &r, sizeof r.text, -5, 0));
  printf("got type %ld '%s'\n", r.mtype, r.text);

  // A blocking receive answered by a child.
  pid_t c = fork();
  if (c == 0) {
    usleep(20000);
    struct msg cm = {7, "from child"};
    msgsnd(id, &cm, 11, 0);
    _exit(0);
  }
  memset(&r, 0, sizeof r);
  SHOW(msgrcv(id, &r, sizeof r.text, 7, 0));
  printf("got type %ld '%s'\n", r.mtype, r.text);
  child_status(c);

  // Bad buffers: the send's type is read first; a receive into memory that
  // cannot be written takes the message off the queue and fails.
  SHOW(msgsnd(id, (void*)8, 4, 0));
  char* page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(page + 4096, 4096);
  struct msg* edge = (struct msg*)(page + 4096 - sizeof(long));
  edge->mtype = 4;
  SHOW(msgsnd(id, edge, 4, 0));                       // the text is unmapped: EFAULT
  edge->mtype = 0;
  SHOW(msgsnd(id, edge, 4, 0));                       // mtype < 1 first: EINVAL
  SHOW(msgsnd(id, edge, 1 << 30, 0));                 // msgsz > msgmax first: EINVAL
  m.mtype = 9;
  OK(msgsnd(id, &m, 4, 0));
  SHOW(msgrcv(id, edge, 4, 9, 0));                    // EFAULT, message consumed
  OK(msgctl(id, IPC_STAT, &ds));
  printf("qnum after failed receive %lu\n", ds.msg_qnum);
  SHOW(msgrcv(id, (void*)8, 4, 0, IPC_NOWAIT));       // empty queue: ENOMSG first
  SHOW(msgrcv(id, &r, (size_t)-1, 0, IPC_NOWAIT));
  SHOW(msgsnd(-1, &m, 4, 0));
  SHOW(msgctl(id, IPC_STAT, (struct msqid_ds*)8));
  SHOW(msgctl(id, 12345, &ds));
  struct msginfo mi;
  printf("MSG_INFO ok: %d\n", msgctl(0, MSG_INFO, (struct msqid_ds*)&mi) >= 0);
  OK(msgctl(id, IPC_STAT, &ds));
  ds.msg_qbytes = 100;
  OK(msgctl(id, IPC_SET, &ds));
  OK(msgctl(id, IPC_STAT, &ds));
  printf("qbytes %lu\n", ds.msg_qbytes);
  munmap(page, 4096);
  char* two = two_vmas();
  struct msg* across = (struct msg*)(two + 4096 - 12);
  across->mtype = 11;
  strcpy(across->text, "straddling");
  OK(msgsnd(id, across, 11, 0));
  memset(across, 0, sizeof *across);
  SHOW(msgrcv(id, across, 20, 11, 0));
  printf("across VMAs: type %ld '%s'\n", across->mtype, across->text);
  munmap(two, 8192);

  // A blocked receiver sees EIDRM.
  c = fork();
  if (c == 0) {
    struct msg x;
    long n = msgrcv(id, &x, sizeof x.text, 99, 0);
    _exit(n < 0 ? errno : 0);
  }
  wait_in(c, "msgrcv");
  OK(msgctl(id, IPC_RMID, NULL));
  printf("receiver: %s\n", errname(child_status(c)));
  SHOW(msgctl(id, IPC_STAT, &ds));
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 3 && strcmp(argv[1], "nattch") == 0) {
    printf("after exec nattch %ld\n", nattch(atoi(argv[2])));
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "create") == 0) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("%d\n", id);
    return id < 0;
  }
  if (argc == 4 && strcmp(argv[1], "write") == 0) {
    char* p = shmat(atoi(argv[2]), NULL, 0);
    if (p == (void*)-1) return 1;
    strcpy(p, argv[3]);
    printf("wrote, nattch %ld\n", nattch(atoi(argv[2])));
    return shmdt(p);
  }
  if (argc == 3 && strcmp(argv[1], "read") == 0) {
    char* p = shmat(atoi(argv[2]), NULL, SHM_RDONLY);
    if (p == (void*)-1) return 1;
    printf("read '%s', nattch %ld\n", p, nattch(atoi(argv[2])));
    return shmdt(p);
  }
  if (argc == 3 && strcmp(argv[1], "hold") == 0) {
    // Attached until stdin ends.
    char* p = shmat(atoi(argv[2]), NULL, 0);
    if (p == (void*)-1) return 1;
    printf("held '%s', nattch %ld\n", p, nattch(atoi(argv[2])));
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return shmdt(p);
  }
  if (argc == 3 && strcmp(argv[1], "rm") == 0) return shmctl(atoi(argv[2]), IPC_RMID, NULL);
  shm_tests(argv[0]);
  sem_tests();
  msg_tests();
  return 0;
}
