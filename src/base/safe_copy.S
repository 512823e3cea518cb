/* The fault-tolerant routines of base/safe_copy.h.
 *
 * Each instruction that may touch absent memory lies in a [start, end)
 * range of elfuse_safe_copy_fixups; the SIGSEGV/SIGBUS handler
 * (safe_copy.cc) moves a fault there to the range's fixup, with every other
 * register as the fault left it. The idea is the kernel's exception table
 * (arch/x86/include/asm/extable.h, arch/x86/lib/copy_user_64.S): a copy
 * stops at the first byte it cannot reach and says how many were left.
 *
 * The handler enters a fixup with the direction flag clear (the kernel
 * clears it for a handler, and the ABI has it clear at every call).
 */

	.text

/* size_t elfuse_safe_copy(void *dst, const void *src, size_t n):
 * the number of bytes not copied. rep movsb leaves RDI, RSI and RCX at the
 * point of the fault; a fast-string copy may stop a little before the
 * faulting byte, so the fixup finishes a byte at a time, which makes the
 * count exact: the bytes before the first one that faults are copied. */
	.globl elfuse_safe_copy
	.type elfuse_safe_copy, @function
	.p2align 4
elfuse_safe_copy:
	movq %rdx, %rcx
.Lcopy_start:
	rep movsb
.Lcopy_end:
	xorl %eax, %eax
	ret
.Lcopy_tail:
	testq %rcx, %rcx
	jz .Lcopy_done
.Lbyte_start:
	movb (%rsi), %al
	movb %al, (%rdi)
.Lbyte_end:
	incq %rsi
	incq %rdi
	decq %rcx
	jnz .Lbyte_start
.Lcopy_done:
	movq %rcx, %rax
	ret
	.size elfuse_safe_copy, .-elfuse_safe_copy

/* bool elfuse_safe_load32(const uint32_t *p, uint32_t *out) */
	.globl elfuse_safe_load32
	.type elfuse_safe_load32, @function
	.p2align 4
elfuse_safe_load32:
.Lload_start:
	movl (%rdi), %eax
.Lload_end:
	movl %eax, (%rsi)
	movl $1, %eax
	ret
.Lload_fixup:
	xorl %eax, %eax
	ret
	.size elfuse_safe_load32, .-elfuse_safe_load32

/* int elfuse_safe_cmpxchg32(uint32_t *p, uint32_t *expected, uint32_t desired):
 * 1 swapped, 0 not (*expected = the value seen), -1 fault. */
	.globl elfuse_safe_cmpxchg32
	.type elfuse_safe_cmpxchg32, @function
	.p2align 4
elfuse_safe_cmpxchg32:
	movl (%rsi), %eax
.Lcas_start:
	lock cmpxchgl %edx, (%rdi)
.Lcas_end:
	jne 1f
	movl $1, %eax
	ret
1:
	movl %eax, (%rsi)
	xorl %eax, %eax
	ret
.Lcas_fixup:
	movl $-1, %eax
	ret
	.size elfuse_safe_cmpxchg32, .-elfuse_safe_cmpxchg32

/* The restorer of the handler, installed with the raw rt_sigaction (which
 * on x86_64 needs SA_RESTORER): rt_sigreturn. */
	.globl elfuse_safe_copy_sigreturn
	.type elfuse_safe_copy_sigreturn, @function
	.p2align 4
elfuse_safe_copy_sigreturn:
	movq $15, %rax
	syscall
	.size elfuse_safe_copy_sigreturn, .-elfuse_safe_copy_sigreturn

/* { start, end, fixup } per range (absolute addresses: relocated at start-up
 * in the static PIE). */
	.section .data.rel.ro, "aw"
	.p2align 3
	.globl elfuse_safe_copy_fixups
	.type elfuse_safe_copy_fixups, @object
elfuse_safe_copy_fixups:
	.quad .Lcopy_start, .Lcopy_end, .Lcopy_tail
	.quad .Lbyte_start, .Lbyte_end, .Lcopy_done
	.quad .Lload_start, .Lload_end, .Lload_fixup
	.quad .Lcas_start, .Lcas_end, .Lcas_fixup
	.size elfuse_safe_copy_fixups, .-elfuse_safe_copy_fixups
	.globl elfuse_safe_copy_nfixups
	.type elfuse_safe_copy_nfixups, @object
elfuse_safe_copy_nfixups:
	.quad 4
	.size elfuse_safe_copy_nfixups, .-elfuse_safe_copy_nfixups

	.section .note.GNU-stack, "", @progbits
