/*
 * gvm_relpack.c - what a format 2 ("packed") module adds: its relocations packed in
 * .gvm.relpack, and its image compressed in .gvm.image (gamevm_build.link.packrel and
 * shipform write them; docs/format.md, "Shipping forms").
 *
 * The packed relocations are decoded once, while the file's headers are checked, into
 * the RELA entries the rest of the loader works with (offset, type | symbol << 8,
 * addend), symbol 0 standing for the module's own base.  Their addends are stored in the
 * fields they patch, so they are taken from the image once it is in place and before
 * any field is written (an R_MIPS_HI16 reads its LO16 partner's field): what RELA checks
 * before writing is checked then.
 */

enum { ADD_KEPT, ADD_FIELD, ADD_HI16 };    /* an entry's addend: given, in its field, paired */
#define RELPACK_NONE 0xFFu                 /* a target without relocations */
#define MIPS_HI16 5u
#define MIPS_LO16 6u

typedef struct {
    const u8 *p, *end;
    int bad;
} rp_cursor;

/* A ULEB128 number of at most 32 bits (five bytes; packrel's reader refuses the same). */
static u32 rp_uleb(rp_cursor *r)
{
    u32 v = 0, shift = 0, b;
    for (;;) {
        if (r->p >= r->end)
            return r->bad = 1, 0;
        b = *r->p++;
        if (shift == 28 && (b & 0x70))
            return r->bad = 1, 0;
        v |= (b & 0x7Fu) << shift;
        shift += 7;
        if (!(b & 0x80))
            return v;
        if (shift >= 35)
            return r->bad = 1, 0;
    }
}

static u32 rp_sleb(rp_cursor *r)
{
    u32 z = rp_uleb(r);
    return (z >> 1) ^ (0u - (z & 1));
}

/* Is [off, off + size) inside slot `s`, a loadable section with contents? */
static int in_slot(load_ctx *c, u32 s, u32 off, u32 size)
{
    return c->slot_last[s] && off >= c->slot_addr[s] && size <= c->slot_size[s] &&
           off - c->slot_addr[s] <= c->slot_size[s] - size;
}

/* Is [off, off + size) inside a loadable section with contents?  `*slot` is where the
 * last site was (0 at first): sites ascend within a group, so that is nearly always
 * where to look. */
static int site_ok(load_ctx *c, u32 off, u32 size, u32 *slot)
{
    u32 s;
    if (in_slot(c, *slot, off, size))
        return 1;
    for (s = 0; s < SL_BSS; s++)
        if (in_slot(c, s, off, size))
            return *slot = s, 1;
    return 0;
}

/* Walk .gvm.relpack (`data`, `size` bytes).  Without `out`, count its relocations into
 * *count, checking only that it parses; with `out`, write each one's entry and how its
 * addend is found (`how`), checking every site and partner.  `imports` lists the import
 * symbols in name order. */
