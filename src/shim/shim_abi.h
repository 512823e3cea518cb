/* The shim's ABI, shared by the assembly (shim.S) and the host (C++).
 *
 * Guest virtual layout (PVM backend):
 *   [kShimUserBase, +4 KiB)   process page, user R: values the syscall entry
 *                             answers from (pid, ppid) and the futex waiter
 *                             count. The guest's user range ends at
 *                             kShimUserBase.
 *   [+4 KiB, +8 KiB)          user page whose PTE points at an unbacked
 *                             guest-physical address: a store there is an
 *                             MMIO exit to the host (the syscall doorbell).
 *   [+1 MiB, +5 MiB)          entry page of vCPU i at +1 MiB + i * 4 KiB,
 *                             user R+X: that vCPU's copy of the syscall entry
 *                             (its MSR_LSTAR) and, from SHIM_E_*, its ids.
 *   [+5 MiB, +9 MiB)          request page of vCPU i, user RW: the exitless
 *                             channel to the host worker (SHIM_R_*).
 *   [kShimSuperBase, ...)     supervisor pages (no U bit): GDT+TSS, IDT,
 *                             exception stubs, kernel stack.
 * Guest-physical layout of the shim: the first pages of guest memory.
 * docs/internals.md, "The shim protocol" and "Syscalls without an exit".
 */
#ifndef ELFUSE_SHIM_SHIM_ABI_H
#define ELFUSE_SHIM_SHIM_ABI_H

#ifdef __ASSEMBLER__
#define SHIM_UL(x) x
#else
#define SHIM_UL(x) x##UL
#endif

/* User half: just below the top of Linux's user range (0x7ffffffff000). */
#define SHIM_USER_BASE SHIM_UL(0x7fffff000000)
#define SHIM_USER_PROC SHIM_USER_BASE
#define SHIM_USER_MMIO (SHIM_USER_BASE + 0x1000)
#define SHIM_USER_ENTRIES (SHIM_USER_BASE + 0x100000)
#define SHIM_REQ_DELTA 0x400000 /* entry page of vCPU i -> its request page */
#define SHIM_USER_ENTRY(i) (SHIM_USER_ENTRIES + (i)*0x1000)
#define SHIM_USER_REQ(i) (SHIM_USER_ENTRY(i) + SHIM_REQ_DELTA)
/* End of the user range handed to the guest (TASK_SIZE). */
#define SHIM_TASK_SIZE SHIM_USER_BASE

/* Supervisor half (no U bit at any level). */
#define SHIM_SUPER_BASE SHIM_UL(0xffffffff80000000)
/* Offsets inside the supervisor area and inside guest-physical memory
 * (the area maps guest-physical [0, SHIM_SUPER_SIZE) one to one). */
#define SHIM_OFF_GDT 0x0000 /* GDT; TSS at +0x100 */
#define SHIM_OFF_TSS 0x0100
#define SHIM_OFF_IDT 0x1000
#define SHIM_OFF_KCODE 0x2000  /* supervisor code page (shim.S .shim_super) */
#define SHIM_OFF_KSTACK 0x3000 /* kernel stack: 2 pages, top at 0x5000 */
#define SHIM_KSTACK_TOP 0x5000
#define SHIM_OFF_UPROC 0x5000 /* physical page of the process page */
#define SHIM_SUPER_SIZE 0x6000
/* Physical pages of the per-vCPU entry and request pages, 4 KiB each. */
#define SHIM_OFF_UENTRY(i) (0x200000 + (i)*0x1000)
#define SHIM_OFF_UREQ(i) (0x600000 + (i)*0x1000)
#define SHIM_PHYS_END 0xa00000 /* guest-physical [0, 10 MiB) belongs to the shim */

/* Per-vCPU area: every vCPU has its own TSS (RSP0) and kernel stack, as
 * every CPU has its own under Linux (arch/x86/kernel/cpu/common.c
 * cpu_init: per-CPU TSS and entry stack), because two threads can take an
 * exception at the same time. Slot i (the KVM vCPU id) lies at
 * SHIM_OFF_VCPUS + i * SHIM_VCPU_SLOT: the TSS at +0 (0x68 bytes), the
 * kernel stack below the end of the slot. An exception frame is 56 bytes. */
#define SHIM_OFF_VCPUS 0x100000
#define SHIM_VCPU_SLOT 0x400
#define SHIM_MAX_VCPUS 1024 /* fills [1 MiB, 2 MiB) */
#define SHIM_VCPU_TSS(i) (SHIM_OFF_VCPUS + (i)*SHIM_VCPU_SLOT)
#define SHIM_VCPU_KSTACK_TOP(i) (SHIM_OFF_VCPUS + ((i) + 1) * SHIM_VCPU_SLOT)

/* Unbacked guest-physical page the user MMIO page points at. Outside every
 * memslot and below the guest's MAXPHYADDR. */
#define SHIM_MMIO_GPA SHIM_UL(0x10000000000)

