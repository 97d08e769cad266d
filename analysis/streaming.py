"""Streaming loads: finished before their deadline, and never overwriting a module in use.

A stream loads modules in the background while its scene runs (seed §5.1
"Pre-fetching").  The drive works on its own; the loader's CPU work (copy,
relocation, binding, constructors) gets at most ``cpu_slice_ms`` per frame.
A loader reads an asynchronous load's files one after the other: a read is found
done when the next frame starts (``GameVMFrame``), then the file's CPU work gets its
slices, one per frame from that frame on, and the next file's read starts when it is
done.  The streams of one scene run one after the other, so a stream completes,
counted in frames from the scene's entry, in frame::

    frames = Σ ceil(media_s · frame_rate) + Σ ceil(cpu_ms / cpu_slice_ms) - 1

summed over the files of the stream and of the scene's earlier streams
(:func:`gamevm_build.runtime.loadtime.completion_frames`), the largest over every
head position and subset of uncertain modules
(:func:`gamevm_build.analysis.timing.plan_frames`).  It must not exceed
``deadline_frames``.  The reference loader's frame loop and the console-side
runtime complete in that frame when the head is where the analysis assumed.

A stream must not load a module into an overlay region whose occupant the
scene uses (the point of a double buffer: load into the *other* half), nor
evict what an earlier stream of the scene loaded.

Examples
--------
>>> from gamevm_build.analysis.graph import graph_from_dict
>>> G = graph_from_dict({
...     "target": "psx", "frame_rate": 60,
...     "memoryMap": {"regions": [
...         {"name": "A", "start": "0x80010000", "size": "64KB", "type": "overlay", "pair": "B"},
...         {"name": "B", "start": "0x80020000", "size": "64KB", "type": "overlay"}]},
...     "modules": {"level": {"region": "A", "estimate": {"size": "20KB"}},
...                 "next": {"region": "A", "estimate": {"size": "20KB"}}},
...     "scenes": {"level": {"modules": ["level"]}, "next": {"modules": ["next"]}},
...     "streams": [{"scene": "level", "modules": ["next"], "deadline_frames": 120,
...                  "cpu_slice_ms": 4}]})
>>> s, = stream_times(G)
>>> s.media_frames, s.cpu_frames, s.frames, s.ok     # 1336 ms worst access + 10 sectors
(85, 1, 85, True)
>>> f, = stream_findings(G, [s])
>>> f.check, f.suggestions[0]
('double-buffer', 'move next to region B (the other half of the double buffer A/B)')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gamevm_build.runtime.loadtime import completion_frames

from ._index import bits, index
from .findings import Finding, ms
from .plans import UNKNOWN, head_positions, heads_after, load_plans, residency, stream_plans
from .timing import LoadTime, plan_frames, plan_time, seek_advice

__all__ = ["StreamTime", "stream_times", "stream_findings"]

_EPS = 1e-9


@dataclass(frozen=True)
class StreamTime:
    """A stream's worst-case completion, in frames from its scene's entry."""

    index: int
    scene: str
    modules: tuple[str, ...]
    deadline_frames: int
    cpu_slice_ms: float
    load: LoadTime                     # the slowest in milliseconds
    media_frames: int
    cpu_frames: int
    description: str = ""
    latest: LoadTime | None = None     # the one completing last (plan_frames)

    @property
    def frames(self) -> int:
        return completion_frames(self.media_frames, self.cpu_frames)

    @property
    def ok(self) -> bool:
        return self.frames <= self.deadline_frames

    @property
    def ratio(self) -> float:
        return self.frames / self.deadline_frames


def stream_times(G, *, R=None, heads=None, splans=None) -> list[StreamTime]:
    """Worst-case completion of every stream of a reachable scene, in configuration order."""
    ix = index(G)
    R = R if R is not None else residency(G)
    splans = splans if splans is not None else stream_plans(G, R)
    heads = heads if heads is not None else head_positions(G, R, load_plans(G, R), splans)
    out = []
    for s in ix.scenes:
        if s not in R.entry_must:
            continue
        h = heads.entry.get(s, UNKNOWN)
        # the scene's streams one after the other: each adds its files' frames
        media_frames = cpu_frames = 0
        for st, _ in ix.streams[s]:
            plan = splans[st.index]
            m, c, latest = plan_frames(G, plan, h, slice_ms=st.cpu_slice_ms)
            media_frames, cpu_frames = media_frames + m, cpu_frames + c
            out.append(StreamTime(st.index, s, st.modules, st.deadline_frames, st.cpu_slice_ms,
                                  plan_time(G, plan, h), media_frames, cpu_frames,
                                  st.description, latest))
            h = heads_after(ix, h, *plan.masks, plan.load)
    out.sort(key=lambda t: t.index)
    return out


def stream_findings(G, times: list[StreamTime] | None = None, R=None) -> list[Finding]:
    """Missed deadlines, and streams or prefetches that overwrite modules in use."""
    ix = index(G)
    R = R if R is not None else residency(G)
    times = times if times is not None else stream_times(G, R=R)
    regions = G.graph["regions"]
    fps = G.graph["frame_rate"]
    out: list[Finding] = []
    for t in times:
        key = f"streams[{t.index}] ({', '.join(t.modules)} during {t.scene})"
        if not t.ok:
            sugg = []
            # CPU frames of the scene's earlier streams, and what this one's files may take:
            # n files' frames, each rounded up, are at most n - 1 more than the total's
            own = [s.cpu_s for s in (t.latest or t.load).steps]
            earlier = t.cpu_frames - sum(math.ceil(c * 1e3 / t.cpu_slice_ms - _EPS) for c in own)
            room = t.deadline_frames - t.media_frames + 1 - earlier - (len(own) - 1)
            if room > 0 and t.load.cpu_s > 0:
                need = t.load.cpu_s * 1e3 / room
                if need < 1000.0 / fps:
                    sugg.append(f"raise cpu_slice_ms to {math.ceil(need * 100) / 100:g} "
                                f"(the CPU work is {ms(t.load.cpu_s)})")
            seeky = max(t.load.steps, key=lambda s: s.access_s, default=None)
            advice = seek_advice(seeky) if seeky is not None and seeky.access_s * fps >= 1 \
                else None
            if advice:
                sugg.append(advice)
            sugg.append(f"raise deadline_frames to {t.frames} or start the stream in an "
                        "earlier scene")
            out.append(Finding(
                "error", "stream", key,
                f"completes after {t.frames} frames ({t.media_frames} media + {t.cpu_frames} "
                f"CPU at {t.cpu_slice_ms:g} ms/frame, the first in the frame that finds the "
                f"reads done), deadline {t.deadline_frames}",
                tuple(sugg)))
    # overwriting a module in use, or what an earlier stream loaded
    for s in ix.scenes:
        if s not in R.entry_must:
            continue
        need = ix.scene_mask[s]
        loaded_by: dict[str, tuple[int, int]] = {}
        for st, smask in ix.streams[s]:
            key = f"streams[{st.index}] ({', '.join(st.modules)} during {s})"
            for i in bits(smask & ix.overlay_bits):
                rname = ix.region[i]
                reg = regions[rname]
                users = [j for j in bits(need & ix.region_mask[rname]) if j != i]
                check = "double-buffer" if reg.pair else "overlay"
                for j in users:
                    sugg = []
                    if reg.pair and not (need & ix.region_mask[reg.pair]) and \
                            ix.footprint[i] <= regions[reg.pair].capacity:
                        sugg.append(f"move {ix.names[i]} to region {reg.pair} (the other half "
                                    f"of the double buffer {rname}/{reg.pair})")
                    else:
                        free = [n for n, r in sorted(regions.items()) if r.overlay and n != rname
                                and not (need & ix.region_mask[n])
                                and ix.footprint[i] <= r.capacity]
                        if free:
                            sugg.append(f"move {ix.names[i]} to region {free[0]}")
                    sugg.append(f"load {ix.names[i]} when leaving {s} instead of streaming it")
                    out.append(Finding(
                        "error", check, key,
                        f"loads {ix.names[i]} into region {rname} while scene {s} uses "
                        f"{ix.names[j]} there: the stream would overwrite a module in use",
                        tuple(sugg)))
                prev = loaded_by.get(rname)
                if prev is not None and prev[1] != i:
                    out.append(Finding(
                        "error", "overlay", key,
                        f"loads {ix.names[i]} into region {rname}, evicting {ix.names[prev[1]]} "
                        f"that streams[{prev[0]}] loaded in the same scene",
                        (f"put {ix.names[i]} and {ix.names[prev[1]]} in different regions",)))
                loaded_by[rname] = (st.index, i)
    # a prefetch is the same kind of background load: it must not overwrite what the
    # scene runs either
    for s in ix.scenes:
        if s not in R.entry_must or not ix.prefetch[s]:
            continue
        need = ix.scene_mask[s]
        key = f"scene {s} prefetch"
        for i in bits(ix.prefetch[s] & ix.overlay_bits & ~need):
            rname = ix.region[i]
            reg = regions[rname]
            for j in bits(need & ix.region_mask[rname]):
                sugg = []
                if reg.pair and not (need & ix.region_mask[reg.pair]) and \
                        ix.footprint[i] <= regions[reg.pair].capacity:
                    sugg.append(f"move {ix.names[i]} to region {reg.pair} (the other half "
                                f"of the double buffer {rname}/{reg.pair})")
                sugg.append(f"do not prefetch {ix.names[i]} during {s}")
                out.append(Finding(
                    "error", "double-buffer" if reg.pair else "overlay", key,
                    f"may load {ix.names[i]} into region {rname} while scene {s} uses "
                    f"{ix.names[j]} there: the prefetch would overwrite a module in use",
                    tuple(sugg)))
    return out
