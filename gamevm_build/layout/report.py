"""The layout report: a text table, and HTML with an SVG map of the disc.

The map draws the sectors along the disc (left to right, LBA 0 at the left):
the file system's own sectors in grey, every file as a box coloured by the
scene its bundle loads, extra copies hatched and marked ``×n``, padding as
gaps, and above the disc the seek arcs of the loads whose access costs the
most (from where the head is to the load's first read, thicker for heavier
loads).  Both renderers take the JSON-able dict of :func:`report_data`.
"""

from __future__ import annotations

import html

from .cost import RESIDENT, Evaluator

__all__ = ["report_data", "render_text", "render_html"]

_PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
            "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#a0cbe8"]


def _ms(s: float) -> float:
    return round(s * 1e3, 3)


def _map(p, arr, base: int, evaluation, names: dict, bundles: list) -> tuple[list, list]:
    """``(files, loads)`` of one arrangement: what the map and the tables show."""
    start, end = arr.positions(p, base)
    ev = Evaluator(p)
    ev.span = ev.span_of(arr, base)
    copies = arr.copies()
    scene_of: dict = {}
    bundle_of: dict = {}
    for k, b in enumerate(bundles):
        for e in b["extents"]:
            bundle_of.setdefault(e, k)
            scene_of.setdefault(e, b["scene"])
    files = []
    for e in arr.seq:
        m = arr.extents[e]
        entry = {"lba": start[e], "end": end[e], "sectors": end[e] - start[e],
                 "pad": arr.pad.get(e, 0), "file": names.get(e),
                 "bundle": bundle_of.get(e), "scene": scene_of.get(e)}
        if m == RESIDENT:
            entry.update(module=None, label=f"{p.resident['name']} (boot)", copy=0, copies=1,
                         bytes=p.resident["size"])
        else:
            entry.update(module=p.modules[m].name, label=p.modules[m].name,
                         copy=copies[m].index(e), copies=len(copies[m]),
                         bytes=p.modules[m].file_size)
        files.append(entry)
    loads = []
    for ld in p.loads:
        if not ld.modules:
            continue
        order = ev.order(ld, arr, start)
        first = order[0][0]
        worst, worst_head = -1.0, None
        for h in sorted(evaluation.heads[ld.id], key=lambda h: (h is None, h or 0)):
            a = ev.access(None if h is None else end[h], start[first], ev.idle)
            if a > worst:
                worst, worst_head = a, h
        loads.append({
            "load": ld.name, "kind": ld.kind, "weight": ld.weight,
            "modules": [p.modules[m].name for _e, m, _u in order],
            "uncertain": sorted(p.modules[m].name for m in ld.uncertain),
            "worst_ms": _ms(evaluation.times[ld.id]), "budget_ms": ld.budget_ms,
            "first_lba": start[first], "access_ms": _ms(worst),
            "head_lba": None if worst_head is None else end[worst_head]})
    return files, loads


def report_data(plan, summary: dict, bundles: list) -> dict:
    """Everything the renderers show (JSON-able)."""
    from .plan import final_bundles

    p = plan.problem
    arr = plan.arrangement
    start, end = plan.positions()
    files, loads = _map(p, arr, plan.base, plan.evaluation, plan.names, bundles)
    alpha_arr, alpha = plan.naive["alphabetical"]
    decl = plan.naive["declaration"][1]
    by_id = {ld.name: ld.id for ld in p.loads}
    for ld in loads:
        i = by_id[ld["load"]]
        ld.update(floor_ms=_ms(plan.bound.floors[i]), alphabetical_ms=_ms(alpha.times[i]),
                  declaration_ms=_ms(decl.times[i]))
    a_start, _a_end = alpha_arr.positions(p, plan.base)
    from .iso import file_names

    a_names = file_names(p, alpha_arr) if p.disc else {}
    a_files, a_loads = _map(p, alpha_arr, plan.base, alpha, a_names,
                            final_bundles(p, alpha_arr, a_start))
    label = {e: f["label"] for e, f in zip(arr.seq, files)}
    return {"summary": summary, "model": {"name": p.model.name, "title": p.model.title},
            "drive": p.idle.value, "likelihoods": p.likelihoods,
            "bound": plan.bound.to_dict(),
            "constructions": {k: _ms(v) for k, v in plan.result.constructions.items()},
            "chosen": plan.result.chosen, "moves": plan.result.moves,
            "base": plan.base, "span": [0, max((f["end"] for f in files), default=0)],
            "files": files, "loads": loads,
            "alphabetical": {"files": a_files, "loads": a_loads,
                             "span": [0, max((f["end"] for f in a_files), default=0)]},
            "bundles": [{"lba": start[b["extents"][0]], "end": max(end[e] for e in b["extents"]),
                         "loads": b["loads"], "scene": b["scene"], "weight": b["weight"],
                         "files": [label[e] for e in b["extents"]]} for b in bundles]}


