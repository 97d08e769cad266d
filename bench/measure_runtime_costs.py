"""Measure what the console-side runtime costs, per operation, on each console's emulated CPU.

The load-budget analyzer charges a module's CPU time from per-operation costs
(``gamevm_build.runtime.loadcost``).  This script measures those costs from the runtime
itself (docs/runtime-c.md): for each console it links synthetic modules that
differ in exactly one quantity (relocations of one type, local symbols, exported
symbols, imports, bss bytes, constructors, metadata bytes), loads each with the
runtime's ``LoadModuleEx`` on the emulated console, and takes the slope of the
executed instructions between two sizes (so fixed costs cancel).  The module
with none of them gives the fixed cost.  Binding is measured against two residents
whose Global Symbol Tables differ in size, which separates the cost per import from
the cost per binary-search probe.

    python bench/measure_runtime_costs.py             # prints the table
    python bench/measure_runtime_costs.py --write     # also writes the package's costs file

``--write`` stores the figures in ``gamevm_build/runtime/loader/costs.json`` with the
SHA-256 of the runtime's sources; ``tests/test_target_runtime.py`` fails when the
sources change and the file was not re-measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGETS = ("psx", "n64", "segacd", "gba", "3do")
SMALL, LARGE = 8, 72
GST_SMALL, GST_LARGE = 80, 1024

# Assembly per CPU family: one site of each relocation type, referring to a local label
# `t` in the module (MIPS HI16 needs its LO16, so they are measured as a pair and the
# LO16 alone).
SITES = {
    "mips": {"R_MIPS_32": ("data", ".word t"),
             "R_MIPS_26": ("text", "jal t\n        nop"),
             "R_MIPS_LO16": ("text", "addiu $2, $2, %lo(t)"),
             "R_MIPS_HI16+R_MIPS_LO16": ("text", "lui $2, %hi(t)\n        addiu $2, $2, %lo(t)")},
    "m68k": {"R_68K_32": ("data", ".long t")},
    "arm": {"R_ARM_ABS32": ("data", ".word t")},
}
#: measured as another type's cost: fields of the same width patched the same way
SAME_AS = {"R_68K_16": "R_68K_32", "R_68K_8": "R_68K_32", "R_ARM_TARGET1": "R_ARM_ABS32"}


#: name prefixes that make every comparison of two names run long (the runtime's sorts and
#: searches compare names byte by byte): what a name's length costs at most
LONG_EXPORT, LONG_IMPORT = "physics_body_integrate_", "kernel_service_entry_"


def asm(arch: str, text: str = "", data: str = "", bss: int = 0, locals_: int = 0,
        exports: int = 0, ctors: int = 0, imports: int = 0, isa: str = "",
        export_prefix: str = "e", import_prefix: str = "k_fn", rodata: bool = False) -> str:
    word = ".long" if arch == "m68k" else ".word"
    # a constructor called from Thumb code must return with bx on ARMv4T (the ARMv3 has none)
    ret = {"mips": "jr $31\n        nop", "m68k": "rts",
           "arm": "bx lr" if isa == "armv4t" else "mov pc, lr"}[arch]
    out = ["        .text", "        .globl entry", "entry:", "t:      " + ret]
    if text:
        out += ["        " + text]
    out += [f"l{i}:     {ret}" for i in range(locals_)]
    for i in range(exports):
        out += [f"        .globl {export_prefix}{i}", f"{export_prefix}{i}:     {ret}"]
    out += ["        .data", "        .balign 4", "d:      " + word + " 0"]
    if data:
        out += ["        " + data]
    out += [f"        {word} {import_prefix}{i}" for i in range(imports)]
    if rodata:
        out += ["        .section .rodata", "        .balign 4", "r:      " + word + " 1"]
    if ctors:
        out += ['        .section .init_array,"aw"', "        .balign 4"]
        out += [f"        {word} t" for _ in range(ctors)]
    if bss:
        out += ["        .bss", f"        .space {bss}"]
    return "\n".join(out) + "\n"


def repeat(snippet: str, n: int) -> str:
    return "\n        ".join([snippet] * n)


class Bench:
    def __init__(self, target: str, tmp: Path):
        from gamevm_build.project.profile import load_profile
        from gamevm_build.link.toolchain import find_toolchain
        self.target, self.tmp = target, tmp
        self.profile = load_profile(target)
        self.arch = self.profile.arch
        self.tc = find_toolchain(target)
        self.residents = {n: self.resident(n) for n in (GST_SMALL, GST_LARGE)}
        self.residents["long"] = self.resident(GST_SMALL, prefix=LONG_IMPORT)
        # GameVMTrust is linked only into residents that call it, as in a game
        self.trusting = self.resident(GST_SMALL, keep=("GameVMTrust",))
        self.count = 0

    def resident(self, symbols: int, keep=(), prefix: str = "k_fn") -> Path:
        from gamevm_build.link.resident import build_resident
        tag = f"{prefix}{symbols}{'-'.join(('',) + tuple(keep))}"
        src = self.tmp / f"kernel{tag}.c"
        src.write_text("void _start(void) {}\n" + "".join(
            f"int {prefix}{i}(void) {{ return {i}; }}\n" for i in range(symbols)))
        obj = self.tc.compile(src, self.tmp / f"kernel{tag}.o",
                              extra_flags=["-ffunction-sections"])
        out = self.tmp / f"kernel{tag}.elf"
        build_resident(self.target, [obj], out, runtime="target",
                       keep=[f"{prefix}{i}" for i in range(symbols)] + list(keep))
        return out

    def module(self, source: str, name: str = "m", form: str = "plain", needs=()) -> Path:
        from gamevm_build.link.linker import link_module
        from gamevm_build.link.shipform import convert
        self.count += 1
        d = self.tmp / f"mod{self.count}"
        d.mkdir()
        src = d / "m.s"
        src.write_text(source)
        obj = self.tc.compile(src, d / "m.o")
        out = d / f"{name}.elf"
        link_module(self.target, [obj], out, name=name, needs=list(needs))
        if form != "plain":
            out.write_bytes(convert(out.read_bytes(), form, path=str(out)))
        return d

    def instructions(self, source: str, *, gst: int = GST_SMALL, name: str = "m",
                     form: str = "plain", trusted: bool = False) -> int:
        import hashlib
        from gamevm_build.play.console import Console
        from gamevm_build.runtime import trust
        from gamevm_build.runtime.reference import TLoadStatus
        d = self.module(source, name, form)
        c = Console(self.target, self.trusting if trusted else self.residents[gst],
                    search_paths=[d], loader="target")
        if trusted:
            data = (d / f"{name}.elf").read_bytes()
            self.file_size = len(data)
            c.loader.trust(trust.encode({name: trust.TrustEntry(
                len(data), hashlib.sha256(data).digest())}))
        before = c.machine.instructions
        _handle, status = c.loader.load_module(name)
        if status != TLoadStatus.lsSuccess:
            raise SystemExit(f"measure: {self.target}: a synthetic module failed: {status.name}")
        return c.machine.instructions - before

    def instructions_after(self, modules, source: str, *, needs=(), loaded=()) -> int:
        """Instructions of loading ``source`` (its ``needs`` loaded first, by the load) on a
        console where ``loaded`` were loaded before; ``modules``: name -> source of both."""
        from gamevm_build.play.console import Console
        from gamevm_build.runtime.reference import TLoadStatus
        dirs = [self.module(text, name) for name, text in modules.items()]
        dirs.append(self.module(source, "m", needs=needs))
        c = Console(self.target, self.residents[GST_SMALL], search_paths=dirs,
                    loader="target")
        for name in loaded:
            c.load(name)
        for name in needs:              # as the load itself would, before its file
            c.load(name)
        before = c.machine.instructions
        _handle, status = c.loader.load_module("m")
        if status != TLoadStatus.lsSuccess:
            raise SystemExit(f"measure: {self.target}: a synthetic module failed: {status.name}")
        return c.machine.instructions - before

    def last_module(self, name: str = "m"):
        """The module the last :meth:`instructions` call loaded, read back."""
        from gamevm_build.link.module import read_module
        return read_module((self.tmp / f"mod{self.count}" / f"{name}.elf").read_bytes())

    def slope(self, make, **kw) -> float:
        return (self.instructions(make(LARGE), **kw) - self.instructions(make(SMALL), **kw)) \
            / (LARGE - SMALL)


def measure(target: str, tmp: Path) -> dict:
    b = Bench(target, tmp)
    a = b.arch

    def src(arch, **kw):                   # with this console's return instruction
        return asm(arch, isa=b.profile.isa, **kw)
    row: dict = {"reloc": reloc_costs(b, src)}
    word = next(iter(t for t in row["reloc"] if t.endswith(("_32", "ABS32"))))
    row["per_local_symbol"] = b.slope(lambda n: src(a, locals_=n))
    # an export: its entry, and its name's bytes compared while the table is kept sorted
    # (names that share a long prefix: the most a byte of name costs)
    short = b.slope(lambda n: src(a, exports=n))
    row["per_export_byte"] = (b.slope(lambda n: src(a, exports=n, export_prefix=LONG_EXPORT))
                              - short) / (len(LONG_EXPORT) - 1)
    row["per_export"] = short - row["per_export_byte"] * _added_name_bytes("e")
    row["zero_per_byte"] = b.slope(lambda n: src(a, bss=64 * n)) / 64
    ctor_body = 2 if a == "mips" else 1
    row["ctor_call"] = b.slope(lambda n: src(a, ctors=n)) - row["reloc"][word] - ctor_body
    # an import: its relocation, its symbol, and a lookup of ceil(log2(n+1)) probes
    small, large = (b.slope(lambda n: src(a, imports=n), gst=g) - row["reloc"][word]
                    for g in (GST_SMALL, GST_LARGE))
    from gamevm_build.link.resident import read_resident
    from gamevm_build.runtime.loadcost import search_probes
    probes = [search_probes(len(read_resident(b.residents[g], target).symbols))
              for g in (GST_SMALL, GST_LARGE)]
    row["bind_per_probe"] = max((large - small) / (probes[1] - probes[0]), 0.0)
    row["bind_fixed"] = small - row["bind_per_probe"] * probes[0]
    # a probe compares the import's name with a table entry's: per byte of the name, from
    # a resident of as many symbols whose names share a long prefix with the imports'
    long = b.slope(lambda n: src(a, imports=n, import_prefix=LONG_IMPORT), gst="long") \
        - row["reloc"][word]
    row["bind_per_probe_byte"] = max((long - small) / probes[0] / (len(LONG_IMPORT) - 4), 0.0)
    row["bind_per_probe"] -= row["bind_per_probe_byte"] * _added_name_bytes("k_fn")
    row["per_metadata_byte"] = (b.instructions(src(a), name="m" + "x" * 160)
                                - b.instructions(src(a), name="m")) / 160
    base = b.instructions(src(a))
    base_module = b.last_module()
    more = b.instructions(src(a, rodata=True))
    with_rodata = b.last_module()
    row["per_section"] = (more - base - row["per_local_symbol"] * (
        with_rodata.local_symbols - base_module.local_symbols) - row["per_metadata_byte"] * (
        with_rodata.metadata_size - base_module.metadata_size))
    # what the base module has of each counted quantity is charged by its own constant:
    # the fixed cost is what is left (charging the base's whole load as fixed counted its
    # metadata, symbols and sections twice)
    row["module_fixed"] = base - (
        row["per_metadata_byte"] * base_module.metadata_size
        + row["per_local_symbol"] * base_module.local_symbols
        + row["per_export"] * len(base_module.exports)
        + row["per_export_byte"] * sum(map(len, base_module.exports))
        + row["per_section"] * len(base_module.sections))
    # the first GVM_HEAD_READ bytes of a file come in one read into the work area: image
    # bytes among them are copied into place by the CPU (the base file is well under it)
    row["head_copy_per_byte"] = max((b.instructions(src(a, data=".space 512")) - base) / 512,
                                    0.0)
    # what a module's first relocation and first import cost besides their own (the
    # relocation pass and the binding step start): the slopes' intercepts over the base
    row["reloc_fixed"] = max(b.instructions(src(a, data=repeat(f"{_word(a)} t", SMALL)))
                             - base - SMALL * row["reloc"][word], 0.0)
    row["bind_once"] = max(b.instructions(src(a, imports=SMALL)) - base
                           - SMALL * (small + row["reloc"][word]) - row["reloc_fixed"], 0.0)
    row.update(co_resident_costs(b, src, row))
    measure_packed(b, row, src, word)
    row.update(digest_costs(b, src))
    return {k: (round(v, 2) if isinstance(v, float) else
                {t: round(x, 2) for t, x in sorted(v.items())} if isinstance(v, dict) else v)
            for k, v in sorted(row.items())}


def _word(arch: str) -> str:
    return ".long" if arch == "m68k" else ".word"


def _added_name_bytes(prefix: str) -> float:
    """Mean length of the names ``prefix`` + 8 .. 71 (what a slope between 8 and 72 adds)."""
    return sum(len(f"{prefix}{i}") for i in range(SMALL, LARGE)) / (LARGE - SMALL)


def reloc_costs(b, src, form: str = "plain") -> dict:
    """Instructions per relocation of each type the console applies, in modules of
    ``form``: the slope over modules of 8 and 72 sites of that type."""
    a = b.arch
    out = {}
    for rtype, (where, snippet) in SITES[a].items():
        kw = "text" if where == "text" else "data"
        out[rtype] = b.slope(lambda n: src(a, **{kw: repeat(snippet, n)}), form=form)
    if a == "mips":
        pair = out.pop("R_MIPS_HI16+R_MIPS_LO16")
        out["R_MIPS_HI16"] = pair - out["R_MIPS_LO16"]
    for rtype, same in SAME_AS.items():
        if same in out:
            out[rtype] = out[same]
    return out


def co_resident_costs(b, src, row: dict) -> dict:
    """What other loaded modules add to a load.  Each of the module's needs is looked up
    among the loaded modules by name (``per_need`` and, per loaded module,
    ``need_per_module`` plus ``need_per_module_byte`` per byte of the need's name: names
    that share a long prefix); an import the resident lacks is searched for in each loaded
    module's exports in load order (``bind_per_module`` per module besides the probes of
    its binary search, charged as in the Global Symbol Table).  Modules of one export
    (``entry``), loaded before the measured load or as its needs."""
    a = b.arch
    few, many = 2, 6

    def libs(n, prefix="n"):
        return {f"{prefix}{i}": src(a) for i in range(n)}

    def with_needs(k, m, prefix="n"):
        mods = libs(k + m, prefix)
        names = list(mods)
        return b.instructions_after(mods, src(a), needs=names[:k], loaded=names[k:])

    def metadata(needs):
        b.module(src(a), "m", needs=needs)
        return b.last_module().metadata_size

    out = {}
    none, alone = with_needs(0, 0), with_needs(0, many)
    # every load walks the loaded modules (placing, ordering): per module, whatever it
    # needs; measured here so the need terms below are only the needs' own
    out["per_loaded_module"] = max((alone - none) / many, 0.0)
    k = few
    base, crowded = with_needs(k, 0), with_needs(k, many)
    out["need_per_module"] = max((crowded - base) / (k * many) - out["per_loaded_module"] / k, 0.0)
    names = [f"n{i}" for i in range(k)]
    out["per_need"] = max((base - none - row["per_metadata_byte"] * (metadata(names) - metadata(()))
                           - k * out["per_loaded_module"] - k * k * out["need_per_module"]) / k,
                          0.0)
    long_crowded = with_needs(k, many, prefix=LONG_EXPORT)
    long_base = with_needs(k, 0, prefix=LONG_EXPORT)
    out["need_per_module_byte"] = max(((long_crowded - long_base) - (crowded - base))
                                      / (k * many) / (len(LONG_EXPORT) - 1), 0.0)
    # the needs table the game registers (GameVMAddNeed; the console here registers the
    # needs of every module file it can read): every load walks it, comparing the
    # requested module's name with each entry's module (``x...``, or names that share the
    # requested one's 22 bytes)
    def walk(entries, prefix="x", name="m", under=""):
        import shutil

        from gamevm_build.play.console import Console
        from gamevm_build.runtime.reference import TLoadStatus
        dirs = [b.module(src(a), "base")]
        dirs += [b.module(src(a), f"{prefix}{i}", needs=["base"]) for i in range(entries)]
        dirs.append(b.module(src(a), name))
        request = name
        if under:           # the same file, requested by a path further down
            (dirs[-1] / under).mkdir(parents=True, exist_ok=True)
            shutil.copy(dirs[-1] / f"{name}.elf", dirs[-1] / under / f"{name}.elf")
            request = f"{under}/{name}.elf"
        c = Console(b.target, b.residents[GST_SMALL], search_paths=dirs, loader="target")
        before = c.machine.instructions
        _h, status = c.loader.load_module(request)
        if status != TLoadStatus.lsSuccess:
            raise SystemExit(f"measure: {b.target}: a synthetic module failed: {status.name}")
        return c.machine.instructions - before
    # per entry: a fixed part, and per byte both of the requested name (its stem is found
    # again for each entry) and of what comparing it with the entry's module reads
    entries, name = LARGE // 3, LONG_EXPORT.rstrip("_")
    per_entry = {(n, p): (walk(entries, p, n) - walk(0, "x", n)) / entries
                 for n, p in (("m", "x"), (name, "x"), (name, LONG_EXPORT))}
    byte = max((per_entry[name, "x"] - per_entry["m", "x"]) / (len(name) - 1),
               (per_entry[name, LONG_EXPORT] - per_entry[name, "x"]) / len(name), 0.0)
    out["registered_need_byte"] = byte
    # a request by path: its stem is found again per entry, reading the whole request
    under = "/".join(["level"] * 8)
    out["registered_request_byte"] = max(
        (walk(entries, "x", "m", under) - walk(entries, "x", "m"))
        / entries / (len(under) + len("/.elf")), 0.0)
    out["per_registered_need"] = max(per_entry["m", "x"] - 2 * byte, 0.0)   # "m", 1 compared
    # the needs measured above were entries of the requested module's own: "m", read whole
    out["per_need"] = max(out["per_need"] - out["per_registered_need"] - 3 * byte, 0.0)
    # imports from a module loaded after others: the double difference over imports
    # (SMALL, LARGE) and modules before their provider (0, many) leaves the search's cost per
    # module and import; less the one probe of each module's single export
    provider = src(a, exports=LARGE, export_prefix="p_fn")

    def bind(n, m):
        mods = dict(libs(m), p=provider)
        return b.instructions_after(mods, src(a, imports=n, import_prefix="p_fn"),
                                    needs=list(mods))
    per = ((bind(LARGE, many) - bind(SMALL, many)) - (bind(LARGE, 0) - bind(SMALL, 0))) \
        / ((LARGE - SMALL) * many)
    out["bind_per_module"] = max(per - row["bind_per_probe"] - row["bind_per_probe_byte"], 0.0)
    return out


def digest_costs(b, src) -> dict:
    """GameVMTrust (gvm_trust.c): what checking a module's SHA-256 adds to its load, per
    byte of its file (the slope over files of 8 and 72 lines of 64 bytes) and in all; the
    fixed part gets one 64-byte block more, since a file that ends a byte into a block
    costs a whole block."""
    a = b.arch
    points = []
    for n in (SMALL, LARGE):
        s = src(a, data=f".space {64 * n}")
        extra = b.instructions(s, trusted=True) - b.instructions(s)
        points.append((b.file_size, extra))
    (x0, y0), (x1, y1) = points
    per_byte = (y1 - y0) / (x1 - x0)
    return {"digest_per_byte": per_byte, "digest_fixed": y0 - per_byte * x0 + 64 * per_byte}


def measure_packed(b, row: dict, src, word: str) -> None:
    """Format 2 (docs/format.md "Shipping forms"): a packed relocation of each type, what a
    packed module adds per import and in all, the LZ4 decoder per token, literal byte
    and match byte and ZX0's per block, literal byte and match byte (:func:`codec_costs`)."""
    a = b.arch
    packed = row["reloc_packed"] = reloc_costs(b, src, "packed")
    row["packed_per_import"] = (b.slope(lambda n: src(a, imports=n), form="packed")
                                - packed[word]) - (b.slope(lambda n: src(a, imports=n))
                                                   - row["reloc"][word])
    row["packed_fixed"] = b.instructions(src(a), form="packed") - b.instructions(src(a))
    row["lz4"] = codec_costs(b, "lz4")
    row["zx0"] = codec_costs(b, "zx0")


#: codec -> (encoder, the decoder's work of a block, the names of its three counts)
CODECS = {"lz4": ("lz4_compress", lambda c, block, n: c.lz4_block_stats(block),
                  ("token", "literal", "match")),
          "zx0": ("zx0_compress", lambda c, block, n: c.zx0_block_stats(block, n),
                  ("block", "literal", "match"))}


def codec_costs(b, codec: str) -> dict:
    """The console's decoder of ``codec`` (gvm_lz4.c, gvm_zx0.c, as the runtime includes
    them) on blocks of several kinds of data, each decoded on the emulated CPU: least
    squares for the cost of each of the block's three counts (LZ4: tokens, literal and
    match bytes; ZX0: blocks, literal and match bytes), then scaled so that every sample
    is charged at least what it cost (an envelope: the model's bounds stay sound on data
    of these shapes; 2 % on top)."""
    from gamevm_build.emu.machine import Machine
    from gamevm_build.link import compress
    from gamevm_build.runtime.build import link_codecs
    encoder, work, names = CODECS[codec]
    m = Machine(b.profile)
    m.load_elf(link_codecs(b.profile, b.tc, b.tmp))
    buf = b.profile.main_ram.start + b.profile.main_ram.size // 2
    rows, spent = [], []
    for kind in ("noise", "zeros", "short", "runs", "text", "tiles", "code"):
        for n in (128, 512):
            data = _sample(kind, n, b)
            block = getattr(compress, encoder)(data)
            src = buf + len(data) + 64
            m.write(src, block)
            before = m.instructions
            if m.call(f"gvm_{codec}_decode", src, len(block), buf, len(data)) != len(data):
                raise SystemExit(f"measure: {b.target}: the {codec} decoder failed on {kind}")
            spent.append(m.instructions - before)
            rows.append(work(compress, block, len(data)))
    # normal equations of the least-squares fit
    ata = [[sum(r[i] * r[j] for r in rows) for j in range(3)] for i in range(3)]
    aty = [sum(r[i] * y for r, y in zip(rows, spent)) for i in range(3)]
    coef = [max(c, 0.0) for c in _solve3(ata, aty)]
    scale = max(y / sum(c * x for c, x in zip(coef, r)) for r, y in zip(rows, spent)) * 1.02
    return {name: c * scale for name, c in zip(names, coef)}


