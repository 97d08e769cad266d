"""The ``gamevm dev`` prompt: look into the running game (seed 004's introspection).

Commands are typed on the session's stdin or sent with ``gamevm reload --eval CMD``;
the session runs them on its console thread at the next frame boundary (unicorn is
single-threaded), so they see the game between two frames:

- ``call EXPR``: a ``gamevm call`` expression (:mod:`gamevm_build.play.callexpr`);
- ``modules``: each loaded module's name, address, size and region;
- ``funcs MODULE``: a module's functions by size, largest first (``funcs resident``);
- ``read SYMBOL|ADDR [N]``: N 32-bit words at a symbol or address, in hex;
- ``where ADDR``: the module (or the resident) and ``symbol+offset`` of an address;
- ``help``, ``quit``.

A bad command is one line saying what is wrong and how to write it; nothing raises.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from ..errors import EmulationError, EmulationFault, EmulationTimeout, GameVMError

#: words ``read`` shows at most (a larger N is refused, not cut: the user asked for it)
MAX_READ_WORDS = 256
#: words ``read`` shows when the symbol's size is unknown and no N is given
DEFAULT_READ_WORDS = 4
WORDS_PER_LINE = 4

HELP = [
    "commands (typed here, or gamevm reload --eval 'CMD'):",
    "  call EXPR             call a function of the game: [module:]name(args)",
    "  modules               loaded modules: address, size, region",
    "  funcs MODULE          a module's functions by size, largest first (or: funcs resident)",
    "  read SYMBOL|ADDR [N]  N 32-bit words at a symbol ([module:]name) or address, in hex",
    "  where ADDR            which module and symbol+offset an address is in",
    "  help                  this list",
    "  quit                  end the session",
]
NAMES = ("call", "modules", "funcs", "read", "where", "help", "quit")


class PromptError(GameVMError):
    """A command the prompt cannot run: its message is the one line printed."""


@dataclass
class Result:
    lines: list[str] = field(default_factory=list)
    ok: bool = True
    quit: bool = False


def run_command(session, text: str) -> Result:
    """Run one prompt command on ``session`` (a started :class:`DevSession`)."""
    text = text.strip()
    if not text:
        return Result()
    word, _, rest = text.partition(" ")
    rest = rest.strip()
    try:
        if word == "help":
            return Result(list(HELP))
        if word == "quit":
            return Result([f"session stops at frame {session.frame}"], quit=True)
        if word == "call":
            return _call(session, rest)
        if word == "modules":
            _no_args(word, rest)
            return Result(_modules(session))
        if word == "funcs":
            return Result(_funcs(session, rest))
        if word == "read":
            return Result(_read(session, rest))
        if word == "where":
            return Result(_where(session, rest))
        raise PromptError(f"unknown command '{word}': commands are {', '.join(NAMES)} "
                          "(help lists them)")
    except PromptError as exc:
        return Result([f"error: {exc}"], ok=False)
    except EmulationError as exc:
        return Result([f"error: {str(exc).splitlines()[0]}"], ok=False)


def _no_args(word: str, rest: str) -> None:
    if rest:
        raise PromptError(f"'{word}' takes no arguments (got '{rest}')")


def _call(session, rest: str) -> Result:
    from ..play.callexpr import CallExprError, format_value, parse_call

    if not rest:
        raise PromptError("call EXPR: give a call expression, e.g. call hud:hud_ticks()")
    try:
        expr = parse_call(rest)
    except CallExprError as exc:
        raise PromptError(str(exc)) from None
    lines: list[str] = []
    machine = session.console.machine
    mark = machine._scratch_next
    try:
        function = session.console.symbol(expr.name)
        args = [machine.alloc_string(a) if isinstance(a, bytes) else a for a in expr.args]
        strings_end = machine._scratch_next
        try:
            value = session.console.call(function, *args) & 0xFFFFFFFF
        finally:
            # the strings' scratch memory is given back when nothing was allocated after
            # them, so a long session's calls do not fill the scratch area
            if machine._scratch_next == strings_end:
                machine._scratch_next = mark
    except EmulationError as exc:
        if not isinstance(exc, (EmulationFault, EmulationTimeout)):
            raise PromptError(str(exc).splitlines()[0]) from None     # unknown symbol...
        lines += session.take_output()
        lines.append(f"{expr.text}: the call stopped; the game goes on")
        lines += ["  " + line for line in str(exc).splitlines()]
        return Result(lines, ok=False)
    lines += session.take_output()
    lines.append(f"{expr.text} = {format_value(value)}")
    return Result(lines)


def _modules(session) -> list[str]:
    from .swap import collect, retired

    console = session.console
    collect(console)                     # old copies nothing points into go first
    res = console.resident
    lines = [f"resident {_base_name(res.path)}: 0x{_res_start(res):08x}..0x{res.end:08x} "
             f"({res.end - _res_start(res)} bytes)"]
    for lm in console.loader.loaded.values():
        lines.append(f"{lm.name} at 0x{lm.base:08x}: {lm.module.image_size} bytes "
                     f"(0x{lm.base:08x}..0x{lm.end:08x}), region {lm.region.name}")
    for name, base, gen in retired(console):
        lines.append(f"old copy #{gen} of {name} at 0x{base:08x} (still pointed into)")
    lines += session.memory_lines()
    return lines


def _base_name(path: str) -> str:
    return str(path).replace("\\", "/").rsplit("/", 1)[-1]


def _res_start(res) -> int:
    return min((v for v, _d, _m, _f in res.segments), default=0)


def _funcs(session, rest: str) -> list[str]:
    if not rest or " " in rest:
        raise PromptError("funcs MODULE: name one loaded module (modules lists them) or "
                          "'resident'")
    console = session.console
    if rest == "resident":
        res = console.resident
        funcs = [(res.sizes.get(n, 0), n, a & ~1) for n, a in res.symbols.items()
                 if res.kinds.get(n) == "func"]
        where = "the resident"
    else:
        lm = console.loader.by_name(rest)
        if lm is None:
            have = ", ".join(m.name for m in console.loader.loaded.values()) or "none"
            raise PromptError(f"funcs {rest}: no loaded module '{rest}' (loaded: {have}; or "
                              "'resident')")
        seen, funcs = set(), []
        for s in list(lm.module.exports.values()) + lm.module.locals:
            if s.kind != "func" or not s.section or (s.name, s.value) in seen:
                continue
            seen.add((s.name, s.value))
            funcs.append((s.size, f"{lm.name}:{s.name}", lm.base + (s.value & ~1)))
        where = f"module {lm.name}"
    funcs.sort(key=lambda f: (-f[0], f[1]))
    total = sum(f[0] for f in funcs)
    lines = [f"{len(funcs)} functions in {where}, {total} bytes, largest first:"]
    lines += [f"  {size:6d}  0x{addr:08x}  {name}" for size, name, addr in funcs]
    return lines


def _symbol(session, name: str) -> tuple[int, int | None, str]:
    """(address, size or None, canonical name) of ``[module:]name``: exports, file
    statics of modules, then the resident's symbols."""
    console = session.console
    mod, sep, sym = name.rpartition(":")
    candidates = []
    if sep:
        lm = console.loader.by_name(mod)
        if lm is None:
            raise PromptError(f"{name}: no loaded module '{mod}' (modules lists them)")
        candidates = [lm]
    else:
        res = console.resident
        if name in res.symbols:
            return res.symbols[name], res.sizes.get(name) or None, name
        candidates = list(console.loader.loaded.values())
    for lm in candidates:
        for s in list(lm.module.exports.values()) + lm.module.locals:
            if s.name == sym and s.section:
                return lm.base + (s.value & ~1 if s.kind == "func" else s.value), \
                    (s.size or None), f"{lm.name}:{s.name}"
    where = f"module '{mod}'" if sep else "the resident or any loaded module"
    raise PromptError(f"no symbol '{sym}' in {where}")


