"""The analyzer's streaming checks (analysis/streaming.py): stream times from the heads
given, and the findings of ``stream_findings`` -- a late stream's message and advice (the
CPU slice it needs, seek advice, at the frame boundaries where each stops), the subjects
of streams of several modules, an eviction's suggestion, and which scenes' streams and
prefetches are checked for overwriting a module in use.

Tests written against surviving mutants of `bench/mutation.py -p analysis --all`
(docs/testing.md); each names its survivors."""

from __future__ import annotations

import dataclasses
import re

import pytest

from test_analysis import est, far_stream_graph, n64_costs_for_streams, stream_graph  # noqa: F401

from gamevm_build.analysis import graph_from_dict
from gamevm_build.analysis.plans import UNKNOWN, Heads, head_positions
from gamevm_build.analysis.streaming import stream_findings, stream_times
from gamevm_build.errors import ConfigError
from gamevm_build.runtime.loadtime import file_frames


# --------------------------------------------------------------------------- stream_times

def test_stream_times_start_from_the_heads_given():
    """far_stream_graph's stream of nxt (at 200000) starts at 108, after lvlX: 46 frames.
    Given heads where lvl's entry is unknown (what the trace check's "anywhere" bound
    passes), it starts from the worst seek of the whole disc instead, and takes longer.
    Written for the survivor streaming.x_stream_times__mutmut_17 (the heads given ignored
    and worked out again)."""
    G = far_stream_graph()
    known, = stream_times(G)
    assert known.load.heads == head_positions(G).entry["lvl"] == {108}
    assert known.frames == 46
    anywhere, = stream_times(G, heads=Heads(entry={"lvl": UNKNOWN}, exit={}))
    assert anywhere.load.heads == UNKNOWN
    step, = anywhere.load.steps
    assert step.from_lba is None and step.from_label.startswith("head unknown")
    assert anywhere.frames > known.frames


# --------------------------------------------------------------------------- late streams

def test_stream_findings_judge_the_times_given():
    """stream_findings reports the stream times it is given, not times it works out again:
    timed from an unknown head the stream takes more frames than from 108, and gets no
    seek advice (an unknown head follows no module); given no times, nothing is late.
    Written for the survivor streaming.x_stream_findings__mutmut_9 (the times given
    ignored)."""
    G = far_stream_graph()
    anywhere, = stream_times(G, heads=Heads(entry={"lvl": UNKNOWN}, exit={}))
    f, = stream_findings(G, [anywhere])
    assert anywhere.frames > 46
    assert f.message.startswith(f"completes after {anywhere.frames} frames "
                                f"({anywhere.media_frames} media + 1 CPU")
    assert f.suggestions == (f"raise deadline_frames to {anywhere.frames} or start the stream "
                             "in an earlier scene",)
    assert stream_findings(G, []) == []
    assert [x.message for x in stream_findings(G)] == [
        "completes after 46 frames (46 media + 1 CPU at 5 ms/frame, the first in the frame "
        "that finds the reads done), deadline 2"]


def two_module_stream(nx2_region="Heap"):
    """stream_graph's lvl streams nxt (LevelB) and nx2 (in ``nx2_region``), late (3 frames)."""
    def extra(d):
        d["memoryMap"]["regions"].append({"name": "Heap", "start": "0x80200000",
                                          "size": "512KB"})
        d["modules"]["nx2"] = est("8KB", nx2_region)
        d["scenes"]["nxt"]["modules"] = ["nxt", "nx2"]
        d["streams"][0]["modules"] = ["nxt", "nx2"]
    return stream_graph(deadline=3, extra=extra)


def test_a_stream_of_two_modules_is_named_by_both():
    """A stream's findings name it by its index, its modules separated by ", " and its
    scene: late, and loading nx2 into LevelA where lvl runs.  Written for the survivors
    streaming.x_stream_findings__mutmut_25 (the late stream's subject) and _107 (the
    overwriting stream's subject), both joining the modules with "XX, XX"."""
    G = two_module_stream("LevelA")
    late, overwrite = stream_findings(G)
    assert (late.check, late.subject) == ("stream", "streams[0] (nxt, nx2 during lvl)")
    assert (overwrite.check, overwrite.subject) == ("double-buffer",
                                                    "streams[0] (nxt, nx2 during lvl)")
    assert overwrite.message.startswith("loads nx2 into region LevelA while scene lvl uses lvl")


