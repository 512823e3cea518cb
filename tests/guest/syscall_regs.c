// The registers a syscall leaves, as Linux's SYSRET path does: RAX holds the
// result, RCX the return address, R11 the RFLAGS at the syscall; every other
// general register is unchanged. Checked with CF and DF set before the call.
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>

struct regs {
  uint64_t rax, rcx, r11, flags_before, ret_addr;
  uint64_t rbx, rdx, rsi, rdi, rbp, r8, r9, r10, r12, r13, r14, r15;
};

static void run(struct regs* out, uint64_t nr) {
  uint64_t rax = nr;
  __asm__ volatile(
      "push %%rbp\n\t"
      "push %%rbx\n\t"
      "push %%r12\n\t"
      "push %%r13\n\t"
      "push %%r14\n\t"
      "push %%r15\n\t"
      "push %[out]\n\t"
      "mov $0x1111, %%rbx\n\t"
      "mov $0x2222, %%rdx\n\t"
      "mov $0x3333, %%rsi\n\t"
      "mov $0x4444, %%rdi\n\t"
      "mov $0x5555, %%rbp\n\t"
      "mov $0x6666, %%r8\n\t"
      "mov $0x7777, %%r9\n\t"
      "mov $0x8888, %%r10\n\t"
      "mov $0x9999, %%r12\n\t"
      "mov $0xaaaa, %%r13\n\t"
      "mov $0xbbbb, %%r14\n\t"
      "mov $0xcccc, %%r15\n\t"
      "stc\n\t"
      "std\n\t"
      "pushfq\n\t"
      "pop %%r11\n\t"
      "movq %%r11, %%mm0\n\t"  // flags before, kept out of the GPRs
      "syscall\n\t"
      "1:\n\t"
      "cld\n\t"
      "xchg %%r11, (%%rsp)\n\t"  // r11 = out, saved r11 on the stack
      "mov %%rax, 0(%%r11)\n\t"
      "mov %%rcx, 8(%%r11)\n\t"
      "pop %%rax\n\t"
      "mov %%rax, 16(%%r11)\n\t"
      "movq %%mm0, %%rax\n\t"
      "mov %%rax, 24(%%r11)\n\t"
      "lea 1b(%%rip), %%rax\n\t"
      "mov %%rax, 32(%%r11)\n\t"
      "mov %%rbx, 40(%%r11)\n\t"
      "mov %%rdx, 48(%%r11)\n\t"
      "mov %%rsi, 56(%%r11)\n\t"
      "mov %%rdi, 64(%%r11)\n\t"
      "mov %%rbp, 72(%%r11)\n\t"
      "mov %%r8, 80(%%r11)\n\t"
      "mov %%r9, 88(%%r11)\n\t"
      "mov %%r10, 96(%%r11)\n\t"
      "mov %%r12, 104(%%r11)\n\t"
      "mov %%r13, 112(%%r11)\n\t"
      "mov %%r14, 120(%%r11)\n\t"
      "mov %%r15, 128(%%r11)\n\t"
      "emms\n\t"
      "pop %%r15\n\t"
      "pop %%r14\n\t"
      "pop %%r13\n\t"
      "pop %%r12\n\t"
      "pop %%rbx\n\t"
      "pop %%rbp\n\t"
      : "+a"(rax)
      : [out] "r"(out)
      : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
}

static void show(const char* name, uint64_t nr) {
  struct regs r;
  run(&r, nr);
  printf("%s: rax %s, rcx == return address: %s, r11 == rflags: %s (CF %d DF %d)\n", name,
         (int64_t)r.rax < 0 ? "negative" : "non-negative", r.rcx == r.ret_addr ? "yes" : "no",
         r.r11 == r.flags_before ? "yes" : "no", (int)(r.r11 & 1), (int)(r.r11 >> 10 & 1));
  int kept = r.rbx == 0x1111 && r.rdx == 0x2222 && r.rsi == 0x3333 && r.rdi == 0x4444 &&
             r.rbp == 0x5555 && r.r8 == 0x6666 && r.r9 == 0x7777 && r.r10 == 0x8888 &&
             r.r12 == 0x9999 && r.r13 == 0xaaaa && r.r14 == 0xbbbb && r.r15 == 0xcccc;
  printf("%s: other registers kept: %s\n", name, kept ? "yes" : "no");
}

int main(void) {
  show("getppid", SYS_getppid);
  show("unknown syscall", 100000);
  show("bad fd close", SYS_close);  // rdi = 0x4444: EBADF
  return 0;
}
