# Differential-test corpus: hand-written relocations with awkward addends.
	.text
	.set	noreorder
	.globl	asm_func
	.type	asm_func, @function
asm_func:
	lui	$2, %hi(big_data+0x10ffc)
	lw	$3, %lo(big_data+0x10ffc)($2)
	lui	$2, %hi(gquad-16)
	addiu	$2, $2, %lo(gquad-16)
	lui	$5, %hi(imp_array+0x7ff8)
	lw	$6, %lo(imp_array+0x7ff8)($5)
	lui	$7, %hi(asm_local+0x8000)
	addiu	$7, $7, %lo(asm_local+0x8000)
	lui	$8, %hi(main_entry)
	addiu	$8, $8, %lo(main_entry)
	jal	imp_func
	nop
	jal	asm_static
	nop
	# two HI16 before one LO16 (one %lo completes both), big negative addends
	lui	$9, %hi(asm_bss_end-0x12340)
	lui	$10, %hi(asm_bss_end-0x12340)
	addiu	$9, $9, %lo(asm_bss_end-0x12340)
	lui	$11, %hi(imp_data-0x18000)
	lw	$11, %lo(imp_data-0x18000)($11)
	# a jal with an addend to a global, a local HI16/LO16 pair far into .bss
	jal	main_entry+8
	nop
	lui	$12, %hi(asm_local+0xfff8)
	sw	$0, %lo(asm_local+0xfff8)($12)
	lui	$13, %hi(asm_abs)
	addiu	$13, $13, %lo(asm_abs)
	jr	$31
	addu	$2, $3, $4
	.size	asm_func, .-asm_func

	.type	asm_static, @function
asm_static:
	lui	$2, %hi(asm_words+4)
	jr	$31
	lw	$2, %lo(asm_words+4)($2)
	.size	asm_static, .-asm_static

	.data
	.p2align 2
	.globl	asm_words
	.type	asm_words, @object
asm_words:
	.word	asm_func
	.word	asm_static+4
	.word	main_entry+3
	.word	imp_data-4
	.word	big_data+0x10000
	.word	asm_local+0x7ffc
	.word	0x12345678
	.word	asm_bss_end-4
	.word	imp_void-0x10000
	.word	asm_abs+4
	.size	asm_words, .-asm_words

	# an old-style constructor table entry
	.section .ctors,"aw",@progbits
	.p2align 2
	.word	asm_static

	# an absolute symbol: references to it are final at link time
	.globl	asm_abs
	.set	asm_abs, 0x12345678

	.bss
	.p2align 4
asm_local:
	.space	0x13010
	.globl	asm_bss_end
asm_bss_end:
