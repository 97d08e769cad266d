"""``gamevm inspect``: what a module contains, for people (text) and machines (JSON).

The JSON document is described in ``docs/cli.md`` (schema version 1).
"""

from __future__ import annotations

from collections import Counter

from .module import Module
from .packrel import packed_size

INSPECT_SCHEMA = 1


def describe(module: Module, *, hash_ok: bool = True, actual_hash: str | None = None) -> dict:
    """A JSON-serialisable summary of ``module`` (see docs/cli.md, "gamevm inspect").

    ``hash_ok`` False: the module was read without checking its hash, which failed;
    ``actual_hash`` is then what the contents hash to.
    """
    counts = Counter(r.type_name for r in module.relocations)
    # a packed module's own table; a plain one's as `gamevm pack` would write it
    packed_bytes = module.relpack_size if module.form != "plain" else len(packed_size(module).data)
    return {
        "schema": INSPECT_SCHEMA,
        "file": module.path,
        "name": module.name,
        "target": module.target,
        "format": module.format,
        "emission": module.emission,
        "hash": module.hash,
        "hash_ok": hash_ok,
        "actual_hash": None if hash_ok else actual_hash or None,
        "needs": list(module.needs),
        "entry": module.entry,
        "align": module.align,
        "sizes": {
            "text": module.section_size(".text"),
            "rodata": module.section_size(".rodata"),
            "data": module.data_size,
            "bss": module.bss_size,
            "image": module.image_size,
            "file": module.file_size,
        },
        "segments": [
            {"section": name, "offset": off, "size": module.section_size(name)}
            for name, (off, _) in sorted(module.sections.items(), key=lambda kv: kv[1][0])
        ],
        "exports": [
            {"name": e.name, "kind": e.kind, "bind": e.bind, "offset": e.value, "size": e.size,
             "section": e.section}
            for e in sorted(module.exports.values(), key=lambda e: (e.value, e.name))
        ],
        "imports": [
            {"name": i.name, "weak": i.weak, "refs": i.refs}
            for i in sorted(module.imports.values(), key=lambda i: i.name)
        ],
        "form": {"name": module.form, "load_size": module.load_size,
                 "stored_image": module.stored_image or None},
        "relocations": {"total": len(module.relocations), "by_type": dict(sorted(counts.items())),
                        "packed_bytes": packed_bytes,
                        "packed_per_relocation": round(packed_bytes / len(module.relocations), 3)
                        if module.relocations else 0.0},
        "init": module.init,
    }


def _emission_line(name: str) -> str:
    from .emission import FORMATS
    fmt = FORMATS.get(name)
    if fmt is None:         # a key this gamevm_build does not know: shown as it is
        return f"{name} (unknown emission format)"
    return f"{fmt.name.upper()} ({fmt.title}): relocates {fmt.relocates}"


def render_text(info: dict) -> str:
    s = info["sizes"]
    lines = [
        f"module   {info['name']}  ({info['file']})",
        f"target   {info['target']}   format {info['format']}   align {info['align']}",
        f"emission {_emission_line(info['emission'])}",
        f"hash     {info['hash'] or '- (none recorded)'}"
        + ("" if info["hash_ok"] else "  HASH MISMATCH"
           + (f": the contents hash to {info['actual_hash']}" if info["actual_hash"] else "")),
        f"needs    {', '.join(info['needs']) or '-'}",
        f"sizes    text {s['text']}  rodata {s['rodata']}  data {s['data']}  bss {s['bss']}"
        f"  = {s['image']} bytes in RAM ({s['file']} bytes on disc)",
    ]
    form = info["form"]
    if form["name"] != "plain":
        lines.append(f"form     {form['name']}" + (
            f": image stored in {form['stored_image']} bytes, {form['load_size']} bytes of "
            "RAM to decode in place" if form["stored_image"] else ": packed relocations"))
    if info["entry"]:
        lines.append(f"entry    {info['entry']}")
    for table, (off, count) in sorted(info["init"].items()):
        lines.append(f"{table:<8} {count} entr{'y' if count == 1 else 'ies'} at +0x{off:x}")
    lines.append(f"\nexports ({len(info['exports'])})")
    for e in info["exports"]:
        weak = " weak" if e["bind"] == "weak" else ""
        lines.append(f"  {e['offset']:#010x} {e['size']:>7}  {e['kind']:<6}{weak:<5} {e['name']}")
    lines.append(f"\nimports ({len(info['imports'])})")
    for i in info["imports"]:
        lines.append(f"  {i['refs']:>4} refs  {'weak ' if i['weak'] else ''}{i['name']}")
    rel = info["relocations"]
    packed = (f", packed {rel['packed_bytes']} bytes = {rel['packed_per_relocation']:.2f} "
              f"per relocation (RELA: 12 each)") if rel["total"] else ""
    if rel["total"] and form["name"] == "plain":
        packed += "; 'gamevm pack --form packed' writes them so"
    lines.append(f"\nrelocations ({rel['total']}{packed})")
    for t, n in rel["by_type"].items():
        lines.append(f"  {n:>6}  {t}")
    return "\n".join(lines) + "\n"
