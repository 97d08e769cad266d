# Differential-test corpus: a tiny resident, linked by GNU ld at the profile's
# resident_base, that provides the imports of main.c, other.c, asm_refs.s and
# lib_a.c.  The .bss placement (linker script in tests/test_ld_oracle.py puts
# .bss at a 64 KiB boundary) makes imp_data's low half >= 0x8000 (HI16 carry)
# and imp_array straddle a 0x8000 boundary.
	.text
	.set	noreorder
	.space	0x100
	.globl	imp_func
	.type	imp_func, @function
imp_func:
	jr	$31
	addiu	$2, $4, 1
	.size	imp_func, .-imp_func
	.space	0xf8
	.globl	imp_void
	.type	imp_void, @function
imp_void:
	jr	$31
	nop
	.size	imp_void, .-imp_void

	.bss
	.space	0x7ff8
	.globl	imp_array
	.type	imp_array, @object
imp_array:
	.space	0x8010
	.size	imp_array, .-imp_array
	.space	0xc338
	.globl	imp_data
	.type	imp_data, @object
imp_data:
	.space	4
	.size	imp_data, 4
	.p2align 16
	.globl	imp_table
	.type	imp_table, @object
imp_table:
	.space	0x9010
	.size	imp_table, .-imp_table
