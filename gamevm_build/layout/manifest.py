"""The layout file: where every file landed, which copy each load reads, what the head
does at boot.  It is both the JSON manifest of the disc (``--manifest``) and the file
``disc.layout`` names, which the budget analyzer reads (docs/layout.md, "Manifest").
"""

from __future__ import annotations

import dataclasses
import json

from .cost import RESIDENT

__all__ = ["FORMAT", "VERSION", "placement", "analyzer_config", "manifest", "dumps"]

FORMAT = "gamevm-disc-layout"
VERSION = 1


def placement(problem, arr, base: int) -> dict:
    """``{"positions", "reads", "boot_head"}`` of ``arr`` with its first extent at ``base``.

    ``positions`` holds every module's primary copy (the one a load reads unless ``reads``
    names another); ``boot_head`` is the end of the boot executable when it is on the disc.
    """
    start, end = arr.positions(problem, base)
    positions = {problem.modules[m].name: start[e] for m, e in sorted(arr.primary.items())}
    by_load: dict = {}
    for (lid, m), e in sorted(arr.reads.items()):
        if e != arr.primary[m]:
            by_load.setdefault(lid, {})[problem.modules[m].name] = start[e]
    reads = [{"load": problem.loads[lid].name, "positions": pos}
             for lid, pos in sorted(by_load.items())]
    r = arr.resident_extent()
    out = {"positions": positions, "reads": reads,
           "boot_head": end[r] if r is not None else None}
    if problem.disc and problem.options.data_only:
        out["span"] = [0, max(end[e] for e in arr.seq)]
    return out


def analyzer_config(problem, arr, base: int):
    """The problem's configuration with ``arr``'s positions, as the analyzer would load it."""
    place = placement(problem, arr, base)
    reads: dict = {}
    for r in place["reads"]:
        reads.setdefault(r["load"], {}).update(r["positions"])
    span = place.get("span")
    return dataclasses.replace(problem.config, positions=dict(sorted(place["positions"].items())),
                               reads=reads, boot_head=place["boot_head"],
                               span=tuple(span) if span else None)


def manifest(problem, arr, base: int, *, image: str | None = None, names=None,
             bundles=None, extra: dict | None = None) -> dict:
    """The manifest document (JSON-able); ``names`` maps extent -> file name on the medium."""
    start, end = arr.positions(problem, base)
    place = placement(problem, arr, base)
    copies = arr.copies()
    bundle_of = {}
    for k, b in enumerate(bundles or ()):
        for e in b["extents"]:
            bundle_of.setdefault(e, k)
    files = []
    for e in arr.seq:
        m = arr.extents[e]
        if m == RESIDENT:
            entry = {"resident": problem.resident["name"],
                     "bytes": problem.resident["size"], "source": problem.resident["path"]}
        else:
            mod = problem.modules[m]
            entry = {"module": mod.name, "bytes": mod.file_size,
                     "source": mod.path, "copy": copies[m].index(e),
                     "primary": arr.primary[m] == e}
        entry.update({"file": names[e] if names else None, "lba": start[e],
                      "sectors": end[e] - start[e], "pad_before": arr.pad.get(e, 0),
                      "bundle": bundle_of.get(e)})
        files.append(entry)
    modules = {}
    for m, es in sorted(copies.items()):
        mod = problem.modules[m]
        p = arr.primary[m]
        modules[mod.name] = {"file": names[p] if names else None,
                             "lba": start[p], "sectors": end[p] - start[p],
                             "bytes": mod.file_size, "bundle": bundle_of.get(p),
                             "copies": [start[e] for e in es]}
    doc = {"format": FORMAT, "version": VERSION, "image": image,
           "medium": problem.model.kind, "model": problem.model.name,
           "sector_size": problem.model.sector_size,
           "positions": place["positions"], "reads": place["reads"],
           "boot_head": place["boot_head"], "span": place.get("span"),
           "modules": modules, "files": files,
           "bundles": [{"lba": start[b["extents"][0]] if b["extents"] else None,
                        "sectors": (end[b["extents"][-1]] - start[b["extents"][0]])
                        if b["extents"] else 0,
                        "modules": [problem.modules[arr.extents[e]].name for e in b["extents"]],
                        "loads": list(b["loads"])} for b in (bundles or ())]}
    if extra:
        doc.update(extra)
    return doc


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=1) + "\n"
