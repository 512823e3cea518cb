/* The guest shim: the only guest code elfuse provides.
 *
 * PVM backend: .shim_user, the exception stubs and shim_boot.
 * Hardware backend: the exception stubs and the shim_hw_* entries below.
 *
 * .shim_user  (one page at SHIM_USER_BASE, user R+X): the syscall stub.
 *   A user `syscall` lands at MSR_LSTAR still at CPL3 on this platform (PVM),
 *   with RCX = the return address and R11 = RFLAGS, as on any x86-64. The
 *   stub stores RAX to the MMIO doorbell page: KVM completes the store and
 *   exits to the host with every register in the sync-regs area. The host
 *   runs the syscall, puts the result in RAX (and restores RFLAGS from R11,
 *   as SYSRET does), and resumes at the `jmp *%rcx`.
 *
 * .shim_super (one page at SHIM_SUPER_BASE + SHIM_OFF_KCODE, supervisor):
 *   the exception stubs the IDT points at (CPL0 code is emulated here: keep
 *   it to a handful of instructions), and the boot stub.
 */
#include "shim/shim_abi.h"

	.section .rodata.shim_user, "a"
	.balign 4096
	.globl shim_user_start, shim_user_end
	.globl shim_syscall_entry, shim_syscall_resume
shim_user_start:
shim_syscall_entry:
	mov %rax, shim_user_start + 0x1000(%rip)	/* SHIM_USER_MMIO */
shim_syscall_resume:
	jmp *%rcx
shim_user_end:

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
