// Thread-local storage on the main thread: initialized and zeroed __thread
// variables, alignment, the FS base, and errno (which lives in TLS).
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

// From <asm/prctl.h>, which musl-gcc cannot see.
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

__thread int counter = 5;
__thread long zeroed;
__thread char name[16] = "tls-initial";
__thread int aligned_var __attribute__((aligned(64))) = 77;

static int bump(void) {
  return ++counter;
}

int main(void) {
  printf("counter = %d zeroed = %ld name = %s aligned_var = %d\n", counter, zeroed, name,
         aligned_var);
  CHECK(((uintptr_t)&aligned_var & 63) == 0);
  bump();
  bump();
  zeroed = -1;
  strcpy(name, "changed");
  printf("counter = %d zeroed = %ld name = %s\n", counter, zeroed, name);

  // The thread pointer: %fs:0 holds its own address on x86_64 (both libcs).
  uintptr_t fs0;
  __asm__ volatile("mov %%fs:0, %0" : "=r"(fs0));
  unsigned long base = 0;
  OK(syscall(SYS_arch_prctl, ARCH_GET_FS, &base));
  CHECK(base == fs0);
  CHECK((uintptr_t)&counter < fs0 + 4096 && (uintptr_t)&counter + 65536 > fs0);
  SHOW(syscall(SYS_arch_prctl, 0x9999, &base));
  SHOW(syscall(SYS_arch_prctl, ARCH_GET_FS, (void*)1));
  unsigned long gs = 1;
  OK(syscall(SYS_arch_prctl, ARCH_GET_GS, &gs));
  printf("GS base = %lu\n", gs);

  // errno is per thread and works through the libc.
  errno = 0;
  int fd = open("/nonexistent/file", O_RDONLY);
  printf("open = %d errno = %s\n", fd, errname(errno));
  CHECK(&errno == &errno);
  errno = 1234;
  CHECK(errno == 1234);
  close(-1);
  printf("errno after close(-1) = %s\n", errname(errno));
  return 0;
}