/* GDT selectors, Linux's layout (arch/x86/include/asm/segment.h). */
#define SHIM_KERNEL_CS 0x10
#define SHIM_KERNEL_DS 0x18
#define SHIM_USER32_CS 0x23
#define SHIM_USER_DS 0x2b
#define SHIM_USER_CS 0x33
#define SHIM_TSS_SEL 0x40

/* Exception stubs: 32 vectors, SHIM_EXC_STRIDE bytes each, from the start
 * of the supervisor code page. Each pushes (error code, vector) and exits
 * with `out` to SHIM_PORT_FAULT; the host reads the frame at RSP:
 *   [rsp] vector, [rsp+8] error code, [rsp+16] rip, cs, rflags, rsp, ss. */
#define SHIM_EXC_STRIDE 16
#define SHIM_EXC_COUNT 32
#define SHIM_PORT_FAULT 0xe9

/* Process page (SHIM_USER_PROC). The host writes it; the guest only reads.
 * An id below 0 means "not answered here": the entry takes the exit. */
#define SHIM_P_PID 0x00  /* int64 */
#define SHIM_P_PPID 0x08 /* int64 */
/* uint32: guest threads now in a host futex wait (any kind); a FUTEX_WAKE_PRIVATE
 * is answered 0 by the entry only while it is 0. Bit 31 set: never. */
#define SHIM_P_FUTEX_WAITERS 0x40

/* Entry page of a vCPU (SHIM_USER_ENTRY(i)): code from offset 0, then data
 * the host writes and the guest reads. */
#define SHIM_E_DATA 0x800
#define SHIM_E_TID 0x800 /* int64 ids, < 0: the host answers */
#define SHIM_E_UID 0x808
#define SHIM_E_EUID 0x810
#define SHIM_E_GID 0x818
#define SHIM_E_EGID 0x820
/* uint32: nonzero: the entry leaves through the doorbell at its next check
 * (the host wants the vCPU back: a signal arrived while it ran the entry). */
#define SHIM_E_EXIT_REQ 0x840
/* uint64: TSC ticks the entry waits for the worker's answer. */
#define SHIM_E_SPIN_TICKS 0x848
/* 512-bit map, bit n: syscall n may go to the worker (all 0: none does). */
#define SHIM_E_ALLOW 0x880
#define SHIM_CHANNEL_NRS 512

/* Request page of a vCPU (SHIM_USER_REQ(i)): guest-writable, so every
 * field is hostile input to the host, which reads each one once. */
#define SHIM_R_STATE 0x00 /* uint32, SHIM_REQ_* */
#define SHIM_R_AWAKE 0x04 /* uint32: 1 while the worker watches STATE */
#define SHIM_R_NR 0x08
#define SHIM_R_ARGS 0x10 /* 6 x uint64 */
#define SHIM_R_RESULT 0x40
#define SHIM_R_SAVE_RDX 0x48
/* uint64: the entry's TSC when it posted + SPIN_TICKS, written before STATE
 * says POSTED (the worker's claim latency, statistics only). */
#define SHIM_R_DEADLINE 0x50
#define SHIM_R_SAVE_RSP 0x58
/* int32: getppid answers left before the entry asks the host again. */
#define SHIM_R_PPID_BUDGET 0x60
#define SHIM_R_STACK_TOP 0x100 /* the entry's own stack (one push) */
#define SHIM_REQ_IDLE 0
#define SHIM_REQ_POSTED 1  /* by the entry: NR and ARGS are set */
#define SHIM_REQ_CLAIMED 2 /* by the worker: it runs the call */
#define SHIM_REQ_DONE 3    /* by the worker: RESULT is set */
#define SHIM_REQ_REFUSED 4 /* by the worker: not its call; the entry exits */

/* Hardware backend (AMD SVM, Intel VMX): a user `syscall` enters
 * shim_hw_syscall at CPL 0, which exits with `out` to SHIM_PORT_SYSCALL.
 * The exception gates use IST 1, the top of the vCPU's slot, so an
 * exception taken at CPL 0 (on the user's RSP, right after `syscall`) still
 * lands on a known stack. The return to user mode goes through an iretq
 * frame the host writes below the IST stack's top, preceded by the user's
 * RAX: [rax, rip, cs, rflags, rsp, ss] (shim_hw_iret). With no user stub
 * page the user range is Linux's own. */
#define SHIM_PORT_SYSCALL 0xea
#define SHIM_HW_IRET_FRAME(i) (SHIM_VCPU_KSTACK_TOP(i) - 64)
/* The double fault (#DF) has a stack of its own, IST 2, in the middle of
 * the slot: a #DF raised while an exception was being pushed on IST 1
 * still reaches the host (which reports it) rather than becoming a triple
 * fault. */
#define SHIM_HW_DF_STACK_TOP(i) (SHIM_VCPU_TSS(i) + 0x200)
#define SHIM_HW_TASK_SIZE SHIM_UL(0x7ffffffff000)

#endif
