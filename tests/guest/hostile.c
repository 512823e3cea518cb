// A guest that pokes where it should not: elfuse's own pages (the shim's
// syscall stub and doorbell just below the top of the user range, its
// supervisor pages), privileged instructions, and syscalls with pointers
// into those places. Each must give exactly what Linux gives: SIGSEGV with
// the same si_code and si_addr, or EFAULT. The host must never notice.
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

static sigjmp_buf env;
static volatile int got_sig, got_code;
static void* volatile got_addr;

static void on_fault(int sig, siginfo_t* si, void* uc) {
  got_sig = sig;
  got_code = si->si_code;
  got_addr = si->si_addr;
  siglongjmp(env, 1);
}

typedef void (*probe_fn)(void* addr);

static void do_read(void* addr) {
  (void)*(volatile char*)addr;
}
static void do_write(void* addr) {
  *(volatile char*)addr = 1;
}
static void do_hlt(void* addr) {
  __asm__ volatile("hlt");
}
static void do_cli(void* addr) {
  __asm__ volatile("cli");
}
static void do_out(void* addr) {
  __asm__ volatile("outb %%al, $0xe9" ::"a"(0));
}
static void do_in(void* addr) {
  unsigned char v;
  __asm__ volatile("inb $0x80, %0" : "=a"(v));
}
static void do_cr3(void* addr) {
  uint64_t v;
  __asm__ volatile("mov %%cr3, %0" : "=r"(v));
}
static void do_wrmsr(void* addr) {
  __asm__ volatile("wrmsr" ::"c"(0xc0000082), "a"(0), "d"(0));
}
static void do_lidt(void* addr) {
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } d = {0, 0};
  __asm__ volatile("lidt %0" ::"m"(d));
}

static void probe(const char* what, probe_fn fn, void* addr) {
  got_sig = 0;
  if (sigsetjmp(env, 1) == 0) fn(addr);
  if (!got_sig) {
    printf("%s: no signal\n", what);
    return;
  }
  printf("%s: signal %d code %d addr %s\n", what, got_sig, got_code,
         got_addr == addr   ? "= target"
         : got_addr == NULL ? "0"
                            : "other");
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);

  // Just below the top of Linux's user range: where elfuse keeps its stub
  // and doorbell pages. Natively nothing is mapped there.
  void* stub = (void*)0x7fffff000000;
  void* doorbell = (void*)0x7fffff001000;
  void* high = (void*)0x7ffffff00000;
  void* kernel = (void*)0xffffffff80000000;
  probe("write to the stub page", do_write, stub);
  probe("read the doorbell page", do_read, doorbell);
  probe("write the doorbell page", do_write, doorbell);
  probe("read just below the top", do_read, high);
  probe("read a kernel address", do_read, kernel);
  probe("write a kernel address", do_write, kernel);
  probe("hlt", do_hlt, NULL);
  probe("cli", do_cli, NULL);
  probe("out", do_out, NULL);
  probe("in", do_in, NULL);
  probe("mov cr3", do_cr3, NULL);
  probe("wrmsr", do_wrmsr, NULL);
  probe("lidt", do_lidt, NULL);

  // Syscalls given those addresses as buffers.
  SHOW(write(1, doorbell, 8));
  SHOW(write(1, kernel, 8));
  int p[2];
  if (pipe(p) < 0 || write(p[1], "12345678", 8) != 8) return 1;
  SHOW(read(p[0], stub, 8));
  SHOW(syscall(SYS_getcwd, doorbell, 64));
  SHOW(syscall(SYS_uname, kernel));
  SHOW(syscall(SYS_clock_gettime, 1, stub));
  SHOW(syscall(SYS_openat, -100, doorbell, 0));
  SHOW(syscall(SYS_rt_sigaction, SIGUSR1, kernel, NULL, 8));
  SHOW(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, doorbell, 8));
  SHOW(syscall(SYS_write, 1, (void*)-1, 1));
  SHOW(syscall(SYS_read, 0, (void*)0x1000, (size_t)-1));
  // Lengths that wrap.
  SHOW(syscall(SYS_mmap, 0, (size_t)-4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  SHOW(syscall(SYS_munmap, 0x10000, (size_t)-4096));
  SHOW(syscall(SYS_mprotect, 0x10000, (size_t)-4096, PROT_READ));
  SHOW(syscall(SYS_madvise, 0x10000, (size_t)-4096, MADV_DONTNEED));
  printf("still alive\n");
  return 0;
}
