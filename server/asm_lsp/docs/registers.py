"""A64 register, system-register and condition-code reference (AAPCS64 roles included).

Vector registers take arrangements (``v0.4s``) and element indexes (``v1.s[2]``); the lookup
in ``asm_lsp.docs`` strips those and describes them with ``ARRANGEMENTS``.
"""

from __future__ import annotations

# AAPCS64 role of general register number n: (first, last, role).
GPR_ROLES: tuple[tuple[int, int, str], ...] = (
    (0, 0, "argument 1 and result register; caller-saved"),
    (1, 7, "argument register (also a result register for multi-register results); caller-saved"),
    (8, 8, "indirect result location register: address where a large struct result is written; caller-saved"),
    (9, 15, "temporary register; caller-saved"),
    (16, 16, "IP0, intra-procedure-call scratch (used by linker veneers and PLT stubs); caller-saved"),
    (17, 17, "IP1, intra-procedure-call scratch (used by linker veneers and PLT stubs); caller-saved"),
    (18, 18, "platform register: reserved on some platforms (shadow call stack, Windows TEB, Apple), "
             "otherwise a temporary"),
    (19, 28, "callee-saved register: a function must preserve it"),
    (29, 29, "frame pointer (FP); callee-saved, points at the saved {FP, LR} pair of the frame record"),
    (30, 30, "link register (LR): return address written by BL/BLR; saved in the frame record"),
)

# SIMD&FP register number ranges: (first, last, role).
VREG_ROLES: tuple[tuple[int, int, str], ...] = (
    (0, 7, "FP/SIMD argument and result register; caller-saved"),
    (8, 15, "callee-saved in its low 64 bits only (d8-d15); the upper half is caller-saved"),
    (16, 31, "temporary register; caller-saved"),
)

# View prefix -> (width in bits, description).
VREG_VIEWS: tuple[tuple[str, int, str], ...] = (
    ("v", 128, "SIMD&FP vector register"),
    ("q", 128, "128-bit view of vector register"),
    ("d", 64, "64-bit (double) view of vector register"),
    ("s", 32, "32-bit (single) view of vector register"),
    ("h", 16, "16-bit (half) view of vector register"),
    ("b", 8, "8-bit view of vector register"),
)

# Vector arrangement suffix -> meaning.
ARRANGEMENTS: tuple[tuple[str, str], ...] = (
    ("16b", "16 bytes (128-bit)"), ("8b", "8 bytes (64-bit)"), ("8h", "8 halfwords (128-bit)"),
    ("4h", "4 halfwords (64-bit)"), ("4s", "4 words (128-bit)"), ("2s", "2 words (64-bit)"),
    ("2d", "2 doublewords (128-bit)"), ("1d", "1 doubleword (64-bit)"), ("1q", "1 quadword (128-bit)"),
    ("4b", "4 bytes (32-bit, dot-product index group)"), ("2h", "2 halfwords (32-bit)"),
)
ELEMENT_SIZES: tuple[tuple[str, str], ...] = (
    ("b", "byte"), ("h", "halfword"), ("s", "32-bit word"), ("d", "64-bit doubleword"), ("q", "128-bit quadword"),
)

# Fixed names: (name, summary).
SPECIAL: tuple[tuple[str, str], ...] = (
    ("sp", "Stack pointer (64-bit). Must stay 16-byte aligned at any memory access through it; "
           "usable only where an instruction allows SP (ADD/SUB immediate, loads/stores base)."),
    ("wsp", "Low 32 bits of the stack pointer."),
    ("xzr", "64-bit zero register: reads as 0, writes are discarded (same encoding as SP in other contexts)."),
    ("wzr", "32-bit zero register: reads as 0, writes are discarded."),
    ("fp", "Frame pointer, an alias of X29; callee-saved, points at the saved {FP, LR} frame record."),
    ("lr", "Link register, an alias of X30: return address written by BL/BLR, used by RET."),
    ("ip0", "Alias of X16, intra-procedure-call scratch register; caller-saved."),
    ("ip1", "Alias of X17, intra-procedure-call scratch register; caller-saved."),
    ("pc", "Program counter; not a general register in A64, only used implicitly (ADR, literal loads, branches)."),
)

