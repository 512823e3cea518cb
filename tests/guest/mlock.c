// The mlock family: mlock, mlock2 (MLOCK_ONFAULT), munlock, mlockall
// (MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT), munlockall, MAP_LOCKED; VmLck in
// /proc/self/status, Locked: and the lo/lf VmFlags in smaps; ENOMEM for
// holes (with the part before the hole locked), EINVAL for flags; locks
// are not inherited by fork and dropped by execve; MADV_DONTNEED refuses
// locked memory; unmapped locked memory comes back zeroed; RLIMIT_MEMLOCK
// (ENOMEM, EAGAIN, EPERM) without CAP_IPC_LOCK. Compared with native.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

// /proc files are read with open/read into a static buffer: no allocation
// (a C library's stdio buffer would be new memory, locked under
// MCL_FUTURE) after the file's text is made.
static char text[1 << 18];
static const char* slurp(const char* path) {
  int fd = open(path, O_RDONLY);
  size_t n = 0;
  ssize_t r;
  while (fd >= 0 && n < sizeof text - 1 && (r = read(fd, text + n, sizeof text - 1 - n)) > 0)
    n += (size_t)r;
  if (fd >= 0) close(fd);
  text[n] = 0;
  return text;
}

static long vmlck(void) {
  const char* t = strstr(slurp("/proc/self/status"), "VmLck:");
  long v = -1;
  if (t) sscanf(t, "VmLck: %ld kB", &v);
  return v;
}

