"""Findings: what a check found and what to change.

Every check returns :class:`Finding` objects.  ``severity`` is ``error`` (the
build fails: a budget, deadline, memory or closure rule is broken) or
``warning`` (worth a look, the build passes).  ``suggestions`` say what to
change, most effective first ("place boss after level1 on disc", "move boss
to region LevelB", "split level1").

Examples
--------
>>> f = Finding("error", "budget", "level1 -> boss_room", "takes 312.4 ms, budget 250 ms",
...             ("place boss after level1 on disc",))
>>> f.to_dict()["check"], str(f)
('budget', 'error: level1 -> boss_room: takes 312.4 ms, budget 250 ms')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding", "SEVERITIES", "sort_findings", "kib", "ms"]

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One result of a check (see the module docstring)."""

    severity: str
    check: str
    subject: str
    message: str
    suggestions: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"severity": self.severity, "check": self.check, "subject": self.subject,
                "message": self.message, "suggestions": list(self.suggestions)}

    def __str__(self) -> str:
        return f"{self.severity}: {self.subject}: {self.message}"


def sort_findings(findings) -> list[Finding]:
    """Errors first, then by check and subject (deterministic)."""
    return sorted(set(findings), key=lambda f: (SEVERITIES.index(f.severity), f.check,
                                                f.subject, f.message))


def kib(nbytes: float) -> str:
    """``12.5 KiB`` (bytes below 1 KiB: ``512 B``)."""
    if abs(nbytes) < 1024:
        return f"{int(nbytes)} B"
    return f"{nbytes / 1024:.1f} KiB"


def ms(seconds: float) -> str:
    """``312.4 ms`` (``0.74 ms`` below 10 ms)."""
    v = seconds * 1000.0
    return f"{v:.2f} ms" if abs(v) < 10 else f"{v:.1f} ms"
