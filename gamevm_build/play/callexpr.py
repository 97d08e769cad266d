"""Call expressions: ``name(arg, ...)`` run on an emulated console.

Shared by ``gamevm call`` (docs/loader.md) and ``GameVMValidate``'s
``GAMEVM_TESTS``.  An expression is::

    [module:]symbol(arg, arg, ...)

* ``symbol`` is a C identifier; ``module:symbol`` picks a loaded module's
  export, a bare ``symbol`` is looked up in the resident first, then in the
  loaded modules in load order (:meth:`gamevm_build.play.console.Console.symbol`).
* each ``arg`` is an integer (decimal, ``0x`` hex, ``0o``/``0b``; a leading
  ``-`` or ``+``; it must fit 32 bits signed or unsigned), or a string literal
  (``"..."`` or ``'...'``, Python escapes; ``b"..."`` for raw bytes), which is
  copied NUL-terminated into the machine's scratch area and passed as a pointer.

Parsing uses :mod:`ast` on the argument list only (never ``eval``); anything
else (names, arithmetic, calls, keywords) is rejected with a message saying
what is allowed.  Results: ``v0`` as the signed decimal of the 32-bit value
and its unsigned hex (:func:`format_value`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["CallExpr", "CallExprError", "parse_call", "format_value", "signed32",
           "run_call"]

MASK32 = 0xFFFFFFFF

_HEAD = re.compile(r"\s*(?:(?P<module>[A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*:\s*)?"
                   r"(?P<symbol>[A-Za-z_][A-Za-z0-9_]*)\s*(?=\()")


class CallExprError(ConfigError):
    """A call expression cannot be parsed (exit status 2: a usage error)."""


@dataclass(frozen=True)
class CallExpr:
    """A parsed ``[module:]symbol(args)``.

    ``args`` holds ints (as written, possibly negative) and ``bytes`` (string
    literals, without the NUL); ``arg_texts`` the arguments as written.
    """

    module: str | None
    symbol: str
    args: tuple
    arg_texts: tuple

    @property
    def name(self) -> str:
        """``module:symbol`` or ``symbol``: what :meth:`Console.symbol` resolves."""
        return f"{self.module}:{self.symbol}" if self.module else self.symbol

    @property
    def text(self) -> str:
        """Canonical spelling: ``name(arg, arg)`` with the arguments as written."""
        return f"{self.name}({', '.join(self.arg_texts)})"

    def __str__(self) -> str:
        return self.text


def _bad(text: str, why: str) -> CallExprError:
    return CallExprError(f"call expression {text!r}: {why}; expected [module:]symbol(arg, ...) "
                         "with integer or string-literal arguments, e.g. "
                         "'physics:fx_mul(0x30000, -2)' or 'gvm_strlen(\"hi\")'")


def _argument(node: ast.AST, text: str, source: str):
    """The value of one argument node: int or bytes."""
    sign = 1
    inner = node
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        inner = node.operand
    if isinstance(inner, ast.Constant):
        value = inner.value
        if isinstance(value, bool) or not isinstance(value, (int, str, bytes)):
            pass
        elif isinstance(value, int):
            value *= sign
            if not -(1 << 31) <= value <= MASK32:
                raise _bad(text, f"argument {ast.get_source_segment(source, node)} does not fit "
                                 "32 bits")
            return value
        elif inner is node:                    # no sign in front of a string
            return value.encode("utf-8") if isinstance(value, str) else value
    what = ast.get_source_segment(source, node) or type(node).__name__
    raise _bad(text, f"argument {what!r} is not an integer or a string literal")


def parse_call(text: str) -> CallExpr:
    """Parse ``[module:]symbol(arg, ...)``; raise :class:`CallExprError` when malformed."""
    if not isinstance(text, str):
        raise _bad(str(text), "not a string")
    head = _HEAD.match(text)
    if head is None:
        raise _bad(text, "no function name followed by '('")
    # Parse "f(<the argument list as written>" with ast; the name part (which may
    # contain ':' and '-') is replaced by a placeholder first.
    source = "f" + text[head.end():].strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise _bad(text, f"syntax error ({exc.msg})") from None
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == "f"):
        raise _bad(text, "not a single call")
    if call.keywords:
        raise _bad(text, "keyword arguments are not supported")
    args, texts = [], []
    for node in call.args:
        if isinstance(node, ast.Starred):
            raise _bad(text, "*arguments are not supported")
        args.append(_argument(node, text, source))
        texts.append(ast.get_source_segment(source, node))
    if len(args) > 16:
        raise _bad(text, f"{len(args)} arguments; at most 16 are supported")
    return CallExpr(head.group("module"), head.group("symbol"), tuple(args), tuple(texts))


def signed32(value: int) -> int:
    """``value`` (any int) as a signed 32-bit integer."""
    value &= MASK32
    return value - (1 << 32) if value & 0x80000000 else value


def format_value(value: int) -> str:
    """``-1 (0xffffffff)``: the signed decimal and the unsigned hex of a 32-bit value."""
    return f"{signed32(value)} (0x{value & MASK32:08x})"


def run_call(console, expr: CallExpr, *, max_instructions: int | None = None,
             max_seconds: float | None = None) -> int:
    """Run ``expr`` on ``console``; return ``v0`` (unsigned 32-bit).

    String arguments are copied into the machine's scratch area first.

    Raises
    ------
    EmulationError
        Unknown symbol or module (exit 2); :class:`EmulationFault` /
        :class:`EmulationTimeout` when the call faults or runs out of budget.
    """
    function = console.symbol(expr.name)
    args = [console.machine.alloc_string(a) if isinstance(a, bytes) else a for a in expr.args]
    return console.call(function, *args, max_instructions=max_instructions,
                        max_seconds=max_seconds) & MASK32
