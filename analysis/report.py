"""Render a budget report (the dict of :meth:`gamevm_build.analysis.budget.BudgetResult.to_dict`).

Formats (:data:`FORMATS`):

``text``
    Readable tables for a terminal: verdict, transitions worst first, the worst
    transition module by module, streams, memory per scene, findings with what
    to change.
``json``
    The report dict itself (schema in ``docs/budget.md``), sorted keys, stable.
``markdown``
    The same for CI job summaries (GitHub ``$GITHUB_STEP_SUMMARY``, GitLab).
``junit``
    JUnit XML: one test case per budget (transition, stream), per scene's
    memory and for closure, so CI dashboards list each budget.
``html``
    One self-contained page (no external scripts or styles): the flow graph
    as inline SVG with the worst path highlighted, and the tables.

Every renderer is deterministic (no timestamps) and uses ms, frames and KiB.

Examples
--------
>>> from gamevm_build.analysis.graph import graph_from_dict
>>> from gamevm_build.analysis.budget import analyze
>>> G = graph_from_dict({
...     "target": "n64",
...     "memoryMap": {"regions": [{"name": "Main", "start": "0x80100000", "size": "1MB"}]},
...     "modules": {"level": {"region": "Main", "estimate": {"size": "64KB"}}},
...     "scenes": {"menu": {"modules": []}, "level": {"modules": ["level"]}},
...     "transitions": [{"from": "menu", "to": "level", "budget_ms": 20}]})
>>> report = analyze(G).to_dict()
>>> print(render(report, "text").splitlines()[1])
Result: OK - budgets hold: 1 transition(s), 0 stream(s); worst menu -> level 13.8 ms of 20 ms
>>> render(report, "junit").count("<testcase ")   # 1 transition, 2 scenes, closure
4
"""

from __future__ import annotations

import html
import json
from xml.sax.saxutils import escape as xml_escape, quoteattr

from ._index import gc_paused

__all__ = ["FORMATS", "SUFFIXES", "render"]

FORMATS = ("text", "json", "markdown", "junit", "html")
#: File suffix per format (SCons targets, ``-o`` defaults).
SUFFIXES = {"text": ".txt", "json": ".json", "markdown": ".md", "junit": ".xml",
            "html": ".html"}


@gc_paused()      # many small strings: with the collector on, superlinear in the project
def render(report: dict, fmt: str = "text") -> str:
    """``report`` in format ``fmt`` (one of :data:`FORMATS`), ending with a newline."""
    try:
        fn = {"text": render_text, "json": render_json, "markdown": render_markdown,
              "junit": render_junit, "html": render_html}[fmt]
    except KeyError:
        raise ValueError(f"unknown report format '{fmt}': choose one of {', '.join(FORMATS)}")
    return fn(report)


# --------------------------------------------------------------------------- helpers

def _ms(v: float) -> str:
    return f"{v:.2f} ms" if abs(v) < 10 else f"{v:.1f} ms"


def _kib(n: float) -> str:
    return f"{n / 1024:.1f} KiB"


def _pct(num: float, den: float) -> str:
    return f"{100 * num / den:.0f}%" if den else "-"


def _loads(plan: dict) -> str:
    unc = set(plan["uncertain"])
    mods = [m + ("?" if m in unc else "") for m in plan["modules"]]
    if mods:
        return ", ".join(mods)
    return f"nothing ({', '.join(plan['skipped'])} resident)" if plan["skipped"] else "nothing"


def _table(headers, rows, right=()) -> list[str]:
    cols = list(zip(*([headers] + rows))) if rows else [[h] for h in headers]
    widths = [max(len(str(c)) for c in col) for col in cols]
    out = []
    for r, row in enumerate([headers] + rows):
        cells = []
        for i, c in enumerate(row):
            c = str(c)
            cells.append(c.rjust(widths[i]) if i in right else c.ljust(widths[i]))
        out.append("  " + "  ".join(cells).rstrip())
        if r == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return out


def _media_line(rep: dict) -> str:
    m = rep["media"]
    drive = f" (drive {m['drive']} between loads)" if m["kind"] == "disc" else ""
    return f"{rep['target']}, {m['title']}{drive}, {rep['frame_rate']} Hz"


def _verdict(rep: dict) -> str:
    return ("OK - " if rep["ok"] else "FAILED - ") + rep["summary"]["line"]