def render_text(d: dict) -> str:
    s = d["summary"]
    out = [f"GameVM disc layout: {s['image']} - {d['model']['title']} "
           f"(drive {d['drive']} between loads)",
           f"Plan: {s['cost_ms']:.1f} ms weighted worst case "
           f"({'transition likelihoods' if d['likelihoods'] else 'every transition once'}); "
           f"lower bound {s['bound_ms']:.1f} ms ({s['bound_kind']}): "
           f"{s['plan_over_bound']:.3f}x the bound",
           f"Naive orders: alphabetical {s['alphabetical_ms']:.1f} ms "
           f"({s['alphabetical_over_plan']:.2f}x the plan), declaration "
           f"{s['declaration_ms']:.1f} ms ({s['declaration_over_plan']:.2f}x)",
           f"Reading and loader CPU alone (every layout): {s['reads_ms']:.1f} ms",
           f"{s['files']} file(s) from LBA {s['first_lba']}, {s['sectors']} sectors, "
           f"{s['copies']} extra cop{'y' if s['copies'] == 1 else 'ies'}, "
           f"{s['padding_sectors']} padding sector(s); chosen start: {d['chosen']}, "
           f"{d['moves']} improving move(s)", ""]
    out.append("Files (disc order)")
    out.append(f"  {'LBA':>7} {'sectors':>7}  {'file':<13} {'module':<16} {'bundle':>6}  scene")
    for f in d["files"]:
        mark = f" (copy {f['copy']} of {f['copies']})" if f["copies"] > 1 else ""
        pad = f"  [+{f['pad']} pad]" if f["pad"] else ""
        out.append(f"  {f['lba']:>7} {f['sectors']:>7}  {(f['file'] or '-'):<13} "
                   f"{f['label']:<16} {'' if f['bundle'] is None else f['bundle']:>6}  "
                   f"{f['scene'] or '-'}{mark}{pad}")
    out += ["", "Loads (weighted worst case; ms)"]
    out.append(f"  {'load':<28} {'weight':>6} {'plan':>9} {'floor':>9} {'alpha':>9} "
               f"{'access':>8}  from -> first")
    for ld in sorted(d["loads"], key=lambda x: -x["weight"] * (x["worst_ms"] - x["floor_ms"])):
        head = "?" if ld["head_lba"] is None else ld["head_lba"]
        out.append(f"  {ld['load']:<28} {ld['weight']:>6.2f} {ld['worst_ms']:>9.2f} "
                   f"{ld['floor_ms']:>9.2f} {ld['alphabetical_ms']:>9.2f} "
                   f"{ld['access_ms']:>8.2f}  {head} -> {ld['first_lba']}")
    out += ["", "Constructions (exact cost before local search, ms): " +
            ", ".join(f"{k} {v:.1f}" for k, v in d["constructions"].items())]
    return "\n".join(out) + "\n"


