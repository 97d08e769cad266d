"""Concrete simulation: play one walk through the flow graph step by step.

Where the analyses bound every path at once, :func:`simulate_walk` follows
one path, with the same media model, CPU costs and loader semantics
(:mod:`gamevm_build.analysis.plans`): it keeps the actual resident set and head position,
loads exactly the modules that are missing, in load order, and times each
read from where the head really is.  The property tests check that no
simulated load is slower than its bound; the emulated runtime can compare its
measured loads with the same numbers.

Examples
--------
>>> from gamevm_build.analysis.graph import graph_from_dict
>>> G = graph_from_dict({
...     "target": "psx", "media": "ps1-duckstation-2x",
...     "memoryMap": {"regions": [
...         {"name": "Ovl", "start": "0x80010000", "size": "64KB", "type": "overlay"}]},
...     "modules": {"a": {"region": "Ovl", "estimate": {"size": 2048}},
...                 "b": {"region": "Ovl", "estimate": {"size": 2048}}},
...     "scenes": {"A": {"modules": ["a"]}, "B": {"modules": ["b"]}},
...     "transitions": [{"from": "A", "to": "B", "budget_ms": 500},
...                     {"from": "B", "to": "A", "budget_ms": 500}],
...     "disc": {"positions": {"a": 100, "b": 101}}})
>>> [(s.kind, s.target, s.modules) for s in simulate_walk(G, ["A", "B", "A"])]
[('boot', 'A', ('a',)), ('transition', 'B', ('b',)), ('transition', 'A', ('a',))]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from gamevm_build.project.media import HeadState
from gamevm_build.runtime.loadtime import completion_frames, file_frames

from ._index import index

__all__ = ["SimLoad", "simulate_walk"]


@dataclass(frozen=True)
class SimLoad:
    """One load of a simulated walk (seconds; ``frames`` for streams, from scene entry)."""

    kind: str                       # boot | transition | stream | prefetch
    source: str | None
    target: str
    modules: tuple[str, ...]
    media_s: float
    cpu_s: float
    head_before: int | None
    head_after: int | None
    stream: int | None = None
    frames: int | None = None

    @property
    def seconds(self) -> float:
        return self.media_s + self.cpu_s


def _load(ix, mask: int, head, idle: HeadState, load: str | None = None, files=None):
    """``(media_s, cpu_s, head after)`` of loading ``mask``; ``files`` gets each file's
    ``(media_s, cpu_s)``."""
    media = cpu = 0.0
    first = True
    for i, pos, end in ix.order(mask, load):
        state = idle if first else HeadState.READING
        m = ix.access(head, pos, state) + ix.transfer_s[i]
        media += m
        cpu += ix.cpu_s[i]
        if files is not None:
            files.append((m, ix.cpu_s[i]))
        head = end
        first = False
    return media, cpu, head


def simulate_walk(G, walk: Sequence[str], *, head=None,
                  prefetch: Mapping[int, Sequence[Sequence[str]]] | None = None
                  ) -> list[SimLoad]:
    """Simulate entering ``walk[0]`` (the start scene) from boot, then each transition.

    Parameters
    ----------
    walk : sequence of str
        Scene names; ``walk[0]`` must be the start scene and every consecutive
        pair a transition of the flow graph.
    head : int, optional
        Head position at boot (default: the disc layout's ``boot_head``, else
        unknown: charged the worst seek, as the analysis does).
    prefetch : mapping, optional
        ``k -> [modules, ...]``: after entering ``walk[k]`` and its streams, prefetch
        each list in turn (the modules with their needs that are not resident, as a
        scenario's ``prefetch`` step does); each must be part of that scene's
        ``prefetch`` declaration.

    Returns
    -------
    list of SimLoad
        The boot load, then per transition its load followed by the target
        scene's streams and prefetches.

    Raises
    ------
    ValueError
        ``walk`` does not start at the start scene or uses a missing transition, or a
        prefetch loads what its scene does not declare.
    """
    ix = index(G)
    if not walk or walk[0] != ix.start:
        raise ValueError(f"a walk starts at the start scene '{ix.start}'")
    fps = G.graph["frame_rate"]
    idle = ix.drive
    head = head if head is not None else G.graph.get("boot_head")
    resident = 0
    out: list[SimLoad] = []
    prev = None
    for k, scene in enumerate(walk):
        if prev is not None and scene not in ix.succs[prev]:
            raise ValueError(f"no transition {prev} -> {scene}")
        want = ix.scene_mask[scene]
        loaded = want & ~resident
        media, cpu, new_head = _load(ix, loaded, head, idle,
                                     "boot" if prev is None else f"{prev} -> {scene}")
        out.append(SimLoad("boot" if prev is None else "transition", prev, scene,
                           tuple(ix.names_of(loaded)), media, cpu, head, new_head))
        head = new_head
        resident = ix.apply(resident, want)
        media_frames = cpu_frames = 0           # the files' frames (analysis.timing.plan_frames)
        for st, smask in ix.streams[scene]:
            loaded = smask & ~resident
            files: list = []
            media, cpu, new_head = _load(ix, loaded, head, idle, f"streams[{st.index}]", files)
            for m, c in files:
                fm, fc = file_frames(m, c, fps, st.cpu_slice_ms)
                media_frames, cpu_frames = media_frames + fm, cpu_frames + fc
            out.append(SimLoad("stream", scene, scene, tuple(ix.names_of(loaded)), media, cpu,
                               head, new_head, st.index,
                               completion_frames(media_frames, cpu_frames)))
            head = new_head
            resident = ix.apply(resident, smask)
        for names in (prefetch or {}).get(k, ()):
            want = ix.close(ix.mask(names))
            if want & ~ix.prefetch[scene]:
                raise ValueError(f"scene {scene} does not declare a prefetch of "
                                 f"{', '.join(ix.names_of(want & ~ix.prefetch[scene]))}")
            loaded = want & ~resident
            media, cpu, new_head = _load(ix, loaded, head, idle, f"prefetch[{scene}]")
            out.append(SimLoad("prefetch", scene, scene, tuple(ix.names_of(loaded)), media,
                               cpu, head, new_head))
            head = new_head
            # only what is missing is loaded, and it evicts what shares its overlays
            resident = ix.apply(resident, loaded)
        prev = scene
    return out