SYSTEM: tuple[tuple[str, str], ...] = (
    ("nzcv", "Condition flags: N (negative), Z (zero), C (carry / no borrow), V (signed overflow). Read/written with MRS/MSR."),
    ("fpcr", "Floating-point control register: rounding mode, flush-to-zero, default NaN, trap enables."),
    ("fpsr", "Floating-point status register: cumulative exception flags (IOC, DZC, OFC, UFC, IXC) and QC saturation."),
    ("tpidr_el0", "Thread pointer register for user space: base of the thread-local storage block (read by TLS accesses)."),
    ("tpidrro_el0", "Read-only (from EL0) thread ID register, written by the OS."),
    ("tpidr_el1", "Kernel thread ID register (per-CPU data pointer in Linux)."),
    ("cntvct_el0", "Virtual counter value: a monotonically increasing 64-bit timer readable from user space."),
    ("cntpct_el0", "Physical counter value."),
    ("cntfrq_el0", "Counter frequency in Hz for the system timer."),
    ("ctr_el0", "Cache type register: cache line sizes used for cache maintenance loops."),
    ("dczid_el0", "Block size (and prohibition bit) for DC ZVA."),
    ("midr_el1", "Main ID register: implementer, part number and revision of the core."),
    ("mpidr_el1", "Multiprocessor affinity register: identifies the core in the cluster."),
    ("currentel", "Current exception level (bits [3:2])."),
    ("daif", "Interrupt mask bits D, A, I, F."),
    ("spsel", "Stack pointer select: SP_EL0 or SP_ELx at the current exception level."),
    ("sp_el0", "User-mode stack pointer, accessible from EL1 and above."),
    ("elr_el1", "Exception link register: return address for ERET from EL1."),
    ("spsr_el1", "Saved program status register on exception entry to EL1."),
    ("esr_el1", "Exception syndrome register: the cause of an exception taken to EL1."),
    ("far_el1", "Fault address register: the faulting virtual address."),
    ("vbar_el1", "Vector base address register: exception vector table for EL1."),
    ("sctlr_el1", "System control register: MMU, caches, alignment checking at EL0/EL1."),
    ("ttbr0_el1", "Translation table base register 0 (lower, user address range)."),
    ("ttbr1_el1", "Translation table base register 1 (upper, kernel address range)."),
    ("tcr_el1", "Translation control register: address-space sizes and granule for EL0/EL1."),
    ("mair_el1", "Memory attribute indirection register."),
    ("id_aa64isar0_el1", "Instruction set attribute register 0: reports AES, SHA, CRC32, atomics, dot product..."),
    ("id_aa64pfr0_el1", "Processor feature register 0: reports FP, AdvSIMD, SVE, EL support."),
    ("rndr", "Random number register (FEAT_RNG); reading sets NZCV to 0b0100 on failure."),
    ("rndrrs", "Reseeded random number register (FEAT_RNG)."),
)

# Condition codes: (name, meaning, flag test).
CONDITIONS: tuple[tuple[str, str, str], ...] = (
    ("eq", "equal", "Z == 1"),
    ("ne", "not equal", "Z == 0"),
    ("cs", "carry set / unsigned higher or same (same as HS)", "C == 1"),
    ("hs", "unsigned higher or same (same as CS)", "C == 1"),
    ("cc", "carry clear / unsigned lower (same as LO)", "C == 0"),
    ("lo", "unsigned lower (same as CC)", "C == 0"),
    ("mi", "minus, negative", "N == 1"),
    ("pl", "plus, positive or zero", "N == 0"),
    ("vs", "signed overflow", "V == 1"),
    ("vc", "no signed overflow", "V == 0"),
    ("hi", "unsigned higher", "C == 1 && Z == 0"),
    ("ls", "unsigned lower or same", "C == 0 || Z == 1"),
    ("ge", "signed greater than or equal", "N == V"),
    ("lt", "signed less than", "N != V"),
    ("gt", "signed greater than", "Z == 0 && N == V"),
    ("le", "signed less than or equal", "Z == 1 || N != V"),
    ("al", "always", "any flags"),
    ("nv", "always (behaves like AL; reserved encoding)", "any flags"),
)