static TLoadStatus relpack_walk(load_ctx *c, const u8 *data, u32 size, const u32 *imports,
                                u32 nimports, gvm_word *out, u8 *how, u32 *count)
{
    rp_cursor r;
    u32 ntypes, types[7], i, target, n = 0, slot = 0;
    r.p = data, r.end = data + size, r.bad = 0;
    ntypes = rp_uleb(&r);
    if (r.bad || ntypes > 7)
        return lsBadFormat;
    for (i = 0; i < ntypes; i++) {
        types[i] = rp_uleb(&r);
        if (r.bad || types[i] > 0xFF || !gvm_reloc_size(c->family, types[i]))
            return lsBadFormat;
    }
    for (target = 0; target <= nimports; target++) {
        u32 sym = target ? imports[target - 1] : 0;
        for (;;) {
            u32 head, t, shift, sites, k, off = 0, rsize, pairs;
            if (r.p >= r.end)
                return lsBadFormat;
            head = *r.p++;
            if (head == RELPACK_NONE)
                break;
            shift = head >> 4 & 3;
            if ((head & 7) >= ntypes || shift == 3)
                return lsBadFormat;
            t = types[head & 7];
            rsize = gvm_reloc_size(c->family, t);
            pairs = !(head & 8) && c->family == GVM_FAMILY_MIPS && t == MIPS_HI16;
            if (head & 0x40)
                sites = 1;
            else
                sites = rp_uleb(&r);
            for (k = 0; !r.bad && k < sites; k++) {
                u32 delta, value = 0;
                delta = rp_uleb(&r);
                if (head & 8 || pairs)
                    value = rp_sleb(&r);
                if (!out || r.bad)
                    continue;
                if (delta > (c->file_image - off) >> shift)
                    return lsBadFormat;
                off += delta << shift;
                if (rsize > c->file_image - off || !site_ok(c, off, rsize, &slot))
                    return lsBadFormat;
                if (pairs) {               /* the LO16 partner, value / 2 bytes away */
                    u32 room = c->file_image - 4;       /* >= off: the HI16 fits */
                    if (value >> 31) {
                        if (0u - value > off >> 1)
                            return lsBadFormat;
                        value = off - ((0u - value) << 1);
                    } else {
                        if (value > (room - off) >> 1)
                            return lsBadFormat;
                        value = off + (value << 1);
                    }
                }
                out[0] = off, out[1] = t | sym << 8, out[2] = value, out += 3;
                how[n] = (u8)(head & 8 ? ADD_KEPT : pairs ? ADD_HI16 : ADD_FIELD);
                n++;
            }
            if (r.bad)
                return lsBadFormat;
            if (!out)
                n += sites;
            if (head & 0x80)
                break;
        }
    }
    if (r.p != r.end)
        return lsBadFormat;
    *count = n;
    return lsSuccess;
}

/* check_relocations for .gvm.relpack (section `i`): the imports in name order (packed
 * relocations name them by rank), then the entries, into the work area. */
static TLoadStatus relpack_read(load_ctx *c, u32 i)
{
    u32 k, n = 0, size, *imports;
    u8 *data;
    TLoadStatus st;
    if (SH(c, i, F_LINK) != c->symtab_index)
        return lsBadFormat;
    if (!(imports = work_alloc(c->nsym * 4u)))
        return lsOutOfMemory;
    for (k = 1; k < c->nsym; k++) {
        u8 *s = c->sym + (k << 4);
        if (gvm_rd16(s + 14, c->big) != SHN_UNDEF)   /* check_symbols refused the rest */
            continue;
        if (n && gvm_strcmp((const char *)c->str + gvm_rd32(c->sym + (imports[n - 1] << 4), c->big),
                            (const char *)c->str + gvm_rd32(s, c->big)) >= 0)
            return lsBadFormat;
        imports[n++] = k;
    }
    if ((st = section_data(c, i, &data, &size)) != lsSuccess ||
        (st = relpack_walk(c, data, size, imports, n, 0, 0, &k)) != lsSuccess)
        return st;
    if (!(c->rel[i] = work_alloc(k * 12u)) || !(c->how = work_alloc(k)))
        return lsOutOfMemory;
    c->nrel[i] = k;
    if ((st = relpack_walk(c, data, size, imports, n, (gvm_word *)(void *)c->rel[i], c->how,
                           &k)) != lsSuccess)
        return st;
    for (k = 0; k < c->nrel[i]; k++)
        c->checked_types += gvm_reloc_may_overflow(((gvm_word *)(void *)c->rel[i])[3 * k + 1] & 0xFF);
    return lsSuccess;
}

/* The addends kept in the fields, taken from the image at `base` before anything is
 * relocated (so a LO16 still holds its half when its HI16 reads it). */
static void relpack_addends(load_ctx *c, u32 base)
{
    gvm_word *r = (gvm_word *)(void *)c->rel[c->relpack - 1];
    u32 k, n = c->nrel[c->relpack - 1];
    for (k = 0; k < n; k++, r += 3) {
        const u8 *site = (const u8 *)(base + r[0]);
        if (c->how[k] == ADD_HI16) {         /* (hi << 16) + (s16)lo, the o32 pairing */
            u32 lo = gvm_reloc_field(MIPS_LO16, (const u8 *)(base + r[2]));
            r[2] = (gvm_reloc_field(MIPS_LO16, site) << 16) + ((lo ^ 0x8000u) - 0x8000u);
        } else if (c->how[k] == ADD_FIELD)
            r[2] = gvm_reloc_field(r[1] & 0xFF, site);
    }
}

