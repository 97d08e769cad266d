"""Validate built modules on the emulated console (``env.GameVMValidate``, docs/loader.md).

:func:`validate` boots a :class:`~gamevm_build.play.console.Console` with the
resident, loads every module (the modules a module ``needs`` first), runs
each module's exported ``gamevm_selftest()`` (0 = pass) and then each declared
test (``GAMEVM_TESTS``), and writes a JUnit XML report::

    result = validate("psx", "build/psx/kernel.elf",
                      ["build/psx/physics.elf", "build/psx/level1.elf"],
                      [("kernel_selftest()", 0), {"call": "physics:fx_isqrt(144)", "expect": 12}],
                      "build/psx/validate.xml")
    print(result.summary_line())      # validate: 4 passed, 0 failed (psx)

A declared test is ``(EXPR, expect)``, ``{"call": EXPR, "expect": N}`` (``expect``
optional: then the call only has to return), or a bare ``EXPR`` (expects 0).
``EXPR`` is a call expression (:mod:`gamevm_build.play.callexpr`).  Results compare
as 32-bit values, so ``-1`` and ``0xffffffff`` are the same expectation.

The report is deterministic: no timestamps or durations, cases in run order.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .callexpr import CallExpr, CallExprError, format_value, parse_call, run_call
from ..errors import ConfigError, EmulationError, EmulationFault, EmulationTimeout, GameVMError

# The emulator (runtime.reference, emu) is imported by the functions that run it: the SCons
# tool parses GAMEVM_TESTS (parse_tests) while SConscripts are read, where nothing heavy
# may be imported.

__all__ = ["Check", "Case", "ValidationResult", "parse_tests", "load_with_needs", "validate",
           "SELFTEST"]

#: The symbol every module may export as its self test (returns 0 on success).
SELFTEST = "gamevm_selftest"


@dataclass(frozen=True)
class Check:
    """A declared test: run ``expr``; when ``expect`` is not None, v0 must equal it (32 bits)."""

    expr: CallExpr
    expect: int | None = 0

    @property
    def text(self) -> str:
        return self.expr.text + ("" if self.expect is None else f" == {self.expect}")


def _expect(value, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip(), 0)
        except ValueError:
            raise ConfigError(f"{where}: expect must be an integer, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expect must be an integer, not {value!r}")
    if not -(1 << 31) <= value <= 0xFFFFFFFF:
        raise ConfigError(f"{where}: expect {value} does not fit 32 bits")
    return value


def parse_tests(tests) -> list[Check]:
    """``GAMEVM_TESTS`` entries -> :class:`Check` list; ConfigError naming the bad entry."""
    out = []
    for i, entry in enumerate(tests or ()):
        where = f"GAMEVM_TESTS[{i}]"
        if isinstance(entry, Check):
            out.append(entry)
            continue
        if isinstance(entry, str):
            text, expect = entry, 0
        elif isinstance(entry, Mapping):
            unknown = sorted(set(entry) - {"call", "expect"})
            if "call" not in entry or unknown:
                raise ConfigError(f"{where}: expected {{'call': EXPR, 'expect': N}}"
                                  + (f"; unknown keys: {', '.join(map(str, unknown))}"
                                     if unknown else ""))
            text, expect = entry["call"], entry.get("expect")
        elif isinstance(entry, (tuple, list)) and len(entry) == 2:
            text, expect = entry
        else:
            raise ConfigError(f"{where}: expected (EXPR, expect), {{'call': EXPR, 'expect': N}} "
                              f"or EXPR, not {entry!r}")
        try:
            expr = parse_call(str(text))
        except CallExprError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        out.append(Check(expr, _expect(expect, where)))
    return out


def load_with_needs(console, name: str, *, region: str | None = None,
                    regions: Mapping[str, str] | None = None, _stack=()) -> list[LoadedModule]:
    """Load module ``name`` (a name the console's readers know), its ``needs`` first.

    Needs already loaded (by module name) are not loaded again.  ``regions``
    maps module names to memoryMap regions (for the needs).  Returns the
    modules loaded, in load order.  Raises :class:`LoadError`.
    """
    from ..link.module import read_module

    loaded = []
    needs: list[str] = []
    mod_name = None
    try:
        path, data = console.loader.reader.read(name)
        module = read_module(data, name=path)
        needs, mod_name = module.needs, module.name
    except GameVMError:
        pass           # console.load below reports it with the right TLoadStatus
    for need in needs:
        # a need already being loaded (a cycle) is left out: the loader then
        # reports the imports nobody provides yet (lsUndefinedSymbol)
        if console.loader.by_name(need) is None and need not in _stack and need != mod_name:
            loaded += load_with_needs(console, need, region=(regions or {}).get(need),
                                      regions=regions, _stack=(*_stack, mod_name))
    if region is None and mod_name is not None:
        region = (regions or {}).get(mod_name)
    loaded.append(console.load(name, region=region))
    return loaded


@dataclass
class Case:
    """One testcase of the report."""

    classname: str
    name: str
    ok: bool
    kind: str = "pass"          #: pass, mismatch, fault, timeout, load, error
    message: str = ""
    detail: str = ""
    result: int | None = None
    output: list[str] = field(default_factory=list)


@dataclass
class ValidationResult:
    target: str
    resident: str
    cases: list[Case]
    modules: list[LoadedModule]
    output: list[str]
    report_path: str | None = None

    @property
    def passed(self) -> int:
        return sum(c.ok for c in self.cases)

    @property
    def failed(self) -> int:
        return sum(not c.ok for c in self.cases)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def failures(self) -> list[Case]:
        return [c for c in self.cases if not c.ok]

    def summary_line(self) -> str:
        return f"validate: {self.passed} passed, {self.failed} failed ({self.target})"

    def failure_lines(self, limit: int = 5) -> list[str]:
        """``  classname name: message`` for the first ``limit`` failures."""
        lines = []
        for c in self.failures[:limit]:
            lines.append(f"  {c.classname} {c.name}: {c.message}")
        if self.failed > limit:
            lines.append(f"  ... and {self.failed - limit} more"
                         + (f" in {self.report_path}" if self.report_path else ""))
        return lines

    def to_junit(self) -> bytes:
        """The JUnit XML report (deterministic: no timestamps or times)."""
        import xml.etree.ElementTree as ET

        failures = sum(c.kind == "mismatch" for c in self.cases if not c.ok)
        errors = self.failed - failures
        root = ET.Element("testsuites", name="gamevm validate", tests=str(len(self.cases)),
                          failures=str(failures), errors=str(errors))
        suite = ET.SubElement(root, "testsuite", name=f"gamevm.validate.{self.target}",
                              tests=str(len(self.cases)), failures=str(failures),
                              errors=str(errors), skipped="0")
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="target", value=self.target)
        ET.SubElement(props, "property", name="resident", value=self.resident)
        for lm in self.modules:
            ET.SubElement(props, "property", name=f"module.{lm.name}",
                          value=f"{lm.path} @ 0x{lm.base:08x} ({lm.module.image_size} bytes, "
                                f"region {lm.region.name})")
        for c in self.cases:
            tc = ET.SubElement(suite, "testcase", classname=c.classname, name=c.name)
            if not c.ok:
                tag = "failure" if c.kind == "mismatch" else "error"
                el = ET.SubElement(tc, tag, type=c.kind, message=c.message)
                el.text = c.detail or c.message
            if c.output:
                ET.SubElement(tc, "system-out").text = "\n".join(c.output) + "\n"
        if self.output:
            ET.SubElement(suite, "system-out").text = "\n".join(self.output) + "\n"
        ET.indent(root)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _run(console, classname: str, name: str, expr: CallExpr, expect: int | None,
         max_instructions: int | None) -> Case:
    from ..runtime.reference import LoadError

    mark = len(console.output)
    case = Case(classname, name, True)
    try:
        value = run_call(console, expr, max_instructions=max_instructions)
    except EmulationFault as exc:
        report = exc.report if exc.report is not None else exc
        case.ok, case.kind = False, "fault"
        case.message = f"{expr.text} faulted: {report}"
    except EmulationTimeout as exc:
        case.ok, case.kind, case.message = False, "timeout", f"{expr.text}: {exc}"
    except LoadError as exc:
        case.ok, case.kind = False, "load"
        case.message = f"{expr.text}: {exc.status.name}: {exc}"
    except EmulationError as exc:           # unknown symbol or module, scratch area full
        case.ok, case.kind, case.message = False, "error", f"{expr.text}: {exc}"
    else:
        case.result = value
        if expect is not None and value != expect & 0xFFFFFFFF:
            case.ok, case.kind = False, "mismatch"
            case.message = (f"{expr.text} returned {format_value(value)}, expected "
                            f"{format_value(expect)}")
    case.output = console.output[mark:]
    if not case.ok and case.output:
        case.detail = case.message + "\noutput:\n" + "\n".join(case.output)
    return case


def print_progress(machine, instructions: int, wall: float) -> None:
    """``Machine.progress`` for commands and builds: a long call says what it is doing, on stderr."""
    pc = machine.reg("pc")
    where = machine.symbolize(pc)
    print(f"gamevm: still running after {wall:.0f} s: {machine.console_seconds(instructions):.3g} s "
          f"of console time ({instructions} instructions), now at 0x{pc:08x}"
          + (f" <{where}>" if where else ""), file=sys.stderr, flush=True)


def validate(target: str, resident, modules, tests=(), report_path=None, *, regions=None,
             search_paths=None, max_instructions: int | None = None, scenarios=(),
             config=None, trace_dir=None, layout=None, progress=None) -> ValidationResult:
    """Load ``modules`` into an emulated console with ``resident``, run self tests and ``tests``.

    Parameters
    ----------
    target : str
        Profile name (``psx``, ``n64``).
    resident : path
        The resident ELF.
    modules : list of path
        Module files; loaded in dependency order (a module's ``needs`` first;
        needs not listed are read from the search path).
    tests : list
        Declared tests (see the module docstring and :func:`parse_tests`).
    report_path : path, optional
        Where to write the JUnit XML report.
    regions : list of MemoryRegion, optional
        The project's memoryMap (default: RAM after the resident).
    search_paths : list of path, optional
        Directories searched for modules (``needs`` not among ``modules``, and
        what the resident's ``LoadModule`` asks for) before the modules' own
        directories, which are always searched.
    max_instructions : int, optional
        Budget of each call in instructions (default :data:`gamevm_build.emu.machine.DEFAULT_SECONDS`
        of console time).
    progress : callable, optional
        ``Machine.progress`` for the calls (e.g. :func:`print_progress`): told of a call
        still running after a few wall-clock seconds.
    scenarios : list of path, optional
        Scenarios (:mod:`gamevm_build.play.scenario`) to play, each on a fresh console
        with ``modules`` in place of the files their configuration names: one
        testcase each (classname ``TARGET.scenario``).  With a configuration, each
        trace is also checked against the static bounds (:mod:`gamevm_build.analysis.trace`):
        an observed load above its bound fails the case.
    config : path, optional
        The project configuration the scenarios use (overrides theirs).
    trace_dir : path, optional
        Where to write each scenario's trace (``<scenario>.trace.json``); default
        the report's directory.
    layout : path, optional
        A disc layout file (``GameVMDisc``'s manifest) replacing the configuration's
        disc positions, for the scenarios and their bounds alike.

    Returns
    -------
    ValidationResult
        Failures are results, not exceptions; ``result.ok`` says whether all passed.

    Raises
    ------
    ConfigError
        A malformed declared test; InputError / ConfigError for an unusable
        resident or memoryMap.
    """
    from .console import Console
    from ..link.module import read_module
    from ..runtime.reference import LoadError, TLoadStatus

    checks = parse_tests(tests)
    modules = [str(m) for m in modules]
    search_paths = [Path(d) for d in search_paths or ()]
    for m in modules:
        d = Path(m).parent
        if d not in search_paths:
            search_paths.append(d)
    console = Console(target, resident, search_paths=search_paths, regions=regions)
    console.machine.progress = progress
    cases: list[Case] = []
    loaded: list[LoadedModule] = []

    # Load, needs first (load_with_needs); a module that fails is a failed case.
    for path in modules:
        try:
            mod = read_module(path)
        except GameVMError as exc:
            status = TLoadStatus.lsBadFormat if Path(path).is_file() else TLoadStatus.lsFileNotFound
            cases.append(Case(f"{target}.{Path(path).stem}", "load", False, "load",
                              f"{status.name}: {exc}"))
            continue
        if console.loader.by_name(mod.name) is not None:
            continue
        try:
            loaded += load_with_needs(console, Path(path).name)
        except LoadError as exc:
            cases.append(Case(f"{target}.{mod.name}", "load", False, "load",
                              f"{exc.status.name}: {exc}"))

    # Self tests, in load order.
    for lm in loaded:
        if SELFTEST in lm.symbols:
            expr = parse_call(f"{lm.name}:{SELFTEST}()")
            cases.append(_run(console, f"{target}.{lm.name}", f"{SELFTEST}()", expr, 0,
                              max_instructions))

    # Declared tests, in order.
    for check in checks:
        cases.append(_run(console, f"{target}.tests", check.text, check.expr, check.expect,
                          max_instructions))

    output = list(console.output)
    if scenarios:
        cases += _run_scenarios(target, resident, modules, scenarios, config,
                                trace_dir if trace_dir is not None else
                                (Path(report_path).parent if report_path is not None else None),
                                search_paths, layout, progress)
    result = ValidationResult(target, str(resident), cases, loaded, output,
                              str(report_path) if report_path is not None else None)
    if report_path is not None:
        from ..fileutil import atomic_write

        Path(report_path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(Path(report_path), result.to_junit())
    return result


def _with_progress(progress):
    if progress is None:
        return None

    def on_console(console):
        console.machine.progress = progress
    return on_console


def scenario_trace_name(scenario) -> str:
    """File name of a scenario's trace: ``<scenario stem>.trace.json``."""
    return f"{Path(str(scenario)).stem}.trace.json"


def _run_scenarios(target, resident, modules, scenarios, config, trace_dir,
                   search_paths, layout=None, progress=None) -> list[Case]:
    """One testcase per scenario (docs/runtime.md); traces checked against the bounds."""
    import json

    from ..fileutil import atomic_write
    from ..link.module import read_module
    from .scenario import run_scenario

    files = {}
    for m in modules:
        try:
            files[read_module(m).name] = m
        except GameVMError:
            pass
    cases: list[Case] = []
    budget = None
    for path in scenarios:
        name = Path(str(path)).stem
        case = Case(f"{target}.scenario", name, True)
        try:
            # on the loader the resident contains: the console-side runtime when it has it
            result = run_scenario(path, config=config, module_files=files, resident=resident,
                                  search_paths=search_paths, target=target, layout=layout,
                                  on_console=_with_progress(progress))
        except GameVMError as exc:
            case.ok, case.kind, case.message = False, "error", f"scenario {name}: {exc}"
            cases.append(case)
            continue
        case.name = result.scenario.name
        case.output = result.log_lines()
        trace = result.trace()
        if trace_dir is not None:
            Path(trace_dir).mkdir(parents=True, exist_ok=True)
            out = Path(trace_dir) / scenario_trace_name(path)
            atomic_write(out, (json.dumps(trace, indent=1) + "\n").encode())
            trace["_path"] = str(out)
        if not result.ok:
            f = result.failure
            case.ok, case.kind = False, "mismatch"
            case.message = (f"scenario {result.scenario.name}: steps[{f.step.index}] "
                            f"({f.step.kind}): {f.error}" if f else result.summary_line())
        elif result.config is not None:
            try:
                from gamevm_build.analysis import check_project
                from gamevm_build.analysis.trace import check_trace

                if budget is None or budget[0] != result.config.path:
                    lay = getattr(result.config, "layout_file", None)
                    budget = (result.config.path, check_project(
                        result.config.path, module_files={k: v for k, v in files.items()
                                                          if k in result.config.modules},
                        resident_file=resident,
                        layout_file=str(lay) if layout is not None and lay else None))
                check = check_trace(budget[1], [trace])
            except GameVMError as exc:
                case.ok, case.kind, case.message = False, "error", f"trace check: {exc}"
            else:
                case.output.append(check.summary_line())
                if not check.ok:
                    case.ok, case.kind = False, "mismatch"
                    case.message = f"scenario {result.scenario.name}: {check.summary_line()}"
                    case.detail = case.message + "\n" + check.render_text()
        if not case.ok and not case.detail:
            case.detail = case.message + "\noutput:\n" + "\n".join(case.output)
        cases.append(case)
    return cases