def _svg(d: dict, files: list, loads: list, span: list, colors: dict | None = None) -> str:
    hi = max(span[1], 1)
    W, M, H = 1100, 40, 46
    scale = (W - 2 * M) / hi

    def x(lba):
        return M + lba * scale

    scenes = sorted({f["scene"] for f in files if f["scene"]})
    color = colors if colors is not None else scene_colors(files)
    arcs = sorted((ld for ld in loads if ld["head_lba"] is not None),
                  key=lambda ld: -ld["weight"] * ld["access_ms"])[:8]

    def lift(k, ld):
        return 30 + min(abs(x(ld["first_lba"]) - x(ld["head_lba"])) / 3, 120) + 14 * k

    Y = int(max((lift(k, ld) for k, ld in enumerate(arcs)), default=0)) + 40 + 12 * len(arcs)
    legend_rows = 1 + sum(24 + 7 * len(s) for s in scenes) // (W - 2 * M)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" '
             f'height="{Y + H + 70 + 18 * legend_rows}" font-family="sans-serif" '
             f'font-size="11">',
             '<defs><pattern id="copy" width="6" height="6" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><rect width="6" height="6" fill="none"/>'
             '<line x1="0" y1="0" x2="0" y2="6" stroke="#000" stroke-width="2" '
             'stroke-opacity="0.45"/></pattern></defs>',
             f'<rect x="{x(0):.1f}" y="{Y}" width="{max(x(d["base"]) - x(0), 1):.1f}" '
             f'height="{H}" fill="#ccc"><title>LBA 0-{d["base"] - 1}: system area, volume '
             'descriptors, path tables, directories</title></rect>']
    for f in files:
        fill = color.get(f["scene"], "#999")
        w = max(f["sectors"] * scale, 1.0)
        tip = html.escape(f"{f['label']} ({f['file'] or ''}) LBA {f['lba']}, {f['sectors']} "
                          f"sector(s), {f['bytes']} bytes"
                          + (f", copy {f['copy']} of {f['copies']}" if f["copies"] > 1 else "")
                          + (f", scene {f['scene']}" if f["scene"] else ""))
        parts.append(f'<rect x="{x(f["lba"]):.2f}" y="{Y}" width="{w:.2f}" height="{H}" '
                     f'fill="{fill}" stroke="#fff" stroke-width="0.5"><title>{tip}</title></rect>')
        if f["copies"] > 1:
            parts.append(f'<rect x="{x(f["lba"]):.2f}" y="{Y}" width="{w:.2f}" height="{H}" '
                         f'fill="url(#copy)"/>')
            parts.append(f'<text x="{x(f["lba"]) + w / 2:.1f}" y="{Y + H + 13}" '
                         f'text-anchor="middle">×{f["copies"]}</text>')
        if w >= 34:
            parts.append(f'<text x="{x(f["lba"]) + w / 2:.1f}" y="{Y + H / 2 + 4}" '
                         f'text-anchor="middle" fill="#fff">{html.escape(f["label"][:int(w // 6)])}'
                         f'</text>')
    # seek arcs of the costliest accesses (a loop where the load starts at its head)
    wmax = max((ld["weight"] for ld in arcs), default=1.0) or 1.0
    placed: list = []
    for k, ld in enumerate(arcs):
        x1, x2 = x(ld["head_lba"]), x(ld["first_lba"])
        top = Y - 2 * lift(k, ld)
        if abs(x2 - x1) < 6:
            path = f"M{x1:.1f},{Y} C{x1 - 14:.1f},{top:.1f} {x2 + 14:.1f},{top:.1f} {x2:.1f},{Y}"
            apex = Y - 0.75 * (Y - top)
        else:
            path = f"M{x1:.1f},{Y} Q{(x1 + x2) / 2:.1f},{top:.1f} {x2:.1f},{Y}"
            apex = (Y + top) / 2
        sw = 1 + 3 * ld["weight"] / wmax
        tip = html.escape(f"{ld['load']}: head at {ld['head_lba']} -> {ld['first_lba']}, "
                          f"access {ld['access_ms']:.1f} ms (weight {ld['weight']:g})")
        parts.append(f'<path d="{path}" fill="none" stroke="#c0392b" stroke-width="{sw:.1f}" '
                     f'stroke-opacity="0.7"><title>{tip}</title></path>')
        text = f"{ld['load']} {ld['access_ms']:.1f} ms"
        cx, ty, half = (x1 + x2) / 2, apex - 3, 3.2 * len(text)
        while any(abs(cx - px) < half + ph and abs(ty - py) < 12 for px, py, ph in placed):
            ty -= 12
        placed.append((cx, ty, half))
        parts.append(f'<text x="{cx:.1f}" y="{ty:.1f}" text-anchor="middle" '
                     f'fill="#c0392b">{html.escape(text)}</text>')
    # axis and legend
    for t in range(0, 6):
        lba = hi * t // 5
        parts.append(f'<text x="{x(lba):.1f}" y="{Y + H + 28}" text-anchor="middle" '
                     f'fill="#555">{lba}</text>')
    parts.append(f'<text x="{W / 2:.0f}" y="{Y + H + 44}" text-anchor="middle" fill="#555">'
                 'sector (LBA)</text>')
    lx, ly = M, Y + H + 56
    for s in scenes:
        if lx + 24 + 7 * len(s) > W - M:
            lx, ly = M, ly + 18
        parts.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" '
                     f'fill="{color.get(s, "#999")}"/><text x="{lx + 16}" y="{ly + 10}">'
                     f'{html.escape(s)}</text>')
        lx += 24 + 7 * len(s)
    parts.append("</svg>")
    return "\n".join(parts)


def scene_colors(files: list) -> dict:
    scenes = sorted({f["scene"] for f in files if f["scene"]})
    return {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(scenes)}