/* The compressed image's section: one, SHT_PROGBITS, SHF_COMPRESSED, not allocated, of
 * a header and a block that can decode in place inside the module's footprint.  Its
 * sh_entsize sets the footprint before the block is read: 0 for LZ4 (whose margin
 * follows from the block's size), else ZX0's in-place margin (sh_info would do, but
 * readelf warns about it in a section that links none). */
static TLoadStatus zimage_check(load_ctx *c, u32 i)
{
    u32 stored = SH(c, i, F_SIZE), margin = SH(c, i, F_ENTSIZE), block;
    if (c->zimage || SH(c, i, F_TYPE) != SHT_PROGBITS || !(SH(c, i, F_FLAGS) & SHF_COMPRESSED) ||
        (SH(c, i, F_FLAGS) & SHF_ALLOC))
        return lsBadFormat;
    c->zimage = i + 1;
    if (stored < CHDR_SIZE || !c->file_image)
        return lsBadFormat;
    block = stored - CHDR_SIZE;
    if (margin > c->meta.image_size)            /* ZX0's: within the image, no overflow */
        return lsBadFormat;
    if (!margin) {                              /* LZ4: it expands a byte to at most 255 */
        if (block < 0x01000000u && c->file_image > (block << 8) - block + 16u)
            return lsBadFormat;
        margin = (block >> 8) + 32u;
    }
    c->footprint = (c->file_image + margin + 6u) & ~3u;
    if (c->footprint < c->meta.image_size)
        c->footprint = c->meta.image_size;
    return stored > c->footprint ? lsBadFormat : lsSuccess;
}

#ifdef GVM_CODEC_ZX0                /* the profile's codecs (gvm_target.h) */
#define GVM_HAS_ZX0 1
#else
#define GVM_HAS_ZX0 0
#endif

/* The decoder of compression type `ch_type`, one the sections announced and this
 * runtime carries (zimage_load refuses the others first). */
static long (*decode(u32 ch_type))(const unsigned char *, unsigned long, unsigned char *,
                                   unsigned long)
{
#ifdef GVM_CODEC_ZX0
    if (ch_type == ELFCOMPRESS_GVM_ZX0)
        return gvm_zx0_decode;
#endif
    (void)ch_type;
    return gvm_lz4_decode;
}

/* P_IMAGE of a compressed module: the section read to the end of the module's memory
 * (a first call starts the read), then decoded in place; the rest of the footprint is
 * zeroed.  lsBadFormat for a header or block that is not what the sections say, or
 * that decodes padding between sections other than zeros. */
static TLoadStatus zimage_load(load_ctx *c)
{
    u32 i = c->zimage - 1, size = SH(c, i, F_SIZE), off = SH(c, i, F_OFFSET), k;
    u8 *dst = (u8 *)(c->m->base + ((c->footprint - size) & ~3u));
    TLoadStatus st;
    if (c->zstate == 0) {
        c->zstate = 1;
        c->hp_off = off, c->hp_len = size, c->hp_dst = dst;
        if ((st = read_into(c, off, dst, size)) != lsSuccess || c->waiting)
            return st;
    }
    c->zstate = 2;
    if ((st = trust_hook(c, TRUST_CHECK)) != lsSuccess)    /* nothing decoded before it */
        return st;
    k = gvm_rd32(dst, c->big);                /* the codec, as sh_entsize announced it */
    if ((SH(c, i, F_ENTSIZE) ? !GVM_HAS_ZX0 || k != ELFCOMPRESS_GVM_ZX0
                             : k != ELFCOMPRESS_GVM_LZ4) ||
        gvm_rd32(dst + 4, c->big) != c->file_image || gvm_rd32(dst + 8, c->big) != c->meta.align ||
        decode(k)(dst + CHDR_SIZE, size - CHDR_SIZE, (u8 *)c->m->base, c->file_image) !=
            (long)c->file_image || !uncovered(c, (u8 *)c->m->base, c->file_image, 1))
        return lsBadFormat;
    for (k = c->file_image; k & 3; k++)      /* the rest of the footprint, words after a word */
        ((u8 *)c->m->base)[k] = 0;
    fill((u8 *)c->m->base + k, c->footprint - k);
    return lsSuccess;
}
