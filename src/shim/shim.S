/* The guest shim: the only guest code elfuse provides.
 *
 * PVM backend: .shim_entry, the exception stubs and shim_boot.
 * Hardware backend: the exception stubs and the shim_hw_* entries below.
 *
 * .shim_entry (one page per vCPU at SHIM_USER_ENTRY(i), user R+X): the
 *   syscall entry. Each vCPU's MSR_LSTAR points at its own copy, so the
 *   RIP-relative references below land in that vCPU's own data (the rest of
 *   the page, SHIM_E_*) and request page (SHIM_R_*, SHIM_REQ_DELTA away).
 *   A user `syscall` lands there still at CPL3 on this platform (PVM), with
 *   RCX = the return address and R11 = RFLAGS, as on any x86-64, and RSP the
 *   user's (never touched: the red zone below it is the program's). The
 *   entry changes no register but RAX, and leaves RFLAGS as R11 says, as
 *   SYSRET does. It answers a call itself (getpid & co, a FUTEX_WAKE_PRIVATE
 *   nobody waits for), or posts it to the host worker of its request page
 *   and waits for the answer, or takes the exit: a store of RAX to the MMIO
 *   doorbell. KVM completes the store and exits with every register in the
 *   sync-regs area; the host runs the syscall, puts the result in RAX,
 *   restores RFLAGS from R11 and resumes at the return address. Which
 *   doorbell store exited tells the host how far the entry got (trap: not
 *   posted; claimed: the worker has the call; answered: RAX holds the
 *   result). docs/internals.md, "Syscalls without an exit".
 *
 * .shim_super (one page at SHIM_SUPER_BASE + SHIM_OFF_KCODE, supervisor):
 *   the exception stubs the IDT points at (CPL0 code is emulated here: keep
 *   it to a handful of instructions), and the boot stub.
 */
#include "shim/shim_abi.h"

#define E(off) shim_entry_start + (off)(%rip)
#define R(off) shim_entry_start + SHIM_REQ_DELTA + (off)(%rip)
#define DOORBELL 0 + SHIM_USER_MMIO
#define PROC(off) 0 + SHIM_USER_PROC + (off)

	.section .rodata.shim_entry, "a"
	.balign 4096
	.globl shim_entry_start, shim_entry_end
	.globl shim_entry_resume_trap, shim_entry_resume_taken_back, shim_entry_resume_claimed
	.globl shim_entry_resume_answered
	.globl shim_entry_epilogue, shim_entry_epilogue_stack, shim_entry_epilogue_done
	.globl shim_entry_epilogue_end
shim_entry_start:
	bt $8, %r11			/* TF: the host steps over the syscall */
	jc .Ltrap
	cmp $39, %rax			/* getpid */
	je .Lgetpid
	cmp $186, %rax			/* gettid */
	je .Lgettid
	cmp $110, %rax			/* getppid */
	je .Lgetppid
	cmp $102, %rax			/* getuid */
	je .Lgetuid
	cmp $107, %rax			/* geteuid */
	je .Lgeteuid
	cmp $104, %rax			/* getgid */
	je .Lgetgid
	cmp $108, %rax			/* getegid */
	je .Lgetegid
	cmp $202, %rax			/* futex */
	je .Lfutex
.Lforward:
	/* To the worker when it serves this call and watches the page now. */
	cmp $SHIM_CHANNEL_NRS, %rax
	jae .Ltrap
	bt %rax, E(SHIM_E_ALLOW)
	jnc .Ltrap
	cmpl $1, R(SHIM_R_AWAKE)
	jne .Ltrap
	cmpl $SHIM_REQ_IDLE, R(SHIM_R_STATE)
	jne .Ltrap
	mov %rax, R(SHIM_R_NR)
	mov %rdi, R(SHIM_R_ARGS)
	mov %rsi, R(SHIM_R_ARGS + 8)
	mov %rdx, R(SHIM_R_ARGS + 16)
	mov %r10, R(SHIM_R_ARGS + 24)
	mov %r8, R(SHIM_R_ARGS + 32)
	mov %r9, R(SHIM_R_ARGS + 40)
	mov %rdx, R(SHIM_R_SAVE_RDX)
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	add E(SHIM_E_SPIN_TICKS), %rax
	mov %rax, R(SHIM_R_DEADLINE)	/* the worker's claim reads it too */
	movl $SHIM_REQ_POSTED, R(SHIM_R_STATE)	/* after the rest (TSO) */