// smaps of the VMA starting at p: its size, Locked and the lock VmFlags.
static void smap(const char* what, const void* p) {
  char head[32];
  snprintf(head, sizeof head, "%lx-", (unsigned long)p);
  const char* t = slurp("/proc/self/smaps");
  const char* v = NULL;
  for (const char* l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
    if (strncmp(l, head, strlen(head)) == 0) {
      v = l;
      break;
    }
  long size = -1, locked = -1;
  char flags[32] = "";
  if (v) {
    const char* x = strstr(v, "\nSize:");
    if (x) sscanf(x, "\nSize: %ld kB", &size);
    x = strstr(v, "\nLocked:");
    if (x) sscanf(x, "\nLocked: %ld kB", &locked);
    x = strstr(v, "\nVmFlags:");
    const char* e = x ? strchr(x + 1, '\n') : NULL;
    if (x && e) {
      for (const char* k = x; k + 3 <= e; k++) {
        if (!strncmp(k, " lo", 3)) strcat(flags, " lo");
        if (!strncmp(k, " lf", 3)) strcat(flags, " lf");
      }
    }
  }
  printf("%s: size %ld kB locked %ld kB flags[%s]\n", what, size, locked, flags);
}

// A mapping between two PROT_NONE guard pages, so that it never merges with
// a neighbour (whose placement differs between runs).
static char* map(size_t len, int extra) {
  char* g = mmap(NULL, len + 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g == MAP_FAILED) return NULL;
  char* p = mmap(g + 4096, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | extra,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

// include/uapi/linux/capability.h (musl-gcc has no kernel headers).
struct cap_header {
  uint32_t version;
  int pid;
};
struct cap_data {
  uint32_t effective, permitted, inheritable;
};
#define CAP_V3 0x20080522
#define CAP_IPC_LOCK 14

static int drop_ipc_lock(void) {
  struct cap_header h = {CAP_V3, 0};
  struct cap_data d[2];
  if (syscall(SYS_capget, &h, d) != 0) return -1;
  d[0].effective &= ~(1u << CAP_IPC_LOCK);
  return (int)syscall(SYS_capset, &h, d);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 2 && strcmp(argv[1], "after-exec") == 0) {
    printf("after exec VmLck %ld\n", vmlck());
    char* p = map(8192, 0);
    smap("new map after exec", p);
    return 0;
  }
  printf("VmLck %ld\n", vmlck());
  char* p = map(16 * 4096, 0);
  memset(p, 1, 4096);
  OK(mlock(p + 4096, 2 * 4096));
  printf("VmLck %ld\n", vmlck());
  smap("locked middle", p + 4096);
  smap("unlocked head", p);
  smap("unlocked tail", p + 3 * 4096);
  OK(mlock(p + 4096 + 100, 10));  // inside, unaligned: the page
  printf("VmLck %ld\n", vmlck());
  OK(munlock(p + 4096, 4096));
  printf("VmLck %ld\n", vmlck());
  smap("still locked", p + 2 * 4096);

  // mlock2 MLOCK_ONFAULT: untouched pages are not brought in.
  OK(syscall(SYS_mlock2, p + 8 * 4096, 4 * 4096, MLOCK_ONFAULT));
  smap("onfault", p + 8 * 4096);
  p[8 * 4096] = 1;
  smap("onfault after a touch", p + 8 * 4096);
  SHOW(syscall(SYS_mlock2, p, 4096, 2));
  SHOW(syscall(SYS_mlock2, p, 4096, -1));
  printf("VmLck %ld\n", vmlck());

  // MADV_DONTNEED refuses locked memory; MADV_DONTNEED_LOCKED drops it.
  p[2 * 4096] = 7;
  SHOW(madvise(p + 2 * 4096, 4096, MADV_DONTNEED));
  printf("kept %d\n", p[2 * 4096]);
  OK(madvise(p + 2 * 4096, 4096, MADV_DONTNEED_LOCKED));
  printf("dropped %d\n", p[2 * 4096]);
  SHOW(madvise(p + 2 * 4096, 4096, MADV_FREE));
  SHOW(msync(p + 2 * 4096, 4096, MS_INVALIDATE));  // locked: EBUSY
  SHOW(msync(p + 2 * 4096, 4096, MS_SYNC));

  // Holes: ENOMEM, with what came before the hole locked.
  OK(munlock(p, 16 * 4096));
  printf("VmLck %ld\n", vmlck());
  OK(munmap(p + 4 * 4096, 4096));
  SHOW(mlock(p + 2 * 4096, 4 * 4096));
  printf("VmLck %ld\n", vmlck());
  SHOW(munlock(p + 2 * 4096, 4 * 4096));
  printf("VmLck %ld\n", vmlck());
  SHOW(mlock(p + 4 * 4096, 4096));
  SHOW(mlock(p, 0));
  SHOW(mlock(p, (size_t)-1));
  SHOW(mlock((void*)4096, 4096));
  SHOW(munlock((void*)4096, 4096));

  // Locked memory that is unmapped comes back as fresh zeroed memory.
  OK(mlock(p + 8 * 4096, 8 * 4096));
  memset(p + 8 * 4096, 0x5a, 8 * 4096);
  OK(munmap(p + 8 * 4096, 8 * 4096));
  char* again = mmap(p + 8 * 4096, 8 * 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  printf("remapped there: %d zero: %d %d\n", again == p + 8 * 4096, again[0], again[8 * 4096 - 1]);
  printf("VmLck %ld\n", vmlck());
  munmap(p, 16 * 4096);

  // mremap keeps the lock and grows it.
  char* m = map(4 * 4096, 0);
  OK(mlock(m, 4 * 4096));
  m[0] = 3;
  char* m2 = mremap(m, 4 * 4096, 64 * 4096, MREMAP_MAYMOVE);
  printf("mremap ok: %d kept %d\n", m2 != MAP_FAILED, m2[0]);
  smap("grown", m2);
  printf("VmLck %ld\n", vmlck());
  munmap(m2, 64 * 4096);

  // Locked while inaccessible: populated when made accessible.
  char* pn = map(4 * 4096, 0);
  OK(mprotect(pn, 4 * 4096, PROT_NONE));
  SHOW(mlock(pn, 4 * 4096));  // locked, but populating fails: ENOMEM
  smap("locked PROT_NONE", pn);
  OK(mprotect(pn, 4 * 4096, PROT_READ));
  smap("made readable", pn);
  OK(mprotect(pn, 4 * 4096, PROT_READ | PROT_WRITE));
  smap("made writable", pn);
  OK(munlock(pn, 4 * 4096));
  OK(syscall(SYS_mlock2, pn, 4 * 4096, MLOCK_ONFAULT));
  OK(mprotect(pn, 4 * 4096, PROT_NONE));
  SHOW(syscall(SYS_mlock2, pn, 4 * 4096, MLOCK_ONFAULT));  // nothing to populate
  OK(munlock(pn, 4 * 4096));

  // MAP_LOCKED.
  char* ml = map(8 * 4096, MAP_LOCKED);
  smap("MAP_LOCKED", ml);
  printf("VmLck %ld\n", vmlck());

  // fork: the child has no locks.
  pid_t c = fork();
  if (c == 0) {
    printf("child VmLck %ld\n", vmlck());
    smap("child's copy", ml);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  munmap(ml, 8 * 4096);

  // mlockall.
  SHOW(mlockall(0));
  SHOW(mlockall(MCL_ONFAULT));
  SHOW(mlockall(0x100));
  OK(mlockall(MCL_FUTURE));
  printf("VmLck %ld\n", vmlck());
  char* f = map(4 * 4096, 0);
  smap("after MCL_FUTURE", f);
  c = fork();
  if (c == 0) {
    char* cf = map(4 * 4096, 0);
    smap("child's new map", cf);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  OK(mlockall(MCL_FUTURE | MCL_ONFAULT));
  char* g = map(4 * 4096, 0);
  smap("after MCL_FUTURE|MCL_ONFAULT", g);
  OK(munlockall());
  printf("VmLck %ld\n", vmlck());
  char* h = map(4 * 4096, 0);
  smap("after munlockall", h);
  OK(mlockall(MCL_CURRENT | MCL_ONFAULT));
  smap("MCL_CURRENT|MCL_ONFAULT", h);
  OK(munlockall());
  printf("VmLck %ld\n", vmlck());
  munmap(f, 4 * 4096);
  munmap(g, 4 * 4096);

  // execve drops every lock.
  OK(mlock(h, 4096));
  c = fork();
  if (c == 0) {
    OK(mlockall(MCL_CURRENT | MCL_FUTURE));
    execl(argv[0], argv[0], "after-exec", (char*)NULL);
    _exit(127);
  }
  waitpid(c, NULL, 0);
  munmap(h, 4 * 4096);

  // RLIMIT_MEMLOCK without CAP_IPC_LOCK.
  c = fork();
  if (c == 0) {
    OK(drop_ipc_lock());
    struct rlimit rl = {16 * 4096, 16 * 4096};
    OK(setrlimit(RLIMIT_MEMLOCK, &rl));
    char* a = map(32 * 4096, 0);
    OK(mlock(a, 8 * 4096));
    SHOW(mlock(a + 8 * 4096, 16 * 4096));  // 24 pages > 16: ENOMEM
    OK(mlock(a, 16 * 4096));               // 8 already locked: 16 in all
    SHOW(mlock(a + 16 * 4096, 4096));
    SHOW(mremap(a, 16 * 4096, 20 * 4096, MREMAP_MAYMOVE) == MAP_FAILED ? -1 : 0);  // EAGAIN
    SHOW(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0) ==
         MAP_FAILED ? -1 : 0);
    SHOW(mlockall(MCL_CURRENT));
    OK(munlock(a, 32 * 4096));
    OK(mlockall(MCL_FUTURE));
    SHOW(mmap(NULL, 32 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
    OK(munlockall());
    rl.rlim_cur = rl.rlim_max = 0;
    OK(setrlimit(RLIMIT_MEMLOCK, &rl));
    SHOW(mlock(a, 4096));
    SHOW(mlockall(MCL_CURRENT));
    SHOW(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0) ==
         MAP_FAILED ? -1 : 0);
    OK(munlock(a, 4096));  // munlock needs no rights
    _exit(0);
  }
  waitpid(c, NULL, 0);
  return 0;
}