def _sample(kind: str, lines: int, b) -> bytes:
    """``lines`` 64-byte lines of data of one kind (raw bytes; see :func:`_rodata`)."""
    import random
    rng = random.Random(f"{kind}/{lines}")
    out = bytearray()
    if kind == "code":            # the runtime's own machine code, repeated
        code = (b.residents[GST_SMALL]).read_bytes()
        while len(out) < 64 * lines:
            out += code
        return bytes(out[:64 * lines])
    if kind == "tiles":           # 4-bit tiles: patterns, dithering, noise
        while len(out) < 64 * lines:
            base = rng.randrange(16)
            for y in range(8):
                for x in range(0, 8, 2):
                    v = [base if (x + y) % 3 else rng.randrange(16) for _ in range(2)]
                    out.append(v[0] | v[1] << 4)
        return bytes(out[:64 * lines])
    text = _rodata(lines, kind)
    for line in text.split("\n"):
        out += bytes(int(v) for v in line.strip()[len(".byte "):].split(","))
    return bytes(out)


def _solve3(m, y) -> tuple[float, float, float]:
    """x with m x = y (3 x 3, Cramer's rule)."""
    def det(a):
        return (a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
                - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]))
    d = det(m)
    if abs(d) < 1e-9:
        raise SystemExit("measure: the codec samples do not tell its three counts apart")
    return tuple(det([[y[r] if c == k else m[r][c] for c in range(3)] for r in range(3)]) / d
                 for k in range(3))


