"""``gamevm layout`` / ``env.GameVMDisc``: plan, master, verify, write every output."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GameVMError, InputError, LayoutError
from ..fileutil import Outputs, check_output, read_input
from .cost import RESIDENT, Evaluator
from .iso import first_data_sector, master_iso, name_table, verify_iso, write_rom
from .plan import Plan, default_time_limit, plan_layout
from .problem import load_problem

__all__ = ["DiscResult", "build_disc", "module_files", "check_with_analyzer"]

#: What build_disc does after the plan, in exact evaluations of an arrangement (the
#: search leaves this much of the time limit): the analyzer's check with mastering
#: beside it (about 3 on 1,650 modules, measured), the summary and the outputs (about 1),
#: and room for a rebase when copies move the data by a sector (2).
AFTER_PLAN = 6


@dataclass
class DiscResult:
    """What :func:`build_disc` made."""

    plan: Plan
    image: Path
    tool: str | None
    outputs: dict = field(default_factory=dict)      # kind -> path
    summary: dict = field(default_factory=dict)
    #: seconds of the command's phases: "read" (the project, where the tool puts the
    #: data), "plan", "write" (mastering, the analyzer's check, the outputs); and its limit
    seconds: dict = field(default_factory=dict)
    time_limit: float = 0.0

    def over_limit(self) -> str | None:
        """A note when the command took well over its time limit, else None: what took
        the time is work no limit shortens (the search had none left)."""
        total = sum(self.seconds.values())
        if not self.time_limit or total <= 1.1 * self.time_limit:
            return None
        s = self.seconds
        return (f"took {total:.1f} s, over the time limit of {self.time_limit:g} s: reading "
                f"the project {s['read']:.1f} s, evaluating the plan and the naive orders "
                f"{s['plan']:.1f} s, mastering, the analyzer's cross-check and the outputs "
                f"{s['write']:.1f} s: work no limit shortens (the search made "
                f"{self.plan.result.moves} move(s)); a larger --time-limit leaves it time")

    def summary_line(self) -> str:
        s = self.summary
        # each medium in its own terms: a CD has 2048-byte sectors, a cartridge ROM bytes
        # (its "sectors" are the model's transfer units: 4 bytes on the GBA)
        extent = (f"{s['sectors'] * s['sector_size']} bytes of ROM"
                  if s.get("medium") == "cartridge" else f"{s['sectors']} sectors")
        parts = [f"{s['files']} file(s), {extent}",
                 f"plan {s['cost_ms']:.1f} ms",
                 f"{s['plan_over_bound']:.3f}x the bound",
                 f"alphabetical {s['alphabetical_over_plan']:.2f}x the plan"]
        if s.get("copies"):
            parts.insert(1, f"{s['copies']} cop{'y' if s['copies'] == 1 else 'ies'}")
        return f"layout {self.image}: " + ", ".join(parts)


def module_files(pairs) -> dict:
    """``{name: path}`` from ``(name, path)`` pairs; the same name twice must be the same bytes.

    Raises
    ------
    InputError
        A module listed twice with different contents (naming both files).
    """
    out: dict = {}
    digest: dict = {}
    for name, path in pairs:
        try:
            h = hashlib.sha256(read_input(path, "module")).hexdigest()
        except FileNotFoundError:
            raise InputError(f"{path}: module file not found (build the modules first, "
                             "e.g. scons)") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        if name in out and digest[name] != h:
            raise InputError(f"module '{name}' is listed twice with different contents: "
                             f"{out[name]} and {path}; give each module one file")
        out.setdefault(name, str(path))
        digest.setdefault(name, h)
    return out


def check_with_analyzer(plan: Plan) -> None:
    """Check that the budget analyzer, given the layout file's contents, computes the plan's
    times; a disagreement is a :class:`LayoutError` (an internal bug, never a traceback)."""
    from gamevm_build.analysis.budget import analyze
    from gamevm_build.analysis.graph import build_graph

    from .manifest import analyzer_config

    p = plan.problem
    G = build_graph(analyzer_config(p, plan.arrangement, plan.base), p.project.modules,
                    p.project.resident)
    r = analyze(G)
    got = {f"{t.source} -> {t.target}": t.load.total_s for t in r.transitions}
    got.update({f"streams[{s.index}]": s.load.total_s for s in r.streams})
    got["boot"] = r.boot.total_s
    for ld in p.loads:
        a, b = got.get(ld.name, 0.0), plan.evaluation.times[ld.id]
        if abs(a - b) > 1e-9 * max(1.0, abs(a)):
            raise LayoutError(f"internal error: the layout's cost model and the budget "
                              f"analyzer disagree on load '{ld.name}' ({b * 1e3:.6f} ms vs "
                              f"{a * 1e3:.6f} ms); no disc was written. Please report it "
                              f"with the config; `gamevm budget` gives the analyzer's times")


def _summary(plan: Plan, image, tool) -> dict:
    p = plan.problem
    arr = plan.arrangement
    alpha = plan.naive["alphabetical"][1].total
    decl = plan.naive["declaration"][1].total
    start, end = plan.positions()
    ev = Evaluator(p)
    reads = sum(ld.weight * ev.read_s(ld) for ld in p.loads)
    return {
        "image": str(image), "tool": tool, "medium": p.model.kind, "model": p.model.name,
        "sector_size": p.model.sector_size,
        "files": len(arr.seq), "copies": sum(len(es) - 1 for es in arr.copies().values()),
        "padding_sectors": sum(arr.pad.values()), "first_lba": plan.base,
        "sectors": max(end[e] for e in arr.seq) - plan.base if arr.seq else 0,
        "cost_ms": plan.cost * 1e3, "bound_ms": plan.bound.total * 1e3,
        "bound_kind": plan.bound.kind, "alphabetical_ms": alpha * 1e3,
        "declaration_ms": decl * 1e3, "reads_ms": reads * 1e3,
        "plan_over_bound": plan.cost / plan.bound.total if plan.bound.total else 1.0,
        "alphabetical_over_plan": alpha / plan.cost if plan.cost else 1.0,
        "declaration_over_plan": decl / plan.cost if plan.cost else 1.0,
        "optimiser_s": plan.result.seconds, "construction": plan.result.chosen,
    }


def build_disc(config, output, *, module_files: dict | None = None, resident_file=None,
               manifest=None, mkpsxiso=None, lba_header=None, report=None,
               tool: str | None = None, time_limit: float | None = None,
               seed: int = 0) -> DiscResult:
    """Plan the layout of the project ``config`` and write the image and the other outputs.

    ``output`` is an ISO 9660 image for disc media, a flat ROM segment for cartridges.
    ``manifest`` (the layout file ``disc.layout`` names), ``mkpsxiso``, ``lba_header``
    and ``report`` (``.html``, or text for any other suffix) are optional paths.

    Raises
    ------
    ConfigError
        Invalid configuration, or a name that breaks ISO 9660 level 1.
    InputError
        Unreadable inputs, or a module listed twice with different contents.
    LayoutError
        A file does not fit the disc, or the image read back differs from the plan.
    ToolchainError
        No mastering tool (names the Debian package), or it failed.
    """
    started = time.perf_counter()           # the time limit covers the whole command
    problem = load_problem(config, module_files=module_files, resident_file=resident_file)
    missing = [m.name for m in problem.modules if m.path is None]
    if problem.resident is not None and problem.resident["path"] is None:
        missing.append("the resident (resident.size without resident.file)")
    if missing:
        named = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more"
                                           if len(missing) > 10 else "")
        raise InputError(f"{problem.config.where}: modules {named} have no file "
                         "(only an estimate): a disc needs the built modules")
    output = Path(output)
    extras = {"manifest": manifest, "mkpsxiso": mkpsxiso, "lba_header": lba_header,
              "report": report}
    # every output is checked before the work, and all are written together at the end:
    # a command that fails leaves none of them (not even the image)
    for kind, path in [("image", output), *extras.items()]:
        if path:
            check_output(path, f"{kind} output")
    if mkpsxiso and problem.config.target != "psx":
        # mkpsxiso masters PlayStation discs (license sectors, XA, SYSTEM.CNF)
        medium = "a CD" if problem.disc else "a cartridge"
        raise InputError(f"--mkpsxiso: a mkpsxiso project masters a PlayStation disc; target "
                         f"{problem.config.target} uses {medium}: its image is the "
                         f"{'ISO 9660 image' if problem.disc else 'ROM segment'} -o writes")
    base = None
    if problem.disc:
        # planned where the tool will put the data: no re-evaluation after mastering
        # (copies' names may still move it by a sector; then the plan is rebased)
        base = first_data_sector(sorted(name_table(problem).values()), tool=tool)
    read = time.perf_counter()
    plan = plan_layout(problem, time_limit=time_limit, seed=seed, started=started,
                       reserve=AFTER_PLAN, base=base)
    planned = time.perf_counter()
    with Outputs() as outs:
        result = _write_image(problem, plan, output, outs, tool)
        texts = _extra_outputs(problem, plan, result, output, extras)
        for kind, text in texts.items():
            outs.write(extras[kind], text.encode(), f"{kind} output")
            result.outputs[kind] = str(extras[kind])
    result.seconds = {"read": read - started, "plan": planned - read,
                      "write": time.perf_counter() - planned}
    result.time_limit = default_time_limit(problem) if time_limit is None else time_limit
    return result


def _write_image(problem, plan, output: Path, outs: Outputs, tool) -> DiscResult:
    """Master (disc) or assemble (cartridge) the image into a staged file of ``outs``; verify it."""
    arr = plan.arrangement
    staged = outs.temporary(output, "image output")
    tool_used = None
    if problem.disc:
        start, end = plan.positions()
        entries = []
        expected = {}
        for e in arr.seq:
            m = arr.extents[e]
            src = problem.resident["path"] if m == RESIDENT else problem.modules[m].path
            data = read_input(src, "module")
            entries.append((plan.names[e], src, arr.pad.get(e, 0)))
            expected[plan.names[e]] = (start[e] - plan.base, len(data),
                                       hashlib.sha256(data).hexdigest())
        system = "PLAYSTATION" if problem.config.target == "psx" else None
        # the analyzer checks the plan while the tool masters it (a process of its own):
        # on 1,650 modules that hides the tool's 0.3 s behind the check's 1.4 s. The plan
        # is made at the tool's base, so the check rarely needs redoing (below).
        tool_used = master_iso(entries, staged, tool=tool, system_id=system,
                               meanwhile=lambda: check_with_analyzer(plan))
        try:
            base = verify_iso(staged, expected, tool_used)
        except GameVMError as exc:        # name the output, not the staged file
            raise type(exc)(str(exc).replace(str(staged), str(output))) from None
        if base != plan.base:
            plan.rebase(base)
            check_with_analyzer(plan)
    else:
        start, _end = plan.positions()
        write_rom([(problem.modules[arr.extents[e]].path, start[e]) for e in arr.seq
                   if arr.extents[e] != RESIDENT], staged, problem.model.sector_size)
        check_with_analyzer(plan)
    return DiscResult(plan, output, tool_used, {"image": str(output)},
                      _summary(plan, output, tool_used))


def _extra_outputs(problem, plan, result: DiscResult, output: Path, extras: dict) -> dict:
    """kind -> text of the manifest, mkpsxiso project, LBA header and report asked for."""
    from . import lbaheader, mkpsxiso as mk, report as rep
    from .manifest import dumps, manifest as manifest_doc

    arr = plan.arrangement
    bundles = plan.bundles()
    start, end = plan.positions()
    names = plan.names or {e: problem.modules[arr.extents[e]].name for e in arr.seq
                           if arr.extents[e] != RESIDENT}
    out = {}
    if extras["manifest"]:
        # the optimiser's seconds stay out: the same inputs give the same file (a build
        # that depends on the layout file is not redone for a different run time)
        doc = manifest_doc(problem, arr, plan.base, image=os.path.basename(output),
                           names=plan.names or None, bundles=bundles,
                           extra={"summary": {k: (round(v, 6) if isinstance(v, float) else v)
                                              for k, v in result.summary.items()
                                              if k != "optimiser_s"}})
        out["manifest"] = dumps(doc)
    if extras["mkpsxiso"]:
        out["mkpsxiso"] = mk.project_xml(problem, arr, plan.names, image_name=output.with_suffix(
            ".bin").name, relative_to=Path(extras["mkpsxiso"]).parent)
    if extras["lba_header"]:
        out["lba_header"] = lbaheader.header(problem, arr, start, end, names, bundles,
                                             image=os.path.basename(output))
    if extras["report"]:
        data = rep.report_data(plan, result.summary, bundles)
        out["report"] = rep.render_html(data) if str(extras["report"]).endswith(
            (".html", ".htm")) else rep.render_text(data)
    return out
