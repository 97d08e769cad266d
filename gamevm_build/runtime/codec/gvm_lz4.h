/* gvm_lz4.h - the console-side LZ4 block decoder (gvm_lz4.c). */
#ifndef GVM_LZ4_H
#define GVM_LZ4_H

/* Decode the LZ4 block `src` (`srclen` bytes) into `dst` (room for `dstlen` bytes):
 * the bytes written, or -1 when the block is corrupt or does not fit. */
long gvm_lz4_decode(const unsigned char *src, unsigned long srclen, unsigned char *dst,
                    unsigned long dstlen);

/* Bytes the compressed block must end after the output's end to decode in place. */
#define GVM_LZ4_INPLACE_MARGIN(srclen) (((srclen) >> 8) + 32)

#endif