def _rodata(n: int, kind: str) -> str:
    """``n`` 64-byte lines of data directives of one kind."""
    import random
    rng = random.Random(n)
    lines = []
    for i in range(n):
        if kind == "noise":      # mostly literals (a line of zeros ends each: it compresses)
            lines.append(".byte " + ",".join([str(rng.randrange(256)) for _ in range(48)]
                                             + ["0"] * 16))
        elif kind == "zeros":
            lines.append(".byte " + ",".join("0" for _ in range(64)))
        elif kind == "runs":     # a tile map: runs of 16-bit tile numbers
            row = []
            while len(row) < 64:
                row += [rng.randrange(12), 0] * rng.randrange(1, 9)
            lines.append(".byte " + ",".join(map(str, row[:64])))
        elif kind == "text":     # words from a small vocabulary
            words = [b"gate", b"ember", b"the", b"of", b"river", b"keeper", b"stone"]
            row = bytearray()
            while len(row) < 64:
                row += rng.choice(words) + b" "
            lines.append(".byte " + ",".join(map(str, row[:64])))
        else:        # a fresh byte and a four-byte repeat, alternating: many short tokens
            row = []
            for _k in range(8):
                row += [rng.randrange(256), 1, 2, 3, 4, 1, 2, 3][:8]
            lines.append(".byte " + ",".join(map(str, row)))
    return "\n        ".join(lines)


