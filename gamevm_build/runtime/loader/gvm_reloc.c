/*
 * gvm_reloc.c - the relocation types a console applies, one table per CPU family.
 *
 * The same arithmetic as the host's recipes (gamevm_build/arch/<family>.py, whose
 * docstrings cite the ABIs); modules carry RELA with full addends, so nothing
 * here pairs HI16 with LO16.  PC-relative types never reach a loader: the
 * linker resolves them inside the module.  Fields are patched a byte at a time
 * in the CPU's byte order because relocation sites need not be aligned.
 */
#include "gvm_int.h"

static __attribute__((unused)) u32 rd(const u8 *p, u32 size)
{
    u32 v = 0, i;
    for (i = 0; i < size; i++)
#if GVM_BIG_ENDIAN
        v = v << 8 | p[i];
#else
        v |= (u32)p[i] << (i << 3);
#endif
    return v;
}

static void wr(u8 *p, u32 v, u32 size)
{
    u32 i;
    for (i = 0; i < size; i++)
#if GVM_BIG_ENDIAN
        p[i] = (u8)(v >> ((size - 1 - i) << 3));
#else
        p[i] = (u8)(v >> (i << 3));
#endif
}

u32 gvm_reloc_size(u32 family, u32 type)
{
    switch (family) {
    case GVM_FAMILY_MIPS:          /* R_MIPS_32, _26, _HI16, _LO16 */
        return type == 2 || type == 4 || type == 5 || type == 6 ? 4 : 0;
    case GVM_FAMILY_M68K:          /* R_68K_32, _16, _8 */
        return type == 1 ? 4 : type == 2 ? 2 : type == 3 ? 1 : 0;
    default:                       /* R_ARM_ABS32, R_ARM_TARGET1 */
        return type == 2 || type == 38 ? 4 : 0;
    }
}

#if defined(__mips__)
enum { R_32 = 2, R_26 = 4, R_HI16 = 5, R_LO16 = 6 };

u32 gvm_reloc_may_overflow(u32 type)
{
    return type == R_26;
}

int gvm_reloc_check(u32 type, u32 S, u32 A, u32 P)
{
    u32 target = S + A;
    if (type != R_26)
        return 0;
    /* j/jal reach only their own 256 MB segment (the one of the delay slot) */
    return (target & 3) || (target & 0xF0000000u) != ((P + 4) & 0xF0000000u) ? -1 : 0;
}

/* The addend a packed module keeps in the field at `site` (gamevm_build.link.packrel):
 * a word, a jump's target, a half (HI16 and LO16: the low 16 bits). */
u32 gvm_reloc_field(u32 type, const u8 *site)
{
    u32 word = (u32)site & 3 ? rd(site, 4) : *(const gvm_word *)(const void *)site;
    return type == R_32 ? word : type == R_26 ? (word & 0x3FFFFFFu) << 2 : word & 0xFFFFu;
}

/* The relocation loop: RELA entries in the CPU's byte order (the module was checked to
 * be this console's), S[symbol] the value of each symbol.  A field that does not fit
 * is left alone: the check before writing let only unresolved weak imports through. */
void gvm_relocate(const u8 *rela, u32 n, u32 base, const u32 *S)
{
    const gvm_word *r = (const gvm_word *)(const void *)rela;
    for (; n--; r += 3) {
        u32 off = r[0], type = r[1] & 0xFF, v = S[r[1] >> 8] + r[2];
        u8 *site = (u8 *)(base + off);
        u32 word = off & 3 ? rd(site, 4) : *(gvm_word *)(void *)site;
        switch (type) {
        case R_32: word = v; break;
        case R_26:
            if (gvm_reloc_check(R_26, v, 0, base + off))
                continue;
            word = (word & 0xFC000000u) | (v >> 2 & 0x3FFFFFFu);
            break;
        case R_HI16: word = (word & 0xFFFF0000u) | ((v + 0x8000u) >> 16 & 0xFFFFu); break;
        default: word = (word & 0xFFFF0000u) | (v & 0xFFFFu); break;    /* R_LO16 */
        }
        if (off & 3)
            wr(site, word, 4);
        else
            *(gvm_word *)(void *)site = word;
    }
}


/* `v` follows a call: jal, jalr, or a linking branch, bltzal/bgezal (bal) and on MIPS III
 * (the N64) their branch-likely forms bltzall/bgezall, rt 16 to 19 (the return address
 * skips the delay slot). */
int gvm_after_call(u32 v, u32 lo)
{
    u32 w;
    if ((v & 3) || v - lo < 8)
        return 0;
    w = *(const gvm_word *)(const void *)(v - 8);
    return (w >> 26) == 3 || ((w >> 26) == 0 && (w & 0x3F) == 9) ||
           ((w >> 26) == 1 && (w >> 16 & 0x1C) == 0x10);
}

#elif defined(__m68k__)
enum { R_32 = 1, R_16 = 2, R_8 = 3 };