def test_a_stream_time_without_its_latest_load_is_advised_from_its_load():
    """``StreamTime.latest`` defaults to None (a time built without plan_frames' load):
    the CPU slice advice then reads the files' CPU work from ``load``, the same advice.
    Written for the survivor streaming.x_stream_findings__mutmut_29 (``latest or load``
    made ``latest and load``: None has no steps)."""
    G = stream_graph(deadline=3)
    s, = stream_times(G)
    assert s.latest is not None and s.latest.steps == s.load.steps
    f, = stream_findings(G, [s])
    assert f.suggestions[0].startswith("raise cpu_slice_ms to 1.51 ")
    g, = stream_findings(G, [dataclasses.replace(s, latest=None)])
    assert g == f


def test_cpu_work_of_a_whole_number_of_slices_takes_that_many_frames():
    """With cpu_slice_ms exactly half the CPU work (3.00001 ms), the file takes 2 CPU
    frames, not 3: 2 media + 2 - 1 = 3 frames against a deadline of 2, one frame left for
    the CPU work, so the slice advised is the whole work (3.01 ms), and with it the
    stream meets its deadline.  Written for the survivors
    streaming.x_stream_findings__mutmut_34 (``- _EPS`` made ``+ _EPS``) and _37 (``1e3``
    made ``1001.0``): both count 3 frames for the file, so 2 frames left and 1.51 ms
    advised, with which the stream is still late."""
    cpu_ms = stream_times(stream_graph())[0].load.cpu_s * 1e3
    G = stream_graph(deadline=2, slice_ms=cpu_ms / 2)
    s, = stream_times(G)
    assert (s.media_frames, s.cpu_frames, s.frames) == (2, 2, 3)
    f, = stream_findings(G, [s])
    assert f.suggestions == ("raise cpu_slice_ms to 3.01 (the CPU work is 3.00 ms)",
                             "raise deadline_frames to 3 or start the stream in an earlier "
                             "scene")
    assert stream_times(stream_graph(deadline=2, slice_ms=3.01))[0].ok


def two_streams(deadline, slice_ms):
    """lvl streams nxt (2 media, 4 CPU frames at 1 ms), then alt (64 KiB, 1.60 ms of CPU
    work) at ``slice_ms`` against ``deadline``."""
    def extra(d):
        d["memoryMap"]["regions"].append({"name": "Heap", "start": "0x80200000",
                                          "size": "512KB"})
        d["modules"]["alt"] = est("64KB", "Heap")
        d["scenes"]["nxt"]["modules"] = ["nxt", "alt"]
        d["streams"][0]["deadline_frames"] = 60
        d["streams"].append({"scene": "lvl", "modules": ["alt"], "deadline_frames": deadline,
                             "cpu_slice_ms": slice_ms})
    return stream_graph(extra=extra)


def test_the_cpu_slice_advised_to_a_scenes_second_stream_leaves_room_for_the_first():
    """A scene's streams run one after the other: alt, after nxt's 4 CPU frames, completes
    in 3 media + 11 CPU - 1 = 13 frames against 8.  The frames left for its own CPU work
    are 8 - 3 + 1 - 4 = 2: 0.81 ms a frame, with which it completes in frame 8.  Written
    for the survivor streaming.x_stream_findings__mutmut_40 (the earlier stream's frames
    added instead of taken off: 10 frames, 0.17 ms advised, still late)."""
    G = two_streams(8, 0.25)
    first, second = stream_times(G)
    assert (first.media_frames, first.cpu_frames) == (2, 4)
    assert (second.media_frames, second.cpu_frames, second.frames) == (3, 11, 13)
    f, = stream_findings(G)
    assert f.subject == "streams[1] (alt during lvl)"
    assert f.suggestions[0] == "raise cpu_slice_ms to 0.81 (the CPU work is 1.60 ms)"
    suggested = float(re.match(r"raise cpu_slice_ms to ([0-9.]+) ", f.suggestions[0]).group(1))
    after = stream_times(two_streams(8, suggested))[1]
    assert (after.cpu_frames, after.frames, after.ok) == (6, 8, True)


