// Signal frames and delivery: fault signals with si_code/si_addr and a handler
// that skips the faulting instruction through uc_mcontext; the FPU state in
// the frame; the alternate stack; SA_RESETHAND, SA_NODEFER, SA_RESTART;
// kill() to oneself; sigsuspend, sigtimedwait, sigqueue; timers interrupting
// pause() and a busy loop.
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "common.h"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static volatile int got_sig, got_code, skip_len, got_trapno, got_err, addr_ok, rip_ok;
static volatile uintptr_t expect_addr;
static volatile int count;

static void on_fault(int sig, siginfo_t* si, void* ucv) {
  ucontext_t* uc = ucv;
  got_sig = sig;
  got_code = si->si_code;
  addr_ok = (uintptr_t)si->si_addr == expect_addr;
  got_trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
  got_err = (int)uc->uc_mcontext.gregs[REG_ERR];
  rip_ok = sig != SIGILL && sig != SIGFPE ? 1
                                          : (uintptr_t)uc->uc_mcontext.gregs[REG_RIP] == expect_addr;
  uc->uc_mcontext.gregs[REG_RIP] += skip_len;
}

static void catch(int sig, void (*fn)(int, siginfo_t*, void*), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static void report(const char* what) {
  printf("%s: sig=%d code=%d addr_ok=%d rip_ok=%d trapno=%d err=%d\n", what, got_sig, got_code,
         addr_ok, rip_ok, got_trapno, got_err);
  got_sig = got_code = addr_ok = rip_ok = got_trapno = got_err = 0;
}

static void faults(void) {
  catch(SIGSEGV, on_fault, 0);
  catch(SIGFPE, on_fault, 0);
  catch(SIGILL, on_fault, 0);
  catch(SIGTRAP, on_fault, 0);

  // SEGV_MAPERR: a page that was unmapped. `mov (%rcx), %eax` is 2 bytes.
  char* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(p, 4096);
  expect_addr = (uintptr_t)p + 8;
  skip_len = 2;
  int v = 7;
  asm volatile("movl (%%rcx), %%eax" : "+a"(v) : "c"(p + 8) : "memory");
  report("read unmapped");

  // SEGV_ACCERR: a write to a read-only page. `mov %eax, (%rcx)` is 2 bytes.
  // The page is read first: elfuse maps pages eagerly, so the error code's
  // P bit (err) only matches Linux for a page Linux has populated too.
  p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("read-only page reads %d\n", *(volatile char*)p);
  expect_addr = (uintptr_t)p + 16;
  asm volatile("movl %%eax, (%%rcx)" : : "a"(1), "c"(p + 16) : "memory");
  report("write read-only");
  printf("value still %d\n", p[16]);
  munmap(p, 4096);

  // SIGFPE: integer division by zero; si_addr and RIP are the instruction.
  uintptr_t here;
  unsigned eax = 10, edx = 0;
  asm volatile(
      "lea 1f(%%rip), %0\n\t"
      "mov %0, expect_addr(%%rip)\n\t"
      "1: divl %%ecx"
      : "=&r"(here), "+a"(eax), "+d"(edx)
      : "c"(0)
      : "memory");
  report("divide by zero");

  // SIGILL: ud2 (2 bytes).
  asm volatile(
      "lea 1f(%%rip), %0\n\t"
      "mov %0, expect_addr(%%rip)\n\t"
      "1: ud2"
      : "=&r"(here)
      :
      : "memory");
  report("ud2");

  // SIGTRAP: int3 is a trap, RIP is already past it.
  skip_len = 0;
  expect_addr = 0;
  asm volatile("int3");
  report("int3");
}

// ---------------------------------------------------------------- FPU state

static volatile uint64_t h_xmm7_lo, h_frame_xmm7_lo;
static volatile unsigned h_mxcsr, h_frame_mxcsr;
static volatile int h_aligned, h_magic, h_ucflags;

static void on_fpu(int sig, siginfo_t* si, void* ucv) {
  ucontext_t* uc = ucv;
  uint64_t x[2];
  unsigned m;
  asm volatile("movdqu %%xmm7, %0" : "=m"(x));
  asm volatile("stmxcsr %0" : "=m"(m));
  h_xmm7_lo = x[0];
  h_mxcsr = m;
  unsigned char* fp = (unsigned char*)uc->uc_mcontext.fpregs;
  h_aligned = ((uintptr_t)fp & 63) == 0;
  uint32_t magic1;
  memcpy(&magic1, fp + 464, 4);
  h_magic = magic1 == 0x46505853;
  h_ucflags = (int)(uc->uc_flags & 7);
  memcpy((void*)&h_frame_xmm7_lo, fp + 160 + 16 * 7, 8);
  memcpy((void*)&h_frame_mxcsr, fp + 24, 4);
  // Change xmm6 in the frame: it is what the program gets back.
  uint64_t new6[2] = {0x600dcafe600dcafeULL, 0x0123456789abcdefULL};
  memcpy(fp + 160 + 16 * 6, new6, 16);
  // Use the vector registers freely.
  volatile double d = 1.5;
  for (int i = 0; i < 10; i++) d = d * 1.25 + i;
  asm volatile("pcmpeqd %%xmm7, %%xmm7" ::: "xmm7");
}

static void fpu(void) {
  catch(SIGUSR1, on_fpu, 0);
  uint64_t in7[2] = {0x1122334455667788ULL, 0x99aabbccddeeff00ULL}, out7[2], out6[2];
  unsigned mx_in = 0x3f80, mx_out;  // round toward minus infinity
  pid_t pid = getpid();
  long nr = SYS_kill;
  asm volatile(
      "movdqu %[in7], %%xmm7\n\t"
      "ldmxcsr %[mxin]\n\t"
      "syscall\n\t"
      "movdqu %%xmm7, %[out7]\n\t"
      "movdqu %%xmm6, %[out6]\n\t"
      "stmxcsr %[mxout]\n\t"
      "movl $0x1f80, %[mxin]\n\t"
      "ldmxcsr %[mxin]"
      : [out7] "=m"(out7), [out6] "=m"(out6), [mxout] "=m"(mx_out), "+a"(nr), [mxin] "+m"(mx_in)
      : [in7] "m"(in7), "D"(pid), "S"(SIGUSR1)
      : "rcx", "r11", "xmm6", "xmm7", "memory");
  printf("kill returned %ld\n", nr);
  printf("handler: xmm7 zero=%d mxcsr=%#x fpstate aligned=%d magic=%d uc_flags=%d\n",
         h_xmm7_lo == 0, h_mxcsr, h_aligned, h_magic, h_ucflags);
  printf("frame: xmm7 ok=%d mxcsr=%#x\n", h_frame_xmm7_lo == in7[0], h_frame_mxcsr);
  printf("after: xmm7 ok=%d xmm6 from frame=%d mxcsr=%#x\n",
         out7[0] == in7[0] && out7[1] == in7[1], out6[0] == 0x600dcafe600dcafeULL, mx_out);

  if (__builtin_cpu_supports("avx")) {
    uint64_t ymm_in[4] = {1, 2, 3, 0x4444444444444444ULL}, ymm_out[4];
    nr = SYS_kill;
    asm volatile(
        "vmovdqu %[in], %%ymm5\n\t"
        "syscall\n\t"
        "vmovdqu %%ymm5, %[out]\n\t"
        "vzeroupper"
        : [out] "=m"(ymm_out), "+a"(nr)
        : [in] "m"(ymm_in), "D"(pid), "S"(SIGUSR1)
        : "rcx", "r11", "xmm5", "xmm6", "xmm7", "memory");
    printf("avx: ymm5 preserved=%d\n", memcmp(ymm_in, ymm_out, sizeof ymm_in) == 0);
  } else {
    printf("avx: ymm5 preserved=1\n");
  }
}

// ---------------------------------------------------------------- altstack

static char altstack[65536];
static volatile int on_alt, alt_flags_inside;

static void on_alt_handler(int sig, siginfo_t* si, void* uc) {
  char local;
  on_alt = &local >= altstack && &local < altstack + sizeof altstack;
  stack_t cur;
  sigaltstack(NULL, &cur);
  alt_flags_inside = cur.ss_flags;
}

static void alt(void) {
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  OK(sigaltstack(&ss, NULL));
  catch(SIGUSR2, on_alt_handler, SA_ONSTACK);
  raise(SIGUSR2);
  printf("SA_ONSTACK: on altstack=%d flags inside=%d\n", on_alt, alt_flags_inside);
  stack_t cur;
  sigaltstack(NULL, &cur);
  printf("after: flags=%d size ok=%d\n", cur.ss_flags, cur.ss_size == sizeof altstack);

  ss.ss_flags = SS_AUTODISARM;
  OK(sigaltstack(&ss, NULL));
  raise(SIGUSR2);
  printf("SS_AUTODISARM: on altstack=%d flags inside=%d\n", on_alt, alt_flags_inside);
  sigaltstack(NULL, &cur);
  printf("after: flags=%#x\n", (unsigned)cur.ss_flags);

  catch(SIGUSR2, on_alt_handler, 0);
  raise(SIGUSR2);
  printf("without SA_ONSTACK: on altstack=%d\n", on_alt);
  ss.ss_flags = SS_DISABLE;
  OK(sigaltstack(&ss, NULL));
  ss.ss_flags = 0;
  ss.ss_size = 100;
  SHOW(sigaltstack(&ss, NULL));
  ss.ss_flags = 12345;
  ss.ss_size = sizeof altstack;
  SHOW(sigaltstack(&ss, NULL));
}

// ---------------------------------------------------------------- flags

static volatile int depth, max_depth, in_mask;

static void on_usr1_flags(int sig, siginfo_t* si, void* uc) {
  sigset_t cur;
  sigprocmask(SIG_SETMASK, NULL, &cur);
  in_mask = sigismember(&cur, sig);
  depth++;
  if (depth > max_depth) max_depth = depth;
  if (count++ < 2) raise(sig);
  depth--;
}

static void flags(void) {
  struct sigaction old;
  catch(SIGUSR1, on_usr1_flags, SA_RESETHAND);
  count = 0;
  max_depth = 0;
  signal(SIGUSR2, SIG_IGN);
  // With SA_RESETHAND the second raise() hits SIG_DFL: use a sub-process.
  pid_t pid = fork();
  if (pid == 0) {
    raise(SIGUSR1);
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  printf("SA_RESETHAND child: signaled=%d sig=%d\n", WIFSIGNALED(status), WTERMSIG(status));
  count = 2;  // no re-raise
  raise(SIGUSR1);
  sigaction(SIGUSR1, NULL, &old);
  printf("SA_RESETHAND: in mask=%d, now SIG_DFL=%d\n", in_mask, old.sa_handler == SIG_DFL);

  catch(SIGUSR1, on_usr1_flags, SA_NODEFER);
  count = 0;
  max_depth = 0;
  raise(SIGUSR1);
  printf("SA_NODEFER: in mask=%d max depth=%d\n", in_mask, max_depth);

  catch(SIGUSR1, on_usr1_flags, 0);
  count = 0;
  max_depth = 0;
  raise(SIGUSR1);
  printf("default: in mask=%d max depth=%d count=%d\n", in_mask, max_depth, count);
}

// ---------------------------------------------------------------- waiting

static volatile int usr_count, alrm_count;
static void on_usr(int sig, siginfo_t* si, void* uc) { usr_count++; }
static void on_alrm(int sig, siginfo_t* si, void* uc) { alrm_count++; }

static void waiting(void) {
  catch(SIGUSR1, on_usr, 0);
  usr_count = 0;
  OK(kill(getpid(), SIGUSR1));
  printf("delivered before kill returned: %d\n", usr_count);

  // sigsuspend: blocked and pending, delivered inside, mask restored after.
  sigset_t block, empty, cur;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigemptyset(&empty);
  sigprocmask(SIG_BLOCK, &block, NULL);
  raise(SIGUSR1);
  printf("pending while blocked: count=%d\n", usr_count);
  SHOW(sigsuspend(&empty));
  sigprocmask(SIG_SETMASK, NULL, &cur);
  printf("after sigsuspend: count=%d still blocked=%d\n", usr_count, sigismember(&cur, SIGUSR1));
  sigprocmask(SIG_UNBLOCK, &block, NULL);

  // sigtimedwait and sigqueue.
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  sigprocmask(SIG_BLOCK, &block, NULL);
  union sigval val = {.sival_int = 42};
  OK(sigqueue(getpid(), SIGUSR2, val));
  siginfo_t si;
  struct timespec ts = {0, 10 * 1000 * 1000};
  int r = sigtimedwait(&block, &si, &ts);
  printf("sigtimedwait: %d code=%d value=%d pid_ok=%d\n", r, si.si_code, si.si_value.sival_int,
         si.si_pid == getpid());
  SHOW(sigtimedwait(&block, &si, &ts));
  ts.tv_nsec = -1;
  SHOW(sigtimedwait(&block, &si, &ts));
  sigprocmask(SIG_UNBLOCK, &block, NULL);
  memset(&si, 0, sizeof si);
  si.si_code = SI_KERNEL;
  SHOW(syscall(SYS_rt_sigqueueinfo, getppid(), SIGUSR2, &si));

  // A timer interrupting pause().
  catch(SIGALRM, on_alrm, 0);
  struct itimerval it = {{0, 0}, {0, 30 * 1000}};
  OK(setitimer(ITIMER_REAL, &it, NULL));
  SHOW(pause());
  printf("SIGALRM handled %d times\n", alrm_count);

  // alarm() interrupting pause().
  SHOW(alarm(1));
  SHOW(pause());
  printf("SIGALRM handled %d times\n", alrm_count);

  // A timer interrupting a busy loop (no syscalls in it).
  it.it_value.tv_usec = 20 * 1000;
  OK(setitimer(ITIMER_REAL, &it, NULL));
  while (alrm_count < 3) {
  }
  printf("busy loop interrupted: %d\n", alrm_count);
}

// ---------------------------------------------------------------- SA_RESTART

static void restart(int flags) {
  catch(SIGALRM, on_alrm, flags);
  int p[2];
  pipe(p);
  pid_t pid = fork();
  if (pid == 0) {
    usleep(300 * 1000);
    write(p[1], "x", 1);
    _exit(0);
  }
  struct itimerval it = {{0, 0}, {0, 50 * 1000}};
  setitimer(ITIMER_REAL, &it, NULL);
  char c = 0;
  errno = 0;
  long r = read(p[0], &c, 1);
  printf("read with%s SA_RESTART: %ld %s c=%c\n", flags ? "" : "out", r, errname(errno),
         r == 1 ? c : '-');
  waitpid(pid, NULL, 0);
  close(p[0]);
  close(p[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  faults();
  fpu();
  alt();
  flags();
  waiting();
  restart(SA_RESTART);
  restart(0);
  printf("done\n");
  return 0;
}