1:	pause
	mov R(SHIM_R_STATE), %eax
	cmp $SHIM_REQ_DONE, %eax
	je .Lanswered
	cmp $SHIM_REQ_REFUSED, %eax
	je .Lrefused
	cmpl $0, E(SHIM_E_EXIT_REQ)
	jne .Lgive_up
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	cmp R(SHIM_R_DEADLINE), %rax
	jb 1b
.Lgive_up:
	/* Take the call back unless the worker claimed it: then the host
	 * waits for the worker's answer. Taken back, it exits through a
	 * doorbell of its own: the worker is not keeping up. */
	mov $SHIM_REQ_POSTED, %eax
	xor %edx, %edx
	lock cmpxchg %edx, R(SHIM_R_STATE)
	mov R(SHIM_R_SAVE_RDX), %rdx
	mov R(SHIM_R_NR), %rax
	jne 2f
	movabs %rax, DOORBELL		/* taken back: the host runs it */
shim_entry_resume_taken_back:
	jmp *%rcx
2:	movabs %rax, DOORBELL
shim_entry_resume_claimed:
	jmp *%rcx
.Lanswered:
	mov R(SHIM_R_RESULT), %rax
	movl $SHIM_REQ_IDLE, R(SHIM_R_STATE)
	mov R(SHIM_R_SAVE_RDX), %rdx
	jmp .Lreturn
.Lrefused:
	movl $SHIM_REQ_IDLE, R(SHIM_R_STATE)
	mov R(SHIM_R_SAVE_RDX), %rdx
	mov R(SHIM_R_NR), %rax
.Ltrap:
	movabs %rax, DOORBELL
shim_entry_resume_trap:
	jmp *%rcx

.Lgetpid:
	movabs PROC(SHIM_P_PID), %rax
	test %rax, %rax
	jns .Lreturn
	mov $39, %eax
	jmp .Ltrap
.Lgetppid:
	/* The parent can die (and the process be reparented) while the guest
	 * runs: the host refreshes the value at every exit, and the entry
	 * answers only SHIM_R_PPID_BUDGET times in a row without one. */
	movabs PROC(SHIM_P_PPID), %rax
	test %rax, %rax
	js 1f
	subl $1, R(SHIM_R_PPID_BUDGET)
	jns .Lreturn
1:	mov $110, %eax
	jmp .Ltrap
.Lgettid:
	mov E(SHIM_E_TID), %rax
	test %rax, %rax
	jns .Lreturn
	mov $186, %eax
	jmp .Ltrap
.Lgetuid:
	mov E(SHIM_E_UID), %rax
	test %rax, %rax
	jns .Lreturn
	mov $102, %eax
	jmp .Ltrap
.Lgeteuid:
	mov E(SHIM_E_EUID), %rax
	test %rax, %rax
	jns .Lreturn
	mov $107, %eax
	jmp .Ltrap
.Lgetgid:
	mov E(SHIM_E_GID), %rax
	test %rax, %rax
	jns .Lreturn
	mov $104, %eax
	jmp .Ltrap
.Lgetegid:
	mov E(SHIM_E_EGID), %rax
	test %rax, %rax
	jns .Lreturn
	mov $108, %eax
	jmp .Ltrap