def _address(session, text: str) -> int:
    """An integer (0x hex, decimal) or a symbol, optionally ``+offset``."""
    base, plus, off = text.partition("+")
    try:
        offset = int(off, 0) if plus else 0
    except ValueError:
        raise PromptError(f"'{text}': the offset after '+' must be a number") from None
    try:
        addr = int(base, 0)
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+:[A-Za-z_.$][\w.$]*|[A-Za-z_.$][\w.$]*", base):
            raise PromptError(f"'{text}' is not an address (0x80010000, 65536) or a symbol "
                              "([module:]name)") from None
        addr = _symbol(session, base)[0]
    if not 0 <= addr + offset <= 0xFFFFFFFF:
        raise PromptError(f"'{text}' is outside the 32-bit address space")
    return addr + offset


def _is_number(text: str) -> bool:
    try:
        int(text, 0)
        return True
    except ValueError:
        return False


def _read(session, rest: str) -> list[str]:
    try:
        args = shlex.split(rest)
    except ValueError as exc:
        raise PromptError(f"read: {exc}") from None
    if not 1 <= len(args) <= 2:
        raise PromptError("read SYMBOL|ADDR [N]: e.g. read hud_state, read 0x80010000 8")
    if "+" in args[0] or _is_number(args[0]):
        addr, size = _address(session, args[0]), None
    else:                                    # a symbol alone: its size is the default N
        addr, size, _ = _symbol(session, args[0])
    if len(args) == 2:
        try:
            n = int(args[1], 0)
        except ValueError:
            raise PromptError(f"read: N '{args[1]}' is not a number of words") from None
        if not 1 <= n <= MAX_READ_WORDS:
            raise PromptError(f"read: N {n}: give 1..{MAX_READ_WORDS} words")
    else:
        n = min(-(-size // 4), MAX_READ_WORDS) if size else DEFAULT_READ_WORDS
    machine = session.console.machine
    try:
        data = machine.read(addr, 4 * n)
    except EmulationError:
        raise PromptError(f"read 0x{addr:08x} ({n} words): not in the console's RAM "
                          f"({machine.space.memory_map()})") from None
    order = machine.profile.byteorder
    lines = []
    for i in range(0, n, WORDS_PER_LINE):
        at = addr + 4 * i
        name = machine.symbolize(at)
        words = " ".join(f"0x{int.from_bytes(data[4 * j:4 * j + 4], order):08x}"
                         for j in range(i, min(n, i + WORDS_PER_LINE)))
        lines.append(f"0x{at:08x}" + (f" <{name}>" if name else "") + f": {words}")
    return lines


def _where(session, rest: str) -> list[str]:
    if not rest or " " in rest:
        raise PromptError("where ADDR: give one address (0x800102c4) or symbol")
    addr = _address(session, rest)
    console = session.console
    name = console.machine.symbolize(addr)
    lm = console.loader.module_at(addr)
    if lm is not None:
        part = "code" if lm.in_code(addr) else "data"
        what = (f"in module {lm.name} ({part}, 0x{lm.base:08x} + 0x{addr - lm.base:x}, "
                f"region {lm.region.name})")
    elif name and "replaced copy" in name:
        what = "in a replaced copy kept for pointers into it"
    elif any(v <= addr < v + m for v, _d, m, _f in console.resident.segments):
        what = f"in the resident ({_base_name(console.resident.path)})"
    else:
        from .memory import region_at
        region = region_at(console.loader, addr)
        what = (f"in no module: free memory of region {region.name}" if region is not None
                else "in no module or the resident")
    return [f"0x{addr:08x}: {what}" + (f": {name}" if name else "")]