u32 gvm_reloc_may_overflow(u32 type)
{
    return type == R_16 || type == R_8;
}

int gvm_reloc_check(u32 type, u32 S, u32 A, u32 P)
{
    s32 v = (s32)(S + A);
    (void)P;
    /* absolute short/byte: the value must fit signed or unsigned ("bitfield") */
    if (type == R_16)
        return v >= -0x8000 && v < 0x10000 ? 0 : -1;
    if (type == R_8)
        return v >= -0x80 && v < 0x100 ? 0 : -1;
    return 0;
}

/* The addend a packed module keeps in the field at `site`: the 16- and 8-bit ones
 * sign-extended (the packer stores only what comes back so). */
u32 gvm_reloc_field(u32 type, const u8 *site)
{
    u32 v = rd(site, gvm_reloc_size(GVM_FAMILY_M68K, type));
    return type == R_16 ? (v ^ 0x8000u) - 0x8000u : type == R_8 ? (v ^ 0x80u) - 0x80u : v;
}

void gvm_relocate(const u8 *rela, u32 n, u32 base, const u32 *S)
{
    const gvm_word *r = (const gvm_word *)(const void *)rela;
    for (; n--; r += 3) {
        u32 off = r[0], type = r[1] & 0xFF, v = S[r[1] >> 8] + r[2];
        u8 *site = (u8 *)(base + off);
        if (type == R_32 && !(off & 1))
            *(gvm_word *)(void *)site = v;        /* the 68000 moves longs at even addresses */
        else if (!gvm_reloc_check(type, v, 0, 0))
            wr(site, v, gvm_reloc_size(GVM_FAMILY_M68K, type));
    }
}


/* `v` follows a call: jsr (an), jsr d16(an)/(d8,an,xn)/abs.w/pc-relative, jsr abs.l, bsr. */
int gvm_after_call(u32 v, u32 lo)
{
    const u8 *p = (const u8 *)v;
    u32 n = v - lo, op2, op4, op6;      /* an instruction that would start before lo: 0 */
    if (v & 1)
        return 0;
    op2 = n >= 2 ? rd(p - 2, 2) : 0;
    op4 = n >= 4 ? rd(p - 4, 2) : 0;
    op6 = n >= 6 ? rd(p - 6, 2) : 0;
    return (op2 & 0xFFF8) == 0x4E90 || ((op2 & 0xFF00) == 0x6100 && (op2 & 0xFF)) ||
           (op4 & 0xFFF8) == 0x4EA8 || (op4 & 0xFFF8) == 0x4EB0 || op4 == 0x4EB8 ||
           op4 == 0x4EBA || op4 == 0x4EBB || op4 == 0x6100 || op6 == 0x4EB9;
}

#elif defined(__arm__)
u32 gvm_reloc_may_overflow(u32 type)
{
    (void)type;
    return 0;                      /* only words: every value fits */
}

int gvm_reloc_check(u32 type, u32 S, u32 A, u32 P)
{
    (void)type, (void)S, (void)A, (void)P;
    return 0;
}

/* The addend a packed module keeps in the field at `site`: the word. */
u32 gvm_reloc_field(u32 type, const u8 *site)
{
    (void)type;
    return (u32)site & 3 ? rd(site, 4) : *(const gvm_word *)(const void *)site;
}

/* (S + A) | T: a Thumb target's bit 0 is already in S (symbol) or A (section) */
void gvm_relocate(const u8 *rela, u32 n, u32 base, const u32 *S)
{
    const gvm_word *r = (const gvm_word *)(const void *)rela;
    for (; n--; r += 3) {
        u32 off = r[0], v = S[r[1] >> 8] + r[2];
        u8 *site = (u8 *)(base + off);
        if (off & 3)
            wr(site, v, 4);                      /* an unaligned str would store elsewhere */
        else
            *(gvm_word *)(void *)site = v;
    }
}


/* `v` follows a call: ARM bl, or mov lr, pc before a jump; Thumb (bit 0) a bl pair. */
int gvm_after_call(u32 v, u32 lo)
{
    u32 n = (v & ~1u) - lo;             /* a call must lie at or after lo */
    if (v & 1) {
        const u8 *p = (const u8 *)(v & ~1u);
        u32 hi, low;
        if (n < 4)
            return 0;
        hi = rd(p - 4, 2), low = rd(p - 2, 2);
        return (hi & 0xF800) == 0xF000 && ((low & 0xF800) == 0xF800 || (low & 0xF800) == 0xE800);
    }
    if ((v & 3) || n < 4)
        return 0;
    return (*(const gvm_word *)(const void *)(v - 4) & 0x0F000000u) == 0x0B000000u ||
           (n >= 8 && (*(const gvm_word *)(const void *)(v - 8) & 0x0FFFFFFFu) == 0x01A0E00Fu);
}

#else
#error "gvm_reloc.c: no relocation table for this CPU (MIPS, 68000 and ARM are supported)"
#endif
