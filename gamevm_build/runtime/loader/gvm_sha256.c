/*
 * gvm_sha256.c - SHA-256 (FIPS 180-4) for the digest check of trusted modules.
 *
 * Byte at a time in, big-endian words built from bytes: the same code on the
 * little-endian MIPS/ARM consoles and the big-endian 68000/N64, with no unaligned
 * word access.  Small rather than fast: the loader hashes what it reads once, and
 * the load-time model charges the cycles measured on each console's CPU.
 */

/* No array last: GCC 12's -fsanitize=bounds (the checked build) takes a structure's last
 * array for a flexible one and leaves an index past its end unchecked. */
typedef struct gvm_sha256 {
    u32 h[8];
    u8 block[64];
    u32 bits_lo, bits_hi;            /* message length so far, in bits */
    u32 used;                        /* bytes in `block` */
} gvm_sha256;

static const u32 sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u,
    0x923f82a4u, 0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
    0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u,
    0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u,
    0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
    0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au,
    0x5b9cca4fu, 0x682e6ff3u, 0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_init(gvm_sha256 *s)
{
    static const u32 iv[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                              0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    u32 i;
    for (i = 0; i < 8; i++)
        s->h[i] = iv[i];
    s->bits_lo = s->bits_hi = s->used = 0;
}

/* One 64-byte block `p` into the state: the working variables in locals, so the
 * compiler keeps them in registers (8 on the 68000 too). */
static void sha256_block(u32 h[8], const u8 *p)
{
    u32 w[16], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6],
        hh = h[7], i, t1, t2;
    for (i = 0; i < 16; i++, p += 4)
        w[i] = (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
    for (i = 0; i < 64; i++) {
        if (i >= 16) {             /* the schedule in a ring of 16 words */
            u32 x = w[(i + 1) & 15], y = w[(i + 14) & 15];
            w[i & 15] += (ROR32(x, 7) ^ ROR32(x, 18) ^ (x >> 3)) + w[(i + 9) & 15] +
                         (ROR32(y, 17) ^ ROR32(y, 19) ^ (y >> 10));
        }
        t1 = hh + (ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25)) + ((e & f) ^ (~e & g)) +
             sha256_k[i] + w[i & 15];
        t2 = (ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g, g = f, f = e, e = d + t1;
        d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d;
    h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

static void sha256_update(gvm_sha256 *s, const u8 *p, u32 n)
{
    u32 bits = n << 3;
    s->bits_hi += (n >> 29) + (s->bits_lo + bits < s->bits_lo);
    s->bits_lo += bits;
    while (n) {
        if (s->used == 0 && n >= 64) {   /* whole blocks straight from the input */
            sha256_block(s->h, p);
            p += 64, n -= 64;
            continue;
        }
        s->block[s->used++] = *p++;
        n--;
        if (s->used == 64) {
            sha256_block(s->h, s->block);
            s->used = 0;
        }
    }
}

static void sha256_final(gvm_sha256 *s, u8 out[32])
{
    u32 i, lo = s->bits_lo, hi = s->bits_hi;
    static const u8 one = 0x80, zero = 0;
    sha256_update(s, &one, 1);
    while (s->used != 56)
        sha256_update(s, &zero, 1);
    for (i = 0; i < 4; i++) {
        s->block[56 + i] = (u8)(hi >> (24 - 8 * i));
        s->block[60 + i] = (u8)(lo >> (24 - 8 * i));
    }
    sha256_block(s->h, s->block);
    for (i = 0; i < 32; i++)
        out[i] = (u8)(s->h[i >> 2] >> (24 - 8 * (i & 3)));
}
