/* gvm_zx0.h - the console-side ZX0 decoder (gvm_zx0.c). */
#ifndef GVM_ZX0_H
#define GVM_ZX0_H

/* Decode the ZX0 block `src` (`srclen` bytes; ZX0 format 2, forward, with its end
 * marker) into `dst` (room for `dstlen` bytes): the bytes written, or -1 when the block
 * is corrupt, ends early or does not fit.
 *
 * In place: with the block at the end of a buffer of `size + margin` bytes and `dst` its
 * start, where `margin` is what gamevm_build.link.compress.zx0_inplace_margin computed
 * for the block (the host stores it; ZX0 has no closed-form bound). */
long gvm_zx0_decode(const unsigned char *src, unsigned long srclen, unsigned char *dst,
                    unsigned long dstlen);

#endif