BUDGET_DOC = REPO / "docs" / "budget.md"
#: the table's rows: (label, key in a console's figures; a dict is one entry per type)
TABLE_ROWS = [("per relocation", "reloc"), ("`reloc_fixed`", "reloc_fixed"),
              *((f"`{k}`", k) for k in (
                  "module_fixed", "per_section", "per_local_symbol", "per_export",
                  "per_export_byte", "per_metadata_byte", "head_copy_per_byte",
                  "zero_per_byte", "bind_fixed", "bind_per_probe", "bind_per_probe_byte",
                  "bind_once", "ctor_call", "per_loaded_module", "per_need", "need_per_module",
                  "need_per_module_byte", "bind_per_module", "per_registered_need",
                  "registered_need_byte", "registered_request_byte")),
              ("per packed relocation (`reloc_packed`)", "reloc_packed"),
              *((f"`{k}`", k) for k in ("packed_fixed", "packed_per_import")),
              *((f"`{c}_{p}`", (c, p)) for c, parts in (("lz4", ("token", "literal", "match")),
                                                        ("zx0", ("block", "literal", "match")))
                for p in parts),
              *((f"`{k}`", k) for k in ("digest_fixed", "digest_per_byte"))]


def cost_table(doc: dict) -> str:
    """docs/budget.md's table of the measured constants, from costs.json's ``doc``: a
    codec the console's profile does not carry is "-" (its decoder is not built in)."""
    from gamevm_build.project.profile import load_profile
    targets = list(TARGETS)
    figures = doc["targets"]

    def num(v) -> str:
        return format(v, ".2f").rstrip("0").rstrip(".")

    def cell(t: str, key) -> str:
        row = figures[t]
        if isinstance(key, tuple):
            value = (row.get(key[0], {}).get(key[1])
                     if key[0] in load_profile(t).codecs else None)
        else:
            value = row.get(key)
        if value is None:
            return "-"
        if isinstance(value, dict):          # types that cost the same share a recipe
            costs: dict = {}
            for name in sorted(value):
                costs.setdefault(value[name], []).append(f"`{name}`")
            return ", ".join(f"{'/'.join(names)} {num(v)}" for v, names in costs.items())
        return num(value)

    lines = ["| constant | " + " | ".join(targets) + " |",
             "|---|" + "---|" * len(targets)]
    for label, key in TABLE_ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(t, key) for t in targets) + " |")
    return "\n".join(lines) + "\n"