def _step_rows(steps):
    rows = []
    for i, s in enumerate(steps, 1):
        rows.append([i, s["module"] + ("?" if s["uncertain"] else ""), s["region"],
                     "-" if s["lba"] is None else s["lba"], s["sectors"], s["from"],
                     f"{s['access_ms']:.2f}", f"{s['read_ms']:.2f}", f"{s['cpu_ms']:.2f}",
                     f"{s['total_ms']:.2f}"])
    return rows


_STEP_HEADERS = ["#", "module", "region", "LBA", "sectors", "from", "access ms", "read ms",
                 "CPU ms", "total ms"]


def _memory_rows(rep):
    regions = [r["region"] for r in next((s["regions"] for s in rep["scenes"] if "regions" in s),
                                         [])]
    rows = []
    scenes = sorted((s for s in rep["scenes"] if "regions" in s),
                    key=lambda s: (-s["peak_ram"], s["scene"]))
    for s in scenes:
        row = [s["scene"], _kib(s["peak_ram"])]
        for r in s["regions"]:
            flag = "" if r["used"] <= r["size"] else " OVER"
            row.append(f"{_kib(r['used'])} / {_kib(r['size'])}{flag}")
        rows.append(row)
    return ["scene", "peak RAM"] + regions, rows


# --------------------------------------------------------------------------- text

def render_text(rep: dict) -> str:
    out = [f"GameVM budget: {rep['config'] or '<config>'} - {_media_line(rep)}",
           f"Result: {_verdict(rep)}", ""]
    out.append("Transitions (worst first; ? = loaded on some paths only)")
    if rep["transitions"]:
        rows = [[f"{t['from']} -> {t['to']}", _ms(t["worst_ms"]), f"{t['budget_ms']:g} ms",
                 _ms(t["margin_ms"]), _pct(t["worst_ms"], t["budget_ms"]),
                 "ok" if t["ok"] else "OVER", _loads(t["plan"])] for t in rep["transitions"]]
        out += _table(["transition", "worst", "budget", "margin", "used", "", "loads"], rows,
                      right={1, 2, 3, 4})
    else:
        out.append("  (no transitions)")
    worst = rep["transitions"][0] if rep["transitions"] else None
    if worst and worst["steps"]:
        out += ["", f"Worst transition: {worst['from']} -> {worst['to']}"
                + (f" ({worst['description']})" if worst["description"] else ""),
                f"  path: {' -> '.join(worst['path'])}",
                "  head before: " + ", ".join("unknown" if h is None else f"LBA {h}"
                                               for h in worst["heads"])]
        out += _table(_STEP_HEADERS, _step_rows(worst["steps"]), right={0, 3, 4, 6, 7, 8, 9})
        out.append(f"  total {_ms(worst['worst_ms'])} = {_ms(worst['media_ms'])} media + "
                   f"{_ms(worst['cpu_ms'])} CPU")
    if rep["streams"]:
        out += ["", "Streams (frames from entering the scene)"]
        rows = [[f"streams[{s['index']}]", s["scene"], ", ".join(s["modules"]), s["frames"],
                 s["deadline_frames"], s["media_frames"], s["cpu_frames"],
                 f"{s['cpu_slice_ms']:g} ms", "ok" if s["ok"] else "LATE"]
                for s in rep["streams"]]
        out += _table(["stream", "scene", "modules", "frames", "deadline", "media", "CPU",
                       "slice", ""], rows, right={3, 4, 5, 6, 7})
    if rep.get("prefetches"):
        out += ["", "Prefetches (optional background loads: no budget; the transitions "
                    "leaving the scene start where they may leave the head)"]
        rows = [[p["scene"], ", ".join(p["modules"]),
                 ", ".join(p["plan"]["modules"]) or "nothing (resident)", _ms(p["worst_ms"])]
                for p in rep["prefetches"]]
        out += _table(["scene", "declared", "may load", "worst"], rows, right={3})
    if rep.get("forms"):
        out += ["", "Shipping forms (docs/format.md; read saved against the plain module)"]
        rows = [[f["module"], f["form"], f["bytes"], f["plain_bytes"], f"{f['read_ms_saved']:.2f}",
                 f"{f['decode_ms']:.2f}", f["why"]] for f in rep["forms"]]
        out += _table(["module", "form", "bytes", "plain", "read ms saved", "decode ms", "why"],
                      rows, right={2, 3, 4, 5})
    headers, rows = _memory_rows(rep)
    if rows:
        out += ["", "Memory (worst case per scene, used / size)"]
        out += _table(headers, rows, right=set(range(1, len(headers))))
    out += ["", "Findings"]
    if not rep["findings"]:
        out.append("  none")
    for f in rep["findings"]:
        out.append(f"  {f['severity']}: [{f['check']}] {f['subject']}: {f['message']}")
        for s in f["suggestions"]:
            out.append(f"      -> {s}")
    return "\n".join(out) + "\n"