.Lfutex:
	/* FUTEX_WAKE_PRIVATE of an aligned word of the guest's user range with
	 * no thread of the process in a futex wait: 0 woken (kernel/futex/
	 * waitwake.c futex_wake; a private key needs no page, so an unmapped
	 * word is fine too). The count is raised before a waiter's value check,
	 * and read after the caller's store to the word (mfence): one of the
	 * two sees the other. */
	cmp $129, %rsi
	jne .Lforward
	test $3, %dil
	jnz .Lforward
	movabs $SHIM_TASK_SIZE - 4, %rax
	cmp %rax, %rdi
	mov $202, %eax
	ja .Lforward
	mfence
	movabs PROC(SHIM_P_FUTEX_WAITERS), %eax
	test %eax, %eax
	mov $202, %eax
	jnz .Lforward
	xor %eax, %eax

.Lreturn:				/* RAX = the answer */
	cmpl $0, E(SHIM_E_EXIT_REQ)
shim_entry_epilogue:
	/* From here a signal that stops the vCPU finds the call complete: the
	 * host finishes this return itself (PvmVcpu::settle_in_entry). */
	jne .Lanswered_exit
	mov %rsp, R(SHIM_R_SAVE_RSP)
shim_entry_epilogue_stack:
	lea R(SHIM_R_STACK_TOP), %rsp
	push %r11
	popfq
	mov R(SHIM_R_SAVE_RSP), %rsp
shim_entry_epilogue_done:
	jmp *%rcx
shim_entry_epilogue_end:
.Lanswered_exit:
	movabs %rax, DOORBELL
shim_entry_resume_answered:
	jmp *%rcx
shim_entry_end:

	.section .rodata.shim_super, "a"
	.balign 4096
	.globl shim_super_start, shim_super_end, shim_boot
shim_super_start:
/* Vectors that push an error code: 8, 10-14, 17, 21, 29, 30. */
.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.balign SHIM_EXC_STRIDE
.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	pushq $\vec
.else
	pushq $0
	pushq $\vec
.endif
	jmp exc_common
.endr
	.balign SHIM_EXC_STRIDE
exc_common:
	outb %al, $SHIM_PORT_FAULT	/* exit: the host reads the frame at RSP */
	addq $16, %rsp			/* vector and error code */
	iretq				/* to the (possibly rewritten) frame */

/* Boot: the host points RSP at an iretq frame (rip, cs, rflags, rsp, ss)
 * for the program's first instruction, with every GPR as Linux's execve
 * leaves them. */
shim_boot:
	iretq

/* Hardware backend (SVM/VMX), where CPL 0 is real and cheap.
 *
 * shim_hw_syscall is MSR_LSTAR: a user `syscall` arrives here at CPL 0 with
 * RCX = return address, R11 = user RFLAGS, RSP still the user's, and the
 * flags of MSR_SYSCALL_MASK cleared (IF, TF, DF, AC). `out` exits to the
 * host, which runs the syscall with every register in the sync regs; it
 * then resumes at shim_hw_sysret, or at shim_hw_iret(_flush) when the
 * return cannot be a SYSRET (a signal handler, rt_sigreturn, a TLB flush
 * due, flags SYSRET cannot restore). The host never resumes after an
 * exception stub's `out`: it always chooses one of these returns. */
	.globl shim_hw_syscall, shim_hw_sysret, shim_hw_iret_flush, shim_hw_iret, shim_hw_iretq
shim_hw_syscall:
	outb %al, $SHIM_PORT_SYSCALL
shim_hw_sysret:
	sysretq
/* RSP points at [user RAX, rip, cs, rflags, rsp, ss]. Reloading CR3 drops
 * every non-global translation (the TLB flush that makes the host's page
 * table changes visible, Intel SDM 4.10.4.1, AMD APM 5.5.2). */
shim_hw_iret_flush:
	mov %cr3, %rax
	mov %rax, %cr3
shim_hw_iret:
	popq %rax
shim_hw_iretq:
	iretq
shim_super_end:
	.section .note.GNU-stack,"",@progbits
