/*
 * gvm_lz4.c - the LZ4 block decoder that runs on the console (issue #14's compressed
 * segments; the block format as LZ4's "LZ4 Block Format Description" defines it).
 *
 * Freestanding C99, byte accesses only (the 68000 faults on odd word addresses, the
 * ARM7 rotates them), no tables: a few hundred bytes of code on every console.  Every
 * read is checked against the input's end and every write against the output's, so a
 * corrupt block is an error (-1), never a write outside `dst`.
 *
 * In place: a block whose compressed bytes end `GVM_LZ4_INPLACE_MARGIN(srclen)` bytes
 * after the end of the output decodes into the same buffer (the output never catches
 * up with the input still to read; the margin is the one lz4.h documents for
 * LZ4_decompress_safe in place), so a module needs no second buffer.
 */
#include "gvm_lz4.h"

/* A length nibble of 15 goes on in bytes, each added, until one is not 255. */
static int more(const unsigned char **ip, const unsigned char *iend, unsigned long *len)
{
    unsigned b;
    do {
        if (*ip >= iend)
            return 0;
        b = *(*ip)++;
        *len += b;
    } while (b == 255);
    return 1;
}

long gvm_lz4_decode(const unsigned char *src, unsigned long srclen, unsigned char *dst,
                    unsigned long dstlen)
{
    const unsigned char *ip = src, *const iend = src + srclen;
    unsigned char *op = dst, *const oend = dst + dstlen;

    for (;;) {
        unsigned long len, off;
        unsigned tok;
        const unsigned char *m;

        if (ip >= iend)
            return -1;
        tok = *ip++;
        len = tok >> 4;                              /* literals */
        if (len == 15 && !more(&ip, iend, &len))
            return -1;
        if (len > (unsigned long)(iend - ip) || len > (unsigned long)(oend - op))
            return -1;
        while (len--)
            *op++ = *ip++;
        if (ip == iend)                              /* the last sequence: literals only */
            return (long)(op - dst);
        if (iend - ip < 2)
            return -1;
        off = ip[0];
        /* two byte loads: GCC 12's bswap pass merges them into one halfword load even
         * with -mstrict-align, which faults at an odd address on the 68000 */
        __asm__("" : "+r"(off));
        off |= (unsigned long)ip[1] << 8;
        ip += 2;
        if (!off || off > (unsigned long)(op - dst))
            return -1;
        len = tok & 15;                              /* match, 4 bytes at least */
        if (len == 15 && !more(&ip, iend, &len))
            return -1;
        len += 4;
        if (len > (unsigned long)(oend - op))
            return -1;
        m = op - off;
        while (len--)                                /* may overlap its own output */
            *op++ = *m++;
    }
}
