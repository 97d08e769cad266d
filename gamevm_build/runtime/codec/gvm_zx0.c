/*
 * gvm_zx0.c - the ZX0 decoder that runs on the console (issue #14's stronger codec: ZX0
 * format 2 by Einar Saukas, as its README at github.com/einar-saukas/ZX0 describes it;
 * the forward variant, with the end marker).
 *
 * Three kinds of block, told apart by one bit: literals (a length, then the bytes), a
 * copy from the last offset (a length; only right after literals) and a copy from a new
 * offset (its high part as an Elias gamma code with inverted bits, a byte with its low 7
 * bits and the length's first control bit, then the length less one).  Lengths are
 * ZX0's interlaced Elias gamma codes: after the implicit leading 1, each data bit comes
 * after a control bit 0; a control bit 1 ends the code.
 *
 * Freestanding C99, byte accesses only (the 68000 faults on odd word addresses), no
 * tables.  Every read is checked against the input's end and every write against the
 * output's, every offset against the bytes already written, and a length is never
 * shifted past 24 bits, so a corrupt block is -1, never an access outside the buffers.
 * gamevm_build.link.compress.zx0_decode makes the same reads and checks in the same
 * order, so both accept and reject the same blocks.
 *
 * In place: the block at the end of a buffer `zx0_inplace_margin` bytes longer than the
 * output decodes into the buffer's start; a bit byte and the offset byte are held in
 * registers once read.  A write that would land on input still to be read (a margin too
 * small for the block: the module's sh_entsize is only as good as its file) is refused
 * with -1 like a corrupt block, before it is made.
 */
#include "gvm_zx0.h"

#define GAMMA_LIMIT 0x800000UL      /* a code longer than 24 bits is corrupt */
#define END_MSB 256UL

/* Writing [op, op + n) in place overtakes the input still to read at ip. */
#define OVERTAKES(n) (op + (n) > ip && op < iend)

/* The next bit into `b` (0 or not), or -1 from the function when the input ends. */
#define BIT(b)                                      \
    do {                                            \
        if (!(mask >>= 1)) {                        \
            if (ip >= iend)                         \
                return -1;                          \
            byte = *ip++;                           \
            /* else GCC tests bit 7 with a signed   \
             * byte load the ARM60 lacks */         \
            __asm__("" : "+r"(byte));               \
            mask = 0x80;                            \
        }                                           \
        (b) = byte & mask;                          \
    } while (0)

/* An interlaced Elias gamma code whose first control bit is already in `b`. */
#define GAMMA(v, inv)                               \
    do {                                            \
        (v) = 1;                                    \
        while (!b) {                                \
            if ((v) >= GAMMA_LIMIT)                 \
                return -1;                          \
            BIT(b);                                 \
            (v) = (v) << 1 | ((b) ? 1 : 0) ^ (inv); \
            BIT(b);                                 \
        }                                           \
    } while (0)

long gvm_zx0_decode(const unsigned char *src, unsigned long srclen, unsigned char *dst,
                    unsigned long dstlen)
{
    const unsigned char *ip = src, *const iend = src + srclen;
    unsigned char *op = dst, *const oend = dst + dstlen;
    unsigned long len, off = 1, msb;
    unsigned mask = 0, byte = 0, b, low;
    const unsigned char *m;

literals:
    BIT(b);
    GAMMA(len, 0);
    if (len > (unsigned long)(iend - ip) || len > (unsigned long)(oend - op) ||
        (op > ip && op < iend))                 /* each byte is read before it is written */
        return -1;
    while (len--)
        *op++ = *ip++;
    BIT(b);
    if (b)
        goto new_offset;
    BIT(b);                                     /* a copy from the last offset */
    GAMMA(len, 0);
    if (len > (unsigned long)(oend - op) || OVERTAKES(len))
        return -1;
    m = op - off;
    while (len--)
        *op++ = *m++;
    BIT(b);
    if (!b)
        goto literals;
new_offset:
    BIT(b);
    GAMMA(msb, 1);
    if (msb >= END_MSB)
        return msb == END_MSB ? (long)(op - dst) : -1;
    if (ip >= iend)
        return -1;
    low = *ip++;
    off = msb * 128 - (low >> 1);
    if (off > (unsigned long)(op - dst))
        return -1;
    b = low & 1;                                /* the length's first control bit */
    GAMMA(len, 0);
    if (len >= (unsigned long)(oend - op))      /* len + 1 bytes */
        return -1;
    m = op - off;
    len++;
    if (OVERTAKES(len))
        return -1;
    while (len--)                               /* may overlap its own output */
        *op++ = *m++;
    BIT(b);
    if (b)
        goto new_offset;
    goto literals;
}