def render_html(d: dict) -> str:
    s = d["summary"]
    e = html.escape
    rows_files = "\n".join(
        f"<tr><td>{f['lba']}</td><td>{f['sectors']}</td><td>{e(f['file'] or '')}</td>"
        f"<td>{e(f['label'])}</td><td>{'' if f['bundle'] is None else f['bundle']}</td>"
        f"<td>{e(f['scene'] or '')}</td><td>{f['copy'] + 1}/{f['copies']}</td>"
        f"<td>{f['pad']}</td></tr>" for f in d["files"])
    def load_row(ld):
        budget = "" if ld["budget_ms"] is None else f"{ld['budget_ms']:g}"
        head = "?" if ld["head_lba"] is None else ld["head_lba"]
        return (f"<tr><td>{e(ld['load'])}</td><td>{ld['weight']:g}</td>"
                f"<td>{ld['worst_ms']:.2f}</td><td>{ld['floor_ms']:.2f}</td>"
                f"<td>{ld['alphabetical_ms']:.2f}</td><td>{ld['access_ms']:.2f}</td>"
                f"<td>{head} &rarr; {ld['first_lba']}</td>"
                f"<td>{e(', '.join(ld['modules']))}</td><td>{budget}</td></tr>")

    rows_loads = "\n".join(load_row(ld) for ld in
                           sorted(d["loads"], key=lambda x: -x["weight"] * x["worst_ms"]))
    # one color per scene across both maps: a scene may own a file in the alphabetical
    # order's bundles only (e.g. an unreachable scene's)
    colors = scene_colors(d["files"] + d["alphabetical"]["files"])
    pos = (s["alphabetical_ms"] - s["cost_ms"]) / (s["alphabetical_ms"] - s["bound_ms"]) \
        if s["alphabetical_ms"] > s["bound_ms"] else 1.0
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>GameVM disc layout: {e(s['image'])}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ddd; padding: 2px 8px; text-align: right; }}
th {{ background: #f4f4f4; }} td:nth-child(n+3) {{ text-align: left; }}
.num td {{ text-align: right; }} .big {{ font-size: 1.2em; }}
</style></head><body>
<h1>Disc layout: {e(s['image'])}</h1>
<p>{e(d['model']['title'])}, drive {e(d['drive'])} between loads; weights:
{'transition likelihoods' if d['likelihoods'] else 'every transition once (worst case)'}.</p>
<table class="num">
<tr><th>plan</th><th>lower bound ({e(s['bound_kind'])})</th><th>alphabetical order</th>
<th>declaration order</th><th>reads + CPU only</th></tr>
<tr class="big"><td>{s['cost_ms']:.1f} ms</td><td>{s['bound_ms']:.1f} ms</td>
<td>{s['alphabetical_ms']:.1f} ms</td><td>{s['declaration_ms']:.1f} ms</td>
<td>{s['reads_ms']:.1f} ms</td></tr>
<tr><td>1</td><td>plan &divide; bound = {s['plan_over_bound']:.3f}</td>
<td>&divide; plan = {s['alphabetical_over_plan']:.2f}</td>
<td>&divide; plan = {s['declaration_over_plan']:.2f}</td><td></td></tr>
</table>
<p>The plan closes {100 * pos:.0f}% of the gap between alphabetical order and the lower bound.
{s['files']} file(s) from LBA {s['first_lba']}, {s['sectors']} sectors, {s['copies']} extra
cop{'y' if s['copies'] == 1 else 'ies'}, {s['padding_sectors']} padding sector(s).
Started from <em>{e(d['chosen'])}</em>, {d['moves']} improving move(s).</p>
<h2>Disc map</h2>
<p>Sectors along the disc; files coloured by the scene their bundle loads, extra copies
hatched (&times;n), padding as gaps; arcs: the costliest accesses, from where the head is to
the load's first read (thicker: more likely).</p>
{_svg(d, d["files"], d["loads"], d["span"], colors)}
<h3>Alphabetical order, for comparison ({s['alphabetical_ms']:.1f} ms)</h3>
{_svg(d, d["alphabetical"]["files"], d["alphabetical"]["loads"], d["alphabetical"]["span"],
      colors)}
<h2>Loads</h2>
<table><tr><th>load</th><th>weight</th><th>plan ms</th><th>floor ms</th><th>alphabetical ms</th>
<th>access ms</th><th>head &rarr; first read</th><th>modules (read order)</th>
<th>budget ms</th></tr>
{rows_loads}
</table>
<h2>Files</h2>
<table><tr><th>LBA</th><th>sectors</th><th>file</th><th>module</th><th>bundle</th><th>scene</th>
<th>copy</th><th>padding before</th></tr>
{rows_files}
</table>
</body></html>
"""