def crafted(fps, *, cpu_ms, slice_ms, room, access_s=None):
    """far_stream_graph at ``fps`` frames a second, its stream's one file given ``cpu_ms``
    of CPU work (and ``access_s`` of access) and a deadline leaving ``room`` frames for
    that work: exact values no estimate gives, at the boundaries of the advice."""
    G = graph_from_dict({**far_stream_graph().graph["config"].raw, "frame_rate": fps})
    s, = stream_times(G)
    step, = s.load.steps
    step = dataclasses.replace(step, cpu={"init": cpu_ms / 1e3},
                               access_s=step.access_s if access_s is None else access_s)
    load = dataclasses.replace(s.load, steps=(step,))
    media, cpu = file_frames(step.media_s, step.cpu_s, fps, slice_ms)
    t = dataclasses.replace(s, load=load, latest=load, cpu_slice_ms=slice_ms,
                            media_frames=media, cpu_frames=cpu, deadline_frames=media - 1 + room)
    assert not t.ok
    return G, t


def cpu_advice(G, t):
    f, = stream_findings(G, [t])
    return [x for x in f.suggestions if x.startswith("raise cpu_slice_ms")]


def test_no_cpu_slice_of_a_whole_frame_or_more_is_advised():
    """The CPU work over the frames left for it is the slice advised, only when shorter
    than a frame (the configuration refuses a slice of a frame): 19.5 ms over 1 frame at
    50 Hz is advised, 20 ms (a whole frame, exactly) is not, nor 16.67 ms at 60 Hz (a frame
    is 16.667 ms).  Written for the survivors streaming.x_stream_findings__mutmut_55
    (``<`` made ``<=``: the 20 ms advised), _56 (``1000.0 / fps`` made ``1000.0 * fps``)
    and _57 (``1001.0 / fps``: frames of 16.683 ms at 60 Hz): 16.67 ms advised."""
    assert cpu_advice(*crafted(50, cpu_ms=19.5, slice_ms=1, room=1)) == [
        "raise cpu_slice_ms to 19.5 (the CPU work is 19.5 ms)"]
    assert cpu_advice(*crafted(50, cpu_ms=20, slice_ms=1, room=1)) == []
    assert cpu_advice(*crafted(60, cpu_ms=16.67, slice_ms=1, room=1)) == []
    raw = far_stream_graph().graph["config"].raw
    with pytest.raises(ConfigError, match="cpu_slice_ms"):
        graph_from_dict({**raw, "frame_rate": 50,
                         "streams": [{**raw["streams"][0], "cpu_slice_ms": 20}]})


def test_the_cpu_slice_advised_is_the_work_over_the_frames_left_in_milliseconds():
    """10 ms of CPU work with 2 frames left: 5 ms a frame, exactly.  Written for the
    survivor streaming.x_stream_findings__mutmut_54 (``* 1e3`` made ``* 1001.0``: 5.005
    ms, advised as 5.01)."""
    assert cpu_advice(*crafted(60, cpu_ms=10, slice_ms=1, room=2)) == [
        "raise cpu_slice_ms to 5 (the CPU work is 10.0 ms)"]


def test_an_access_of_one_frame_or_more_gets_seek_advice():
    """A late stream is advised where to place its slowest file on disc when its access
    takes a frame or more: exactly one frame (20 ms at 50 Hz) is advised, 19.9 ms is not.
    Written for the survivors streaming.x_stream_findings__mutmut_79 (``>= 1`` made
    ``> 1``) and _80 (``>= 2``)."""
    def seek_advice(access_s):
        G, t = crafted(50, cpu_ms=2, slice_ms=1, room=1, access_s=access_s)
        f, = stream_findings(G, [t])
        return [x for x in f.suggestions if x.startswith("place ")]
    assert seek_advice(0.02) == ["place nxt right after lvlX on disc (read through instead of "
                                 "a 20.0 ms access)"]
    assert seek_advice(0.0199) == []


# --------------------------------------------------------------------------- overwriting

def test_an_unreachable_scene_does_not_stop_the_overwrite_check():
    """The overwrite check skips a scene the game never reaches ("attic", sorted first) and
    goes on to the next: lvl's stream into the half lvl uses is still found.  Written for
    the survivor streaming.x_stream_findings__mutmut_102 (``continue`` made ``break``)."""
    def extra(d):
        d["scenes"]["attic"] = {"modules": []}
        d["start"] = "lvl"
    G = stream_graph(deadline=60, stream_region="LevelA", extra=extra)
    f, = stream_findings(G)
    assert (f.check, f.subject) == ("double-buffer", "streams[0] (nxt during lvl)")


