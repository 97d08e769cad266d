/*
 * gvm_trust.c - GameVMTrust: every module's SHA-256 against the manifest the game trusts.
 *
 * The table (gamevm_build.runtime.trust, docs/signing.md) lists each module's name, file
 * size and digest.  A load hashes the file in file order as its reads bring it: the first
 * read as it arrives (before parsing writes into it), each piece of the image before its
 * gaps are zeroed, what nothing else reads (the padding after the section headers) read
 * for the digest alone; the digest is compared once the file is read, before anything is
 * decompressed, relocated or run.  Only GameVMTrust reaches this file's code (through
 * G.trust_step), so a game that does not call it links none of it.
 */
#include "gvm_sha256.c"

/* A table entry: the module's name (NUL-padded), its file size, the digest of its file. */
#define TRUST_NAME_SIZE 32u
#define TRUST_ENTRY_SIZE (TRUST_NAME_SIZE + 4u + 32u)
#define TRUST_HEADER_SIZE 8u

static const u8 *trust_entry(const char *name)
{
    u32 lo = 0, hi = G.ntrust;
    while (lo < hi) {
        u32 mid = (lo + hi) >> 1;
        const u8 *e = G.trust + TRUST_HEADER_SIZE + mid * TRUST_ENTRY_SIZE;
        int d = gvm_strcmp((const char *)e, name);
        if (d == 0)
            return e;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* The file's bytes [c->hashed, to) into the digest: from the first read where it has
 * them, else read for it (the padding between the headers and the image, which nothing
 * else reads: a few bytes, read synchronously). */
static TLoadStatus digest_to(load_ctx *c, u32 to)
{
    u8 buf[64];
    u32 k;
    if (to <= c->hashed)
        return lsSuccess;
    if (c->hashed < c->pre_hi) {
        k = (to < c->pre_hi ? to : c->pre_hi) - c->hashed;
        sha256_update(c->sha, c->pre + c->hashed, k);
        c->hashed += k;
    }
    while (c->hashed < to) {
        k = to - c->hashed < sizeof buf ? to - c->hashed : sizeof buf;
        if (G.cfg.reader->read(G.cfg.reader->ctx, c->file, c->hashed, buf, k) != 0)
            return lsFileNotFound;
        sha256_update(c->sha, buf, k);
        c->hashed += k;
    }
    return lsSuccess;
}

/* The piece whose read has finished, after what lies before it. */
static TLoadStatus digest_piece(load_ctx *c)
{
    TLoadStatus st;
    u32 k;
    if (!c->sha || !c->hp_len)
        return lsSuccess;
    if ((st = digest_to(c, c->hp_off < c->hashed ? c->hashed : c->hp_off)) != lsSuccess)
        return st;
    k = c->hashed - c->hp_off;           /* what the first read brought is hashed */
    if (k < c->hp_len)
        sha256_update(c->sha, c->hp_dst + k, c->hp_len - k);
    if (c->hp_off + c->hp_len > c->hashed)
        c->hashed = c->hp_off + c->hp_len;
    c->hp_len = 0;
    return lsSuccess;
}

/* All of the file read and hashed: lsBadSignature unless it is the manifest's digest.
 * Runs before anything decodes, relocates or binds into the bytes read. */
static TLoadStatus digest_check(load_ctx *c)
{
    u8 got[32];
    u32 i, bad = 0;
    const u8 *e = trust_entry(c->meta.name);
    TLoadStatus st;
    if (!c->sha)
        return lsSuccess;
    if (!e)                              /* the table changed during the load */
        return lsBadSignature;
    if ((st = digest_piece(c)) != lsSuccess || (st = digest_to(c, c->fsize)) != lsSuccess)
        return st;
    sha256_final(c->sha, got);
    c->sha = 0;
    for (i = 0; i < 32; i++)
        bad |= got[i] ^ e[TRUST_NAME_SIZE + 4 + i];
    return bad ? lsBadSignature : lsSuccess;
}

/* P_CHECK, with a manifest: the module must be in it with this file's size (the file's
 * first read was hashed as it arrived, before parsing it wrote into it). */
static TLoadStatus trust_begin(load_ctx *c)
{
    const u8 *e = trust_entry(c->meta.name);
    if (!c->sha || !e || gvm_rd32(e + TRUST_NAME_SIZE, 1) != c->fsize)   /* !sha: opened before */
        return lsBadSignature;
    return lsSuccess;
}

static TLoadStatus trust_step(load_ctx *c, u32 step)
{
    switch (step) {
    case TRUST_OPEN:
        if (!(c->sha = work_alloc(sizeof *c->sha)))
            return lsOutOfMemory;
        sha256_init(c->sha);
        c->hashed = c->hp_len = 0;
        return lsSuccess;
    case TRUST_HEAD:
        return c->sha ? digest_to(c, c->pre_hi) : lsSuccess;
    case TRUST_ENTRY:
        return trust_begin(c);
    case TRUST_PIECE:
        return digest_piece(c);
    default:
        return digest_check(c);
    }
}

TLoadStatus GameVMTrust(const void *table, unsigned long size)
{
    const u8 *t = table, *prev = 0, *e;
    u32 n, i, k;
    G.trust = 0;
    G.ntrust = 0;
    G.trust_step = 0;
    if (!t)
        return lsSuccess;
    if (size < TRUST_HEADER_SIZE || t[0] != 'G' || t[1] != 'V' || t[2] != 'M' || t[3] != 'T' ||
        t[4] != 1 || t[5] != 1)
        return lsBadFormat;
    n = (u32)t[6] << 8 | t[7];
    if (size != TRUST_HEADER_SIZE + n * TRUST_ENTRY_SIZE)
        return lsBadFormat;
    for (i = 0; i < n; i++, prev = e) {
        e = t + TRUST_HEADER_SIZE + i * TRUST_ENTRY_SIZE;
        for (k = 0; k < TRUST_NAME_SIZE && e[k]; k++)
            ;
        if (k == 0 || k == TRUST_NAME_SIZE ||
            (prev && gvm_strcmp((const char *)prev, (const char *)e) >= 0))
            return lsBadFormat;
        while (k < TRUST_NAME_SIZE)         /* NUL-padded: one spelling per name */
            if (e[k++])
                return lsBadFormat;
    }
    G.trust = t;
    G.ntrust = n;
    G.trust_step = trust_step;
    return lsSuccess;
}