def write_table(doc: dict, path: Path = BUDGET_DOC) -> None:
    """Replace the table in docs/budget.md (from its header row to the blank line)."""
    text = path.read_text()
    head = "| constant | " + " | ".join(TARGETS) + " |"
    start = text.index(head)
    end = text.index("\n\n", start) + 1
    path.write_text(text[:start] + cost_table(doc) + text[end:])


def main(argv=None) -> int:
    from gamevm_build.runtime.build import COSTS_FILE, runtime_sha256
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", action="append", choices=TARGETS)
    p.add_argument("--write", action="store_true",
                   help=f"write the figures to {COSTS_FILE.relative_to(REPO)}")
    args = p.parse_args(argv)
    targets = args.target or list(TARGETS)
    results = {}
    with tempfile.TemporaryDirectory(prefix="measure-runtime-") as tmp:
        for t in targets:
            d = Path(tmp) / t
            d.mkdir()
            results[t] = measure(t, d)
            print(f"{t:7} {json.dumps(results[t])}")
    if args.write:
        doc = json.loads(COSTS_FILE.read_text()) if COSTS_FILE.exists() else {}
        doc.update({
            "runtime_sha256": runtime_sha256(),
            "unit": "instructions executed by the console-side runtime on the emulated CPU",
            "method": "bench/measure_runtime_costs.py: slopes between synthetic modules of "
                      f"{SMALL} and {LARGE} items; bind against residents of {GST_SMALL} and "
                      f"{GST_LARGE} extra symbols",
        })
        doc.setdefault("targets", {}).update(results)
        COSTS_FILE.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        write_table(doc)
        print(f"wrote {COSTS_FILE} and the table in {BUDGET_DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