def render_json(rep: dict) -> str:
    return json.dumps(rep, indent=2, sort_keys=True) + "\n"


# --------------------------------------------------------------------------- markdown

def _md_table(headers, rows) -> list[str]:
    esc = lambda c: str(c).replace("|", "\\|")  # noqa: E731
    out = ["| " + " | ".join(map(esc, headers)) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(map(esc, r)) + " |" for r in rows]
    return out


def render_markdown(rep: dict) -> str:
    icon = "✅" if rep["ok"] else "❌"
    out = [f"## {icon} GameVM load budgets: {rep['config'] or 'project'}", "",
           f"**{_verdict(rep)}**", "", f"Target: {_media_line(rep)}.", ""]
    if rep["transitions"]:
        out += ["### Transitions (worst first)", ""]
        rows = [[("✅" if t["ok"] else "❌"), f"`{t['from']}` → `{t['to']}`", _ms(t["worst_ms"]),
                 f"{t['budget_ms']:g} ms", _ms(t["margin_ms"]), _pct(t["worst_ms"], t["budget_ms"]),
                 _loads(t["plan"])] for t in rep["transitions"]]
        out += _md_table(["", "transition", "worst", "budget", "margin", "used",
                          "loads (? = some paths)"], rows)
        worst = rep["transitions"][0]
        if worst["steps"]:
            out += ["", f"<details><summary>Worst transition <code>{html.escape(worst['from'])}"
                        f" → {html.escape(worst['to'])}</code>: {_ms(worst['worst_ms'])}, "
                        "module by module</summary>", "",
                    f"Path: {' → '.join(worst['path'])}. Head before: "
                    + ", ".join("unknown" if h is None else f"LBA {h}" for h in worst["heads"])
                    + ".", ""]
            out += _md_table(_STEP_HEADERS, _step_rows(worst["steps"]))
            out += ["", "</details>"]
    if rep["streams"]:
        out += ["", "### Streams", ""]
        rows = [[("✅" if s["ok"] else "❌"), f"streams[{s['index']}]", s["scene"],
                 ", ".join(s["modules"]), s["frames"], s["deadline_frames"],
                 f"{s['media_frames']} + {s['cpu_frames']}", f"{s['cpu_slice_ms']:g} ms"]
                for s in rep["streams"]]
        out += _md_table(["", "stream", "scene", "modules", "frames", "deadline",
                          "media + CPU frames", "CPU slice"], rows)
    headers, rows = _memory_rows(rep)
    if rows:
        out += ["", "### Memory (worst case per scene, used / size)", ""]
        out += _md_table(headers, rows)
    out += ["", "### Findings", ""]
    if not rep["findings"]:
        out.append("None.")
    for f in rep["findings"]:
        mark = "❌" if f["severity"] == "error" else "⚠️"
        out.append(f"- {mark} **{f['subject']}** ({f['check']}): {f['message']}")
        for s in f["suggestions"]:
            out.append(f"  - {s}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- junit

def _case(classname: str, name: str, failures: list[tuple[str, str]], out_text: str = "") -> str:
    body = ""
    for msg, detail in failures:
        body += f"\n      <failure message={quoteattr(msg)} type=\"budget\">{xml_escape(detail)}</failure>"
    if out_text:
        body += f"\n      <system-out>{xml_escape(out_text)}</system-out>"
    if body:
        body += "\n    "
    return (f"    <testcase classname={quoteattr(classname)} name={quoteattr(name)} "
            f"time=\"0\">{body}</testcase>")


def _fail(f: dict) -> tuple[str, str]:
    return (f"{f['subject']}: {f['message']}",
            f"{f['message']}\n" + "".join(f"-> {s}\n" for s in f["suggestions"]))


def render_junit(rep: dict) -> str:
    findings = rep["findings"]
    errors = [f for f in findings if f["severity"] == "error"]
    suites = []
    cases = []
    for t in sorted(rep["transitions"], key=lambda t: t["index"]):
        subject = f"{t['from']} -> {t['to']}"
        fails = [_fail(f) for f in errors if f["check"] == "budget" and f["subject"] == subject]
        detail = (f"worst {_ms(t['worst_ms'])} of {t['budget_ms']:g} ms; loads {_loads(t['plan'])}"
                  + "".join(f"\n{s['module']}: {s['total_ms']:.2f} ms from {s['from']}"
                            for s in t["steps"]))
        cases.append(_case("gamevm.budget.transitions", subject, fails, detail))
    suites.append(("transitions", cases))
    cases = []
    for s in rep["streams"]:
        prefix = f"streams[{s['index']}] "
        fails = [_fail(f) for f in errors if f["subject"].startswith(prefix)]
        cases.append(_case("gamevm.budget.streams",
                           f"streams[{s['index']}] {', '.join(s['modules'])} during {s['scene']}",
                           fails, f"{s['frames']} of {s['deadline_frames']} frames"))
    suites.append(("streams", cases))
    cases = []
    mem_checks = ("memory", "overlay")
    for sc in rep["scenes"]:
        if "regions" not in sc:
            continue
        subject = f"scene {sc['scene']}"
        fails = [_fail(f) for f in errors if f["check"] in mem_checks and f["subject"] == subject]
        cases.append(_case("gamevm.budget.memory", subject, fails,
                           f"peak RAM {_kib(sc['peak_ram'])}"))
    for f in errors:
        if f["check"] in mem_checks and not f["subject"].startswith(("scene ", "streams[")):
            cases.append(_case("gamevm.budget.memory", f["subject"], [_fail(f)]))
    suites.append(("memory", cases))
    closure = [f for f in errors if f["check"] == "closure"]
    cases = [_case("gamevm.budget.closure", "imports, needs and cycles", [_fail(f) for f in closure])]
    suites.append(("closure", cases))
    total = sum(len(c) for _, c in suites)
    failed = sum(sum("<failure" in x for x in c) for _, c in suites)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="gamevm budget" tests="{total}" failures="{failed}" errors="0">']
    for name, cs in suites:
        nf = sum("<failure" in x for x in cs)
        out.append(f'  <testsuite name="gamevm budget: {name}" tests="{len(cs)}" '
                   f'failures="{nf}" errors="0" skipped="0">')
        out += cs
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- html

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:72em;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
.ok{color:#16794c}.bad{color:#b3261e}.verdict{font-weight:600;font-size:1.1em;padding:.5em .8em;border-radius:6px}
.verdict.ok{background:#e6f4ea}.verdict.bad{background:#fce8e6}
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.25em .6em;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f6f6f6}
tr.bad td{background:#fdf1f0}code{background:#f3f3f3;padding:0 .25em;border-radius:3px}
ul.sugg{margin:.2em 0 .6em 1.2em;color:#444}svg{max-width:100%;height:auto;border:1px solid #eee;border-radius:6px;background:#fcfcfc}
.legend span{display:inline-block;margin-right:1.2em}
"""


def _layout(rep: dict):
    """Layered layout of the flow graph: column = BFS depth from the start scene."""
    flow = rep["flow"]
    succ: dict = {s: [] for s in flow["scenes"]}
    for t in flow["transitions"]:
        succ[t["from"]].append(t["to"])
    depth = {flow["start"]: 0}
    frontier = [flow["start"]]
    while frontier:
        nxt = []
        for u in frontier:
            for v in sorted(succ[u]):
                if v not in depth:
                    depth[v] = depth[u] + 1
                    nxt.append(v)
        frontier = nxt
    last = max(depth.values(), default=0) + 1
    for s in flow["scenes"]:
        depth.setdefault(s, last)
    cols: dict = {}
    for s in sorted(flow["scenes"], key=lambda s: (depth[s], s)):
        cols.setdefault(depth[s], []).append(s)
    pos = {}
    for c, names in cols.items():
        for r, s in enumerate(names):
            pos[s] = (40 + c * 230, 50 + r * 110)
    return pos, depth


def _svg(rep: dict) -> str:
    pos, depth = _layout(rep)
    w, h = 150, 46
    width = max(x for x, _ in pos.values()) + w + 60 if pos else 300
    height = max(y for _, y in pos.values()) + h + 90 if pos else 120
    times = {(t["from"], t["to"]): t for t in rep["transitions"]}
    path = rep["worst_path"]
    worst_edges = set(zip(path, path[1:]))
    peak = {s["scene"]: s.get("peak_ram") for s in rep["scenes"]}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="flow graph">',
             '<defs>' + "".join(
                 f'<marker id="a-{k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
                 f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
                 f'fill="{c}"/></marker>'
                 for k, c in (("ok", "#5f6368"), ("bad", "#b3261e"), ("hot", "#e8710a"))) + '</defs>']
    flow_t = sorted(rep["flow"]["transitions"], key=lambda t: (t["from"], t["to"]))
    pairs = {(t["from"], t["to"]) for t in flow_t}
    # back edges (to an earlier or the same column) run below the boxes; spread their
    # ends along each box's bottom so they do not overlap
    back = [(t["from"], t["to"]) for t in flow_t
            if t["from"] != t["to"] and depth[t["to"]] <= depth[t["from"]]]
    ends: dict = {}
    for u, v in back:
        ends.setdefault(u, []).append(("out", u, v))
        ends.setdefault(v, []).append(("in", u, v))
    slot = {}
    for node, items in ends.items():
        items.sort(key=lambda it: (it[0], it[1], it[2]))
        for k, it in enumerate(items):
            slot[it] = (k - (len(items) - 1) / 2) * 22
    max_y = height
    for t in flow_t:
        u, v = t["from"], t["to"]
        (x1, y1), (x2, y2) = pos[u], pos[v]
        tt = times.get((u, v))
        bad = tt is not None and not tt["ok"]
        hot = (u, v) in worst_edges
        kind = "bad" if bad else ("hot" if hot else "ok")     # over budget stays red
        color = {"hot": "#e8710a", "bad": "#b3261e", "ok": "#5f6368"}[kind]
        width_px = 3.5 if hot else 1.6
        if u == v:
            d = (f"M{x1 + w - 30},{y1} C{x1 + w + 10},{y1 - 45} {x1 + w + 40},{y1 + 10} "
                 f"{x1 + w},{y1 + h / 2}")
            lx, ly = x1 + w + 20, y1 - 18
        elif depth[v] > depth[u]:
            sx, sy, ex, ey = x1 + w, y1 + h / 2, x2, y2 + h / 2
            bend = -18 if (v, u) in pairs else 0
            d = (f"M{sx},{sy} C{(sx + ex) / 2},{sy + bend} {(sx + ex) / 2},{ey + bend} "
                 f"{ex},{ey}")
            lx, ly = (sx + ex) / 2, (sy + ey) / 2 + 0.75 * bend - 6
        else:
            sx = x1 + w / 2 + slot[("out", u, v)]
            ex = x2 + w / 2 + slot[("in", u, v)]
            sy, ey = y1 + h, y2 + h
            drop = 40 + 16 * (abs(depth[u] - depth[v]) + back.index((u, v)) % 3)
            d = f"M{sx},{sy} C{sx},{sy + drop} {ex},{ey + drop} {ex},{ey}"
            lx, ly = (sx + ex) / 2, max(sy, ey) + drop * 0.75 + 14
        max_y = max(max_y, ly + 10)
        parts.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{width_px}" '
                     f'marker-end="url(#a-{kind})"/>')
        label = (f"{tt['worst_ms']:.0f}/{t['budget_ms']:g} ms" if tt
                 else f"-/{t['budget_ms']:g} ms")
        parts.append(f'<text x="{lx:.0f}" y="{ly:.0f}" font-size="11" text-anchor="middle" '
                     f'fill="{color}">{html.escape(label)}</text>')
    for s, (x, y) in sorted(pos.items()):
        on_path = s in path
        start = s == rep["flow"]["start"]
        stroke = "#e8710a" if on_path else "#5f6368"
        parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="'
                     f'{"#fff4e5" if on_path else "#fff"}" stroke="{stroke}" '
                     f'stroke-width="{2.5 if on_path else 1.2}"/>')
        parts.append(f'<text x="{x + w / 2}" y="{y + 19}" font-size="13" font-weight="600" '
                     f'text-anchor="middle">{html.escape(s)}{" (start)" if start else ""}</text>')
        sub = f"peak {_kib(peak[s])}" if peak.get(s) is not None else "unreachable"
        parts.append(f'<text x="{x + w / 2}" y="{y + 36}" font-size="11" fill="#666" '
                     f'text-anchor="middle">{html.escape(sub)}</text>')
    parts.append("</svg>")
    parts[0] = parts[0].replace(f'0 0 {width} {height}"', f'0 0 {width} {max_y:.0f}"').replace(
        f'height="{height}"', f'height="{max_y:.0f}"')
    return "\n".join(parts)


def _html_table(headers, rows, numeric=(), bad_rows=()) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in headers) + "</tr>"]
    for i, r in enumerate(rows):
        cls = ' class="bad"' if i in bad_rows else ""
        out.append(f"<tr{cls}>" + "".join(
            ('<td class="n">' if j in numeric else "<td>") + f"{html.escape(str(c))}</td>"
            for j, c in enumerate(r)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def render_html(rep: dict) -> str:
    ok = rep["ok"]
    title = f"GameVM load budgets: {rep['config'] or 'project'}"
    body = [f"<h1>{html.escape(title)}</h1>",
            f'<p class="verdict {"ok" if ok else "bad"}">{html.escape(_verdict(rep))}</p>',
            f"<p>Target: {html.escape(_media_line(rep))}.</p>",
            "<h2>Flow graph</h2>", _svg(rep),
            '<p class="legend"><span style="color:#e8710a">&#9632; worst path '
            f'({html.escape(" → ".join(rep["worst_path"]) or "-")})</span>'
            '<span class="bad">&#9632; over budget</span><span>thick: the worst path</span>'
            '<span>edge label: worst / budget</span></p>']
    if rep["transitions"]:
        rows = [[f"{t['from']} → {t['to']}", _ms(t["worst_ms"]), f"{t['budget_ms']:g} ms",
                 _ms(t["margin_ms"]), _pct(t["worst_ms"], t["budget_ms"]),
                 "ok" if t["ok"] else "OVER", _loads(t["plan"])] for t in rep["transitions"]]
        bad = {i for i, t in enumerate(rep["transitions"]) if not t["ok"]}
        body += ["<h2>Transitions (worst first)</h2>",
                 _html_table(["transition", "worst", "budget", "margin", "used", "", "loads "
                              "(? = some paths)"], rows, {1, 2, 3, 4}, bad)]
        worst = rep["transitions"][0]
        if worst["steps"]:
            body += [f"<h2>Worst transition {html.escape(worst['from'])} → "
                     f"{html.escape(worst['to'])}, module by module</h2>",
                     f"<p>Path: {html.escape(' → '.join(worst['path']))}; head before: "
                     + html.escape(", ".join("unknown" if h is None else f"LBA {h}"
                                             for h in worst["heads"])) + "</p>",
                     _html_table(_STEP_HEADERS, _step_rows(worst["steps"]), {0, 3, 4, 6, 7, 8, 9})]
    if rep["streams"]:
        rows = [[f"streams[{s['index']}]", s["scene"], ", ".join(s["modules"]), s["frames"],
                 s["deadline_frames"], s["media_frames"], s["cpu_frames"],
                 f"{s['cpu_slice_ms']:g} ms", "ok" if s["ok"] else "LATE"]
                for s in rep["streams"]]
        body += ["<h2>Streams</h2>",
                 _html_table(["stream", "scene", "modules", "frames", "deadline", "media frames",
                              "CPU frames", "slice", ""], rows, {3, 4, 5, 6, 7},
                             {i for i, s in enumerate(rep["streams"]) if not s["ok"]})]
    headers, rows = _memory_rows(rep)
    if rows:
        body += ["<h2>Memory (worst case per scene, used / size)</h2>",
                 _html_table(headers, rows, set(range(1, len(headers))))]
    body.append("<h2>Findings</h2>")
    if not rep["findings"]:
        body.append("<p>None.</p>")
    else:
        items = []
        for f in rep["findings"]:
            cls = "bad" if f["severity"] == "error" else ""
            items.append(f'<li><span class="{cls}"><b>{html.escape(f["severity"])}</b> '
                         f'[{html.escape(f["check"])}] <b>{html.escape(f["subject"])}</b></span>: '
                         f'{html.escape(f["message"])}<ul class="sugg">'
                         + "".join(f"<li>{html.escape(s)}</li>" for s in f["suggestions"])
                         + "</ul></li>")
        body.append("<ul>" + "\n".join(items) + "</ul>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")

