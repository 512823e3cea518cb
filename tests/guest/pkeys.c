// Protection keys on a CPU without them enabled (this machine has no PKU;
// elfuse's guest never has CR4.PKE): pkey_alloc and pkey_free fail, and
// pkey_mprotect is mprotect for key -1 and fails for any other key after
// the range checks. The effect of pkey_mprotect(-1) is checked by a write
// that must fault (SIGSEGV caught).
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

static sigjmp_buf env;
static void on_segv(int sig) {
  siglongjmp(env, sig);
}

static void show(const char* what, long r) {
  printf("%-24s %ld %s\n", what, r, r < 0 ? errname(errno) : "");
}

int main(void) {
  char* p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  show("alloc", syscall(SYS_pkey_alloc, 0, 0));
  show("alloc flags", syscall(SYS_pkey_alloc, 1, 0));
  show("alloc bad init", syscall(SYS_pkey_alloc, 0, 4));
  show("free 0", syscall(SYS_pkey_free, 0));
  show("free 1", syscall(SYS_pkey_free, 1));
  show("free -1", syscall(SYS_pkey_free, -1));
  show("mprotect key 0", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 0));
  show("mprotect key 1", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 1));
  show("mprotect key -2", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, -2));
  show("unaligned key 0", syscall(SYS_pkey_mprotect, p + 1, 4096, PROT_READ, 0));
  show("empty key 5", syscall(SYS_pkey_mprotect, p, 0, PROT_READ, 5));
  show("wrapping key 5", syscall(SYS_pkey_mprotect, p, -4095L, PROT_READ, 5));
  show("bad prot key 5", syscall(SYS_pkey_mprotect, p, 4096, 0x100, 5));
  show("unmapped key 1", syscall(SYS_pkey_mprotect, (void*)0x1000, 4096, PROT_READ, 1));
  show("unmapped key -1", syscall(SYS_pkey_mprotect, (void*)0x1000, 4096, PROT_READ, -1));
  show("key 1 in high bits", syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 0xffffffffL));
  // Key -1 (given as 0xffffffff above, an int) made the first page
  // read-only: a write faults, a read does not.
  signal(SIGSEGV, on_segv);
  int sig = sigsetjmp(env, 1);
  if (sig == 0) {
    p[0] = 1;
    printf("write went through\n");
  } else {
    printf("write faulted with signal %d\n", sig);
  }
  printf("read %d\n", p[4096]);
  return 0;
}