def test_a_stream_evicting_an_earlier_streams_module_suggests_different_regions():
    """Two streams of lvl into LevelB: alt evicts nxt, and the finding says to put them in
    different regions.  Written for the survivors streaming.x_stream_findings__mutmut_167
    (the suggestions None) and _172 (no suggestion)."""
    def extra(d):
        d["modules"]["alt"] = est("8KB", "LevelB")
        d["streams"].append({"scene": "lvl", "modules": ["alt"], "deadline_frames": 60,
                             "cpu_slice_ms": 1})
        d["streams"][0]["deadline_frames"] = 60
    f, = stream_findings(stream_graph(extra=extra))
    assert (f.check, f.subject) == ("overlay", "streams[1] (alt during lvl)")
    assert f.suggestions == ("put alt and nxt in different regions",)


def prefetching(scenes, **extra):
    """lvl, nxt and old in overlay LevelA, far in its other half LevelB, on an N64: with
    ``scenes``, the transition lvl -> nxt, and ``extra`` keys (start, transitions)."""
    return graph_from_dict({
        "target": "n64", "memoryMap": {"regions": [
            {"name": "LevelA", "start": "0x80100000", "size": "512KB", "type": "overlay",
             "pair": "LevelB"},
            {"name": "LevelB", "start": "0x80180000", "size": "512KB", "type": "overlay"}]},
        "modules": {"lvl": est("64KB", "LevelA"), "nxt": est("64KB", "LevelA"),
                    "old": est("64KB", "LevelA"), "far": est("64KB", "LevelB")},
        "scenes": scenes,
        "transitions": [{"from": "lvl", "to": "nxt", "budget_ms": 50}], **extra})


def test_a_scene_the_game_never_reaches_is_not_checked_for_its_prefetch():
    """"lost" would prefetch nxt into LevelA while it uses lvl there, but no transition
    leads to it: no finding (lvl's own prefetch of far, into the other half, is fine).
    Written for the survivor streaming.x_stream_findings__mutmut_181 (``or`` made
    ``and``: an unreachable scene with a prefetch checked)."""
    G = prefetching({"lvl": {"modules": ["lvl"], "prefetch": ["far"]},
                     "nxt": {"modules": ["nxt"]},
                     "lost": {"modules": ["lvl"], "prefetch": ["nxt"]}}, start="lvl")
    assert stream_findings(G) == []
    reached = prefetching({"lvl": {"modules": ["lvl"], "prefetch": ["nxt"]},
                           "nxt": {"modules": ["nxt"]}})
    assert [f.subject for f in stream_findings(reached)] == ["scene lvl prefetch"]


def test_a_scene_without_a_prefetch_does_not_stop_the_prefetch_check():
    """"intro" (sorted first) prefetches nothing; lvl, after it, prefetches nxt into the
    half it uses: found.  Written for the survivor streaming.x_stream_findings__mutmut_184
    (``continue`` made ``break``)."""
    G = prefetching({"intro": {"modules": []}, "lvl": {"modules": ["lvl"], "prefetch": ["nxt"]},
                     "nxt": {"modules": ["nxt"]}},
                    start="intro",
                    transitions=[{"from": "intro", "to": "lvl", "budget_ms": 50},
                                 {"from": "lvl", "to": "nxt", "budget_ms": 50}])
    f, = stream_findings(G)
    assert (f.check, f.subject) == ("double-buffer", "scene lvl prefetch")
    assert f.message.startswith("may load nxt into region LevelA while scene lvl uses lvl")


def test_only_the_modules_a_scene_prefetches_are_checked():
    """lvl prefetches far into LevelB, the half it does not use: no finding, though old,
    which lvl does not prefetch, shares LevelA with lvl.  Written for the survivor
    streaming.x_stream_findings__mutmut_189 (``prefetch & overlay_bits`` made ``prefetch |
    overlay_bits``: every overlay module lvl does not use checked, old reported)."""
    G = prefetching({"lvl": {"modules": ["lvl"], "prefetch": ["far"]},
                     "nxt": {"modules": ["nxt"]}, "old": {"modules": ["old"]}},
                    start="lvl",
                    transitions=[{"from": "lvl", "to": "nxt", "budget_ms": 50},
                                 {"from": "nxt", "to": "old", "budget_ms": 50}])
    assert stream_findings(G) == []
