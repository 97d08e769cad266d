"""Media timing models: how long a console's drive or cartridge bus takes to deliver a module.

One model per medium (and per emulator whose timing we follow), used by the
load-budget analyzer (:mod:`analysis`) and by the emulated runtime, which
reports measured values to cross-check them.  Real drives are not fully
documented (psx-spx: PS1 seek timings are still unknown), so for the PS1 there
are two emulator models and a *worst of* model, the default for budgets.

Units and conventions
---------------------
* Every method ending in ``_s`` returns **seconds** (``float``).
* Disc positions are **LBAs**: logical sector numbers, 0 = first sector after
  the 2 s pregap (MSF 00:02:00).  ``from_lba`` is the sector the head would
  read next (the end of the previous read); ``to_lba`` the first sector wanted.
  ``None`` means *unknown*: the model then charges its worst seek.
* A model's ``sector_size`` is the data bytes per sector (2048 for Mode 2
  Form 1 / Mode 1 data); cartridges use their transfer granularity (N64: a
  512-byte PI page; GBA: a 32-bit word) and never seek.
* Timing of one read of ``nbytes`` at ``to_lba``::

      access_s = command_s + seek_s(from, to) + first_sector_s   (0 if the drive
                                                                  reads on, see below)
      load_s   = access_s + transfer_s(nbytes)

  "First sector of a read arrives after seek time + one sector time", then the
  remaining data streams at the medium's rate (media-timing.md, "Layout lower
  bounds": ack + seek + one sector time + sectors/rate).  When the drive is
  still reading (:attr:`HeadState.READING`) and the wanted data directly
  follows the head, the loader keeps reading: no command, no seek, no extra
  sector (a *load bundle*, seed §5.1).
* Jitter is included at its upper bound, so every model is deterministic and
  an upper bound of the emulator it follows.

Models (``available_models()``)
-------------------------------
``ps1-duckstation-1x`` / ``-2x``
    DuckStation ``src/core/cdrom.cpp`` ``CDROM::GetTicksForSeek``: forward
    within one track reads through, one track back waits for the sector,
    short seeks 50/100 ms, sled seeks 0.05 + 0.34 ln Δ/ln 324000 + 0.51 Δ/324000 s;
    ack 25,000 cycles (``GetAckDelayForCommand``); spin-up 1 s.
``ps1-mednafen-1x`` / ``-2x``
    Mednafen ``src/psx/cdc.cpp`` ``PS_CDC::CalcSeekTime``: max(Δ/324000 s,
    20,000 cycles) + 300 ms if Δ ≥ 2250, else + 1,237,952 cycles (×2 at 1x)
    when resuming from pause, else + 4 sector times for 3 ≤ Δ < 12; jitter up
    to 25,000 cycles; + 1 s if the motor is off.
``ps1-worst-1x`` / ``-2x``
    The worst of the two above for every term (:func:`worst_of`); the default
    for ``psx`` budgets (2x: games read data at double speed).
``segacd-gpgx``
    Genesis Plus GX ``core/cd_hw/cdd.c``: latency in 1/75 s ticks
    ``(2 + 10·L) + Δ·120·L/270000`` with ``L = 1``; 75 sectors/s.
``3do-spec``
    3DO licensee drive figures (3DO dev docs, "CD-ROM Basics"): 2x, 300 KB/s,
    every seek ≥ 100 ms, 500 ms at 1/3 stroke, 800 ms full stroke
    (interpolated linearly between those points).
``n64-pi``
    N64 cartridge PI DMA (dgb-n64 ``timing_pi_access``): RCP cycles =
    pages·(LAT+1+14+5) + (len/2)·(PWD+1+RLS+1) at 62.5 MHz with the retail
    header timings LAT 0x40, PWD 0x12, RLS 3, 512-byte pages (≈5.36 MB/s).
``gba-rom-4-2`` / ``gba-rom-3-1``
    GBA cartridge ROM → IWRAM by 32-bit DMA at 16.78 MHz with WAITCNT
    first/sequential wait states 4/2 (power-on) or 3/1 (GBATEK): 7 or 5
    cycles per word (≈9.6 / 13.4 MB/s) plus DMA start-up.

References
----------
.. [1] psx-spx, "CDROM Drive" and docs/cdromformat.md (sector formats, 75/150
   sectors/s, command timings).  https://psx-spx.consoledev.net/
.. [2] DuckStation, src/core/cdrom.cpp (GetTicksForSeek, GetSectorsPerTrack,
   GetAckDelayForCommand, GetTicksForSpinUp).
.. [3] Mednafen, src/psx/cdc.cpp (PS_CDC::CalcSeekTime).
.. [4] Genesis Plus GX, core/cd_hw/cdd.c (seek latency).
.. [5] 3DO Company, 3DO developer documentation, "CD-ROM Basics".
.. [6] dgb-n64, timing_pi_access; N64 ROM header word 0 (0x80371240).
.. [7] GBATEK, "GBA System Control" (WAITCNT) and "GBA DMA Transfers".

See also ``docs/budget.md`` and ``/work/shared/reference/media-timing.md``.
"""

from __future__ import annotations

import enum
import functools
import math
from typing import Iterable

from ..errors import ConfigError

__all__ = [
    "HeadState", "MediaModel", "DiscModel", "CartridgeModel",
    "DuckStationCD", "MednafenCD", "GenesisPlusGXCD", "ThreeDOSpecCD", "N64PIDMA",
    "GBACartridge", "WorstOf", "worst_of", "register_model", "get_model",
    "available_models", "models_for", "default_model_for",
    "PS1_CLOCK_HZ", "CD_SECTOR_DATA", "CD_CAPACITY_SECTORS", "FRAMES_PER_MINUTE",
]

#: PS1 master clock, 33.8688 MHz (psx-spx); DuckStation/Mednafen count CD timings in it.
PS1_CLOCK_HZ = 33_868_800
#: Data bytes of a Mode 2 Form 1 (and Mode 1) sector (psx-spx docs/cdromformat.md).
CD_SECTOR_DATA = 2048
#: Sectors per minute of CD at 1x (75 sectors/s).
FRAMES_PER_MINUTE = 75 * 60
#: Sectors on a 74-minute disc (~333,000; media-timing.md "disc capacity").
CD_CAPACITY_SECTORS = 74 * FRAMES_PER_MINUTE
#: Both PS1 emulators normalise seek distances to a 72-minute disc.
_PS1_SEEK_SPAN = 72 * FRAMES_PER_MINUTE      # 324,000 sectors


class HeadState(str, enum.Enum):
    """What the drive is doing when a read is requested.

    ``READING``
        Motor on and reading (the previous read of the same load just ended);
        a read of the sectors right after the head continues without a seek.
    ``PAUSED``
        Motor on, drive paused (``CdlPause``) after an earlier load: the usual
        state between loads.
    ``STOPPED``
        Motor off (``CdlStop``): the drive spins up first (1 s on the PS1).
    """

    READING = "reading"
    PAUSED = "paused"
    STOPPED = "stopped"


def _state(head_state) -> HeadState:
    if head_state.__class__ is HeadState:      # the hot path: the layout search's millions of calls
        return head_state
    try:
        return HeadState(head_state)
    except ValueError:
        raise ConfigError(f"head state '{head_state}': expected one of "
                          f"{', '.join(s.value for s in HeadState)}") from None


class MediaModel:
    """Timing of one medium.  Subclasses set the attributes and implement :meth:`seek_s`.

    Attributes
    ----------
    name : str
        Registry name (``ps1-worst-2x``).
    title : str
        One line for reports.
    kind : {"disc", "cartridge"}
    sector_size : int
        Data bytes per sector (discs) or per transfer unit (cartridges).
    sectors_per_s : float
        Sustained rate in sectors per second.
    capacity : int
        Number of addressable sectors (full stroke of the head).
    command_s : float
        Time from issuing a read command to its acknowledge.
    first_sector_s : float
        Extra time before the first sector of a read is delivered (after the seek).
    targets : tuple of str
        Profile names (``psx``) this model describes.
    sources : tuple of str
        Where every constant comes from.
    """

    #: entries :meth:`access_memo` holds before it starts again (tens of MB)
    MEMO_LIMIT = 1 << 18

    def access_memo(self) -> dict:
        """The access times computed with this model, for every caller to share.

        ``(from_lba, to_lba, state)`` -> :meth:`access_s`, and ``(None, to_lba, state,
        span)`` -> :func:`gamevm_build.analysis._index.span_access` over ``span``.  The
        layout's evaluations, its report and the budget analyzer's cross-check ask for
        the same positions of one disc; sharing the answers saves the model's arithmetic
        (millions of calls on a large project).  Emptied when past :attr:`MEMO_LIMIT`
        at the time a caller asks for it.
        """
        memo = self.__dict__.setdefault("_access_memo", {})
        if len(memo) > self.MEMO_LIMIT:
            memo.clear()
        return memo

    name: str = ""
    title: str = ""
    kind: str = "disc"
    sector_size: int = CD_SECTOR_DATA
    sectors_per_s: float = 75.0
    capacity: int = CD_CAPACITY_SECTORS
    command_s: float = 0.0
    first_sector_s: float = 0.0
    targets: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    # -- rates -------------------------------------------------------------------
    @property
    def sector_s(self) -> float:
        """Seconds per sector at the sustained rate."""
        return 1.0 / self.sectors_per_s

    @property
    def bytes_per_s(self) -> float:
        """Sustained data rate in bytes per second."""
        return self.sectors_per_s * self.sector_size

    def sectors_for(self, nbytes: int) -> int:
        """Sectors (or transfer units) that hold ``nbytes``."""
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        return -(-nbytes // self.sector_size)

    def read_s(self, sectors: int) -> float:
        """Time to read ``sectors`` consecutive sectors once the first is under the head."""
        if sectors < 0:
            raise ValueError("sectors must be >= 0")
        return sectors * self.sector_s

    def transfer_s(self, nbytes: int) -> float:
        """Time to deliver ``nbytes`` from a positioned head (whole sectors on discs)."""
        return self.read_s(self.sectors_for(nbytes))

    # -- positioning -------------------------------------------------------------
    def seek_s(self, from_lba: int | None, to_lba: int | None, *,
               head_state: HeadState | str = HeadState.PAUSED) -> float:
        """Seek time from ``from_lba`` (next sector under the head) to ``to_lba``.

        ``None`` for either position means unknown: the worst seek is returned.
        """
        raise NotImplementedError

    def max_seek_s(self, *, head_state: HeadState | str = HeadState.PAUSED) -> float:
        """The worst seek between any two positions in ``head_state``."""
        return _max_seek(self, _state(head_state))

    def continues(self, from_lba: int | None, to_lba: int | None, *,
                  head_state: HeadState | str = HeadState.PAUSED) -> bool:
        """True when a read at ``to_lba`` just continues the current one (no command, no seek)."""
        return (_state(head_state) is HeadState.READING and from_lba is not None
                and from_lba == to_lba)

    def access_s(self, from_lba: int | None, to_lba: int | None, *,
                 head_state: HeadState | str = HeadState.PAUSED) -> float:
        """Command + seek + first-sector latency of a read at ``to_lba`` (0 when it continues)."""
        if self.continues(from_lba, to_lba, head_state=head_state):
            return 0.0
        return self.command_s + self.seek_s(from_lba, to_lba, head_state=head_state) \
            + self.first_sector_s

    def worst_access_s(self, from_lo: int, from_hi: int, to_lba: int, *,
                       head_state: HeadState | str = HeadState.PAUSED,
                       seek: bool = False) -> float:
        """The largest :meth:`access_s` (``seek``: :meth:`seek_s`) to ``to_lba`` from any
        head position in ``[from_lo, from_hi]`` (the analyzer's span probes)."""
        state = _state(head_state)
        fn = self.seek_s if seek else self.access_s
        return max(fn(h, to_lba, head_state=state) for h in range(from_lo, from_hi + 1))

    def load_s(self, from_lba: int | None, to_lba: int | None, nbytes: int, *,
               head_state: HeadState | str = HeadState.PAUSED) -> float:
        """Whole time of one read of ``nbytes`` at ``to_lba``: :meth:`access_s` + :meth:`transfer_s`."""
        return self.access_s(from_lba, to_lba, head_state=head_state) + self.transfer_s(nbytes)

    def describe(self) -> dict:
        """Model facts for reports (JSON-able)."""
        return {"name": self.name, "title": self.title, "kind": self.kind,
                "sector_size": self.sector_size, "sectors_per_s": self.sectors_per_s,
                "bytes_per_s": round(self.bytes_per_s),
                "command_ms": round(self.command_s * 1e3, 4),
                "first_sector_ms": round(self.first_sector_s * 1e3, 4),
                "max_seek_ms": round(self.max_seek_s() * 1e3, 3),
                "sources": list(self.sources)}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


#: Distances at which the PS1/Sega CD/3DO formulas change branch; probing them plus
#: both ends of the disc finds each model's worst seek.
_PROBE_DELTAS = (0, 1, 2, 3, 8, 11, 12, 22, 23, 60, 329, 330, 2249, 2250, 7199, 7200)


@functools.lru_cache(maxsize=None)
def _max_seek(model: MediaModel, state: HeadState) -> float:
    if model.kind == "cartridge":
        return 0.0
    last = model.capacity - 1
    worst = max(model.seek_s(0, last, head_state=state), model.seek_s(last, 0, head_state=state))
    for base in (0, last // 2, last):
        for d in _PROBE_DELTAS:
            for a, b in ((base, base + d), (base, base - d)):
                if 0 <= b <= last:
                    worst = max(worst, model.seek_s(a, b, head_state=state))
    return worst


class DiscModel(MediaModel):
    """A CD drive: constant linear velocity, one data rate everywhere on the disc."""

    kind = "disc"

    def __init__(self, *, speed: int = 1):
        if speed not in (1, 2):
            raise ValueError("speed must be 1 or 2")
        self.speed = speed
        self.sectors_per_s = 75.0 * speed
        self.first_sector_s = 1.0 / self.sectors_per_s

    def seek_s(self, from_lba, to_lba, *, head_state=HeadState.PAUSED):
        state = _state(head_state)
        if from_lba is None or to_lba is None:
            return self.max_seek_s(head_state=state)
        return self._seek(int(from_lba), int(to_lba), state)

    def _seek(self, from_lba: int, to_lba: int, state: HeadState) -> float:
        raise NotImplementedError

    def access_s(self, from_lba, to_lba, *, head_state=HeadState.PAUSED):
        # MediaModel.access_s in one call: the layout search and the analyzer's span
        # probes call it millions of times (same result, no re-validation per step)
        state = _state(head_state)
        if from_lba is None or to_lba is None:
            return self.command_s + _max_seek(self, state) + self.first_sector_s
        if state is HeadState.READING and from_lba == to_lba:
            return 0.0
        return self.command_s + self._seek(int(from_lba), int(to_lba), state) \
            + self.first_sector_s


# --------------------------------------------------------------------------- PS1

#: DuckStation's track table: (last minute, sectors per track) up to minute 74, then 22
_PS1_TRACK_TABLE = ((0, 8), (4, 9), (7, 10), (11, 11), (16, 12), (23, 13), (27, 14),
                    (32, 15), (39, 16), (44, 17), (52, 18), (60, 19), (67, 20), (74, 21))
#: the same by minute: the seek is on the layout search's hot path
_PS1_SPT_BY_MINUTE = tuple(next((spt for last, spt in _PS1_TRACK_TABLE if mm <= last), 22)
                           for mm in range(76))

class DuckStationCD(DiscModel):
    """PS1 CD-ROM as DuckStation times it (``src/core/cdrom.cpp``, ``GetTicksForSeek``).

    * ack: 25,000 cycles with a disc in the drive (``GetAckDelayForCommand``) = 0.738 ms;
    * motor off: + 1 s spin-up (``GetTicksForSpinUp``) and the seek starts at LBA 0;
    * target ahead within one track (``GetSectorsPerTrack``: 8..22 sectors, by
      disc minute): max(Δ, 2) sector times (reads up to it);
    * target at most one track behind: the sectors from one track back to it;
    * Δ < 7200: 50 ms, or 100 ms beyond the switch point 330 − 63.1333·ln(minute);
    * otherwise sled: 0.05 + 0.85·0.4·ln Δ/ln 324000 + 0.85·0.6·Δ/324000 s;
    * plus up to 1 ms jitter (media-timing.md), taken at its bound.

    Examples
    --------
    >>> m = DuckStationCD(speed=2)
    >>> round(m.seek_s(1000, 1005) * 1e3, 3)        # 5 sectors ahead: reads through (+1 ms jitter)
    34.333
    >>> round(m.seek_s(1000, 1100) * 1e3, 3)        # short seek
    51.0
    >>> round(m.seek_s(0, 7200) * 1e3, 1)           # sled
    300.3
    """

    ACK_CYCLES = 25_000
    SPIN_UP_S = 1.0
    JITTER_S = 0.001
    SHORT_SEEK_S, MEDIUM_SEEK_S = 0.05, 0.1
    SLED_LIMIT = 7200
    SLED_FIXED_S, SLED_VARIABLE_S, LOG_WEIGHT = 0.05, 0.85, 0.4

    def __init__(self, *, speed: int = 2):
        super().__init__(speed=speed)
        self.name = f"ps1-duckstation-{speed}x"
        self.title = f"PS1 CD-ROM {speed}x, DuckStation seek model"
        self.command_s = self.ACK_CYCLES / PS1_CLOCK_HZ
        self.targets = ("psx",)
        self.sources = ("DuckStation src/core/cdrom.cpp GetTicksForSeek, GetSectorsPerTrack, "
                        "GetAckDelayForCommand, GetTicksForSpinUp",
                        "psx-spx docs/cdromformat.md: 2048-byte Mode 2 Form 1 sectors, "
                        f"{75 * speed} sectors/s")

    @staticmethod
    def sectors_per_track(lba: int) -> int:
        """Sectors per track at ``lba``: 8 at minute 0 growing to 22 (DuckStation's table)."""
        mm = max(lba, 0) // FRAMES_PER_MINUTE
        return _PS1_SPT_BY_MINUTE[mm] if mm < len(_PS1_SPT_BY_MINUTE) else 22

    def _seek(self, from_lba, to_lba, state):
        ticks_s = 0.0
        current = from_lba
        if state is HeadState.STOPPED:
            ticks_s += self.SPIN_UP_S
            current = 0
        delta = abs(to_lba - current)
        spt = self.sectors_per_track(current)
        tjump = current - spt if current >= spt else 0
        if current < to_lba and delta <= spt:
            t = max(delta, 2) * self.sector_s
        elif current >= to_lba and tjump <= to_lba:
            t = max(to_lba - tjump, 1) * self.sector_s
        elif delta < self.SLED_LIMIT:
            minute = min(max(current / FRAMES_PER_MINUTE, 1.0), 72.0)
            switch_point = int(330.0 - 63.1333 * math.log(minute))
            t = self.SHORT_SEEK_S if delta < switch_point else self.MEDIUM_SEEK_S
        else:
            t = (self.SLED_FIXED_S
                 + self.SLED_VARIABLE_S * self.LOG_WEIGHT * math.log(delta)
                 / math.log(_PS1_SEEK_SPAN)
                 + self.SLED_VARIABLE_S * (1 - self.LOG_WEIGHT) * delta / _PS1_SEEK_SPAN)
        return ticks_s + t + self.JITTER_S


class MednafenCD(DiscModel):
    """PS1 CD-ROM as Mednafen times it (``src/psx/cdc.cpp``, ``PS_CDC::CalcSeekTime``).

    * max(Δ·33868800/324000, 20,000) cycles (full stroke ≈ 1.03 s, floor 0.59 ms);
    * + 300 ms when Δ ≥ 2250; else + 1,237,952 cycles (36.6 ms; ×2 at 1x) when
      resuming from pause; else + 4 sector times when 3 ≤ Δ < 12;
    * + up to 25,000 cycles jitter (``PSX_GetRandU32(0, 25000)``), at its bound;
    * motor off: + 1 s (33,868,800 cycles) and the seek starts at LBA 0;
    * ack as DuckStation (25,000 cycles; psx-spx ≈ 0.74 ms).

    Examples
    --------
    >>> m = MednafenCD(speed=2)
    >>> round(m.seek_s(1000, 1100, head_state="reading") * 1e3, 3)   # floor + jitter
    1.329
    >>> round(m.seek_s(1000, 1100) * 1e3, 3)                         # resuming from pause
    37.88
    """

    ACK_CYCLES = 25_000
    MIN_CYCLES = 20_000
    JITTER_CYCLES = 25_000
    FAR_DELTA, FAR_S = 2250, 0.300
    PAUSE_CYCLES = 1_237_952
    SPIN_UP_CYCLES = PS1_CLOCK_HZ

    def __init__(self, *, speed: int = 2):
        super().__init__(speed=speed)
        self.name = f"ps1-mednafen-{speed}x"
        self.title = f"PS1 CD-ROM {speed}x, Mednafen seek model"
        self.command_s = self.ACK_CYCLES / PS1_CLOCK_HZ
        self.targets = ("psx",)
        self.sources = ("Mednafen src/psx/cdc.cpp PS_CDC::CalcSeekTime",
                        "psx-spx: command acknowledge ~0.74 ms; "
                        f"{75 * speed} sectors/s of 2048 bytes")

    def _seek(self, from_lba, to_lba, state):
        cycles = 0
        initial = from_lba
        if state is HeadState.STOPPED:
            initial = 0
            cycles += self.SPIN_UP_CYCLES
        delta = abs(initial - to_lba)
        cycles += max(delta * PS1_CLOCK_HZ // _PS1_SEEK_SPAN, self.MIN_CYCLES)
        if delta >= self.FAR_DELTA:
            cycles += PS1_CLOCK_HZ * 300 // 1000
        elif state is HeadState.PAUSED:
            cycles += self.PAUSE_CYCLES * (1 if self.speed == 2 else 2)
        elif 3 <= delta < 12:
            cycles += 4 * (PS1_CLOCK_HZ // (75 * self.speed))
        cycles += self.JITTER_CYCLES
        return cycles / PS1_CLOCK_HZ


# --------------------------------------------------------------------------- other discs

class GenesisPlusGXCD(DiscModel):
    """Sega CD (Mega-CD) drive as Genesis Plus GX times it (``core/cd_hw/cdd.c``).

    Seek latency in 1/75 s ticks: ``(2 + 10·L) + Δ·120·L/270000`` with ``L = 1``
    (its "accurate" setting): 160 ms base, 1.76 s at 270,000 sectors; 1x, 75 sectors/s of
    2048 bytes (Mode 1, ≈150 KB/s).  GPGX's own comment calls it a rough
    approximation.  GPGX models no command latency and no spin-up, so neither
    does this model.

    Examples
    --------
    >>> m = GenesisPlusGXCD()
    >>> round(m.seek_s(0, 0) * 1e3, 1), round(m.seek_s(0, 270000) * 1e3, 1)
    (160.0, 1760.0)
    """

    LATENCY = 1

    def __init__(self):
        super().__init__(speed=1)
        self.name = "segacd-gpgx"
        self.title = "Sega CD 1x, Genesis Plus GX seek latency"
        self.targets = ("segacd",)
        self.sources = ("Genesis Plus GX core/cd_hw/cdd.c: latency (2 + 10*L) + "
                        "|dLBA|*120*L/270000 ticks of 1/75 s, L = 1",)

    def _seek(self, from_lba, to_lba, state):
        ticks = (2 + 10 * self.LATENCY) + abs(to_lba - from_lba) * 120 * self.LATENCY // 270000
        return ticks / 75.0


class ThreeDOSpecCD(DiscModel):
    """3DO CD-ROM drive from the licensee specification (3DO dev docs, "CD-ROM Basics").

    2x, 300 KB/s (150 sectors/s of 2048 bytes).  Every seek costs at least
    100 ms, the average access (1/3 stroke) is 500 ms and a full stroke 800 ms;
    between those figures the time is interpolated linearly in the distance.

    Examples
    --------
    >>> m = ThreeDOSpecCD()
    >>> [round(m.seek_s(0, d) * 1e3) for d in (1, m.capacity // 3, m.capacity - 1)]
    [100, 500, 800]
    """

    MIN_S, THIRD_S, FULL_S = 0.100, 0.500, 0.800

    def __init__(self):
        super().__init__(speed=2)
        self.name = "3do-spec"
        self.title = "3DO CD-ROM 2x, licensee drive spec (100/500/800 ms)"
        self.targets = ("3do",)
        self.sources = ("3DO dev docs, CD-ROM Basics: 300 KB/s, 32 KB buffer, seek >= 100 ms, "
                        "500 ms average (1/3 stroke), 800 ms full stroke",)

    def _seek(self, from_lba, to_lba, state):
        delta = abs(to_lba - from_lba)
        third = (self.capacity - 1) / 3
        if delta <= third:
            return self.MIN_S + (self.THIRD_S - self.MIN_S) * delta / third
        return self.THIRD_S + (self.FULL_S - self.THIRD_S) * (delta - third) / (2 * third)


# --------------------------------------------------------------------------- cartridges

class CartridgeModel(MediaModel):
    """A cartridge bus: no seek, time depends only on the bytes moved."""

    kind = "cartridge"
    capacity = 1 << 32

    def seek_s(self, from_lba, to_lba, *, head_state=HeadState.PAUSED):
        _state(head_state)
        return 0.0

    def continues(self, from_lba, to_lba, *, head_state=HeadState.PAUSED):
        return False

    def transfer_s(self, nbytes: int) -> float:  # pragma: no cover - subclasses
        raise NotImplementedError

    def read_s(self, sectors: int) -> float:
        return self.transfer_s(sectors * self.sector_size)


class N64PIDMA(CartridgeModel):
    """N64 cartridge ROM → RDRAM by PI DMA (dgb-n64 ``timing_pi_access``).

    RCP cycles = pages·(LAT+1+14+5) + (len/2)·(PWD+1+RLS+1) at 62.5 MHz, with
    the domain-1 timings of the retail ROM header (word 0 ``0x80371240``):
    LAT 0x40, PWD 0x12, PGS 7 (512-byte pages), RLS 3.  That is 84 cycles of
    latency per page (the per-transfer latency: 1.34 µs) and 23 cycles per
    16-bit word: ≈5.36 MB/s, ≈12.2 ms per 64 KiB (N64 SDK docs: ~5 MB/s).

    Examples
    --------
    >>> m = N64PIDMA()
    >>> round(m.transfer_s(64 * 1024) * 1e3, 2)
    12.23
    >>> round(m.bytes_per_s / 1e6, 2)
    5.36
    """

    RCP_HZ = 62_500_000

    def __init__(self, *, lat: int = 0x40, pwd: int = 0x12, pgs: int = 7, rls: int = 3,
                 name: str = "n64-pi"):
        self.lat, self.pwd, self.pgs, self.rls = lat, pwd, pgs, rls
        self.sector_size = 1 << (pgs + 2)
        self.name = name
        self.title = (f"N64 cartridge PI DMA (LAT 0x{lat:02x} PWD 0x{pwd:02x} "
                      f"RLS {rls}, {self.sector_size}-byte pages)")
        self.first_sector_s = (lat + 1 + 14 + 5) / self.RCP_HZ
        self.sectors_per_s = self.RCP_HZ / self._page_cycles(self.sector_size)
        self.targets = ("n64",)
        self.sources = ("dgb-n64 timing_pi_access: pages*(LAT+1+14+5) + (len/2)*(PWD+1+RLS+1) "
                        "RCP cycles at 62.5 MHz",
                        "retail ROM header timings 0x80371240: LAT 0x40, PWD 0x12, PGS 7, RLS 3")

    def _page_cycles(self, nbytes: int) -> int:
        pages = -(-nbytes // self.sector_size)
        return pages * (self.lat + 1 + 14 + 5) + -(-nbytes // 2) * (self.pwd + 1 + self.rls + 1)

    def access_s(self, from_lba, to_lba, *, head_state=HeadState.PAUSED):
        # the per-page latency (first_sector_s for the first page) is part of transfer_s
        _state(head_state)
        return self.command_s

    def transfer_s(self, nbytes: int) -> float:
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        return self._page_cycles(nbytes) / self.RCP_HZ if nbytes else 0.0


class GBACartridge(CartridgeModel):
    """GBA cartridge ROM → IWRAM by 32-bit DMA (GBATEK: WAITCNT, DMA transfers).

    16.78 MHz (2^24 Hz) CPU, 16-bit ROM bus: a 32-bit word is two sequential
    halfword reads of (1 + S) cycles plus one IWRAM write cycle; the first read
    is non-sequential (N instead of S) and DMA start-up costs 2 cycles.  With
    WAITCNT 4/2 (power-on) a word takes 7 cycles (≈9.6 MB/s), with 3/1 5 cycles
    (≈13.4 MB/s).

    Examples
    --------
    >>> round(GBACartridge(4, 2).bytes_per_s / 1e6, 1), round(GBACartridge(3, 1).bytes_per_s / 1e6, 1)
    (9.6, 13.4)
    """

    CPU_HZ = 1 << 24

    def __init__(self, first: int = 4, sequential: int = 2):
        self.first, self.sequential = first, sequential
        self.sector_size = 4
        self.word_cycles = 2 * (1 + sequential) + 1
        self.sectors_per_s = self.CPU_HZ / self.word_cycles
        self.name = f"gba-rom-{first}-{sequential}"
        self.title = f"GBA cartridge ROM, DMA to IWRAM, WAITCNT {first}/{sequential}"
        self.first_sector_s = (2 + first - sequential) / self.CPU_HZ
        self.targets = ("gba",)
        self.sources = ("GBATEK GBA System Control (WAITCNT first/sequential wait states) "
                        "and GBA DMA Transfers (2 start-up cycles)",)

    def access_s(self, from_lba, to_lba, *, head_state=HeadState.PAUSED):
        _state(head_state)
        return self.command_s + self.first_sector_s

    def transfer_s(self, nbytes: int) -> float:
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        return -(-nbytes // 4) * self.word_cycles / self.CPU_HZ


# --------------------------------------------------------------------------- worst of

class WorstOf(MediaModel):
    """Every term is the maximum of the component models' terms.

    Use it when real timings are not known: the budget then holds under each
    model.  Components must share the sector size.

    Examples
    --------
    >>> w = worst_of(DuckStationCD(speed=2), MednafenCD(speed=2), name="ps1-worst-2x")
    >>> round(w.seek_s(1000, 1100) * 1e3, 3)     # DuckStation's 50 ms short seek wins
    51.0
    >>> round(w.seek_s(1000, 1100, head_state="reading") * 1e3, 3)
    51.0
    """

    def __init__(self, models: Iterable[MediaModel], *, name: str | None = None,
                 title: str | None = None):
        self.models = tuple(models)
        if not self.models:
            raise ValueError("worst_of needs at least one model")
        sizes = {m.sector_size for m in self.models}
        kinds = {m.kind for m in self.models}
        if len(sizes) != 1 or len(kinds) != 1:
            raise ValueError("worst_of: models must share the sector size and kind")
        self.kind = kinds.pop()
        self.sector_size = sizes.pop()
        self.sectors_per_s = min(m.sectors_per_s for m in self.models)
        self.capacity = min(m.capacity for m in self.models)
        self.command_s = max(m.command_s for m in self.models)
        self.first_sector_s = max(m.first_sector_s for m in self.models)
        self.name = name or "worst(" + ",".join(m.name for m in self.models) + ")"
        self.title = title or "worst of " + ", ".join(m.title for m in self.models)
        self.targets = tuple(sorted(set.intersection(*(set(m.targets) for m in self.models))))
        self.sources = tuple(s for m in self.models for s in m.sources)
        # drives: each one's fixed access terms and its seek, read once (the hot path)
        self._drives = [(m.command_s + m.first_sector_s, m._seek) for m in self.models] \
            if all(isinstance(m, DiscModel) for m in self.models) else None

    def seek_s(self, from_lba, to_lba, *, head_state=HeadState.PAUSED):
        return max(m.seek_s(from_lba, to_lba, head_state=head_state) for m in self.models)

    def continues(self, from_lba, to_lba, *, head_state=HeadState.PAUSED):
        return all(m.continues(from_lba, to_lba, head_state=head_state) for m in self.models)

    def worst_access_s(self, from_lo, from_hi, to_lba, *, head_state=HeadState.PAUSED,
                       seek=False):
        if self._drives is None:
            return super().worst_access_s(from_lo, from_hi, to_lba, head_state=head_state,
                                          seek=seek)
        # the drives' seeks inlined (tens of thousands of windows of 49 heads on a large
        # layout); a head already at the target while reading continues (access 0)
        state = _state(head_state)
        t = int(to_lba)
        best = 0.0
        for fixed, seek_fn in self._drives:
            extra = 0.0 if seek else fixed
            for h in range(from_lo, from_hi + 1):
                if not seek and state is HeadState.READING and h == t:
                    continue
                v = extra + seek_fn(h, t, state)
                if v > best:
                    best = v
        return best

    def access_s(self, from_lba, to_lba, *, head_state=HeadState.PAUSED):
        state = _state(head_state)
        if self._drives is not None and from_lba is not None and to_lba is not None:
            # DiscModel.access_s of each drive, inlined
            if state is HeadState.READING and from_lba == to_lba:
                return 0.0
            f, t = int(from_lba), int(to_lba)
            return max([fixed + seek(f, t, state) for fixed, seek in self._drives])
        if self.continues(from_lba, to_lba, head_state=state):
            return 0.0
        return max([m.access_s(from_lba, to_lba, head_state=state) for m in self.models])

    def read_s(self, sectors):
        return max(m.read_s(sectors) for m in self.models)

    def transfer_s(self, nbytes):
        return max(m.transfer_s(nbytes) for m in self.models)


def worst_of(*models: MediaModel, name: str | None = None, title: str | None = None) -> WorstOf:
    """A :class:`WorstOf` model over ``models``."""
    return WorstOf(models, name=name, title=title)


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, MediaModel] = {}
#: Default model per target profile name (budgets use it when the config names none).
_DEFAULTS = {"psx": "ps1-worst-2x", "n64": "n64-pi", "segacd": "segacd-gpgx",
             "3do": "3do-spec", "gba": "gba-rom-4-2"}


def register_model(model: MediaModel) -> MediaModel:
    """Add ``model`` to the registry under ``model.name`` (replacing one of that name)."""
    _REGISTRY[model.name] = model
    return model


for _speed in (1, 2):
    _d = register_model(DuckStationCD(speed=_speed))
    _m = register_model(MednafenCD(speed=_speed))
    register_model(worst_of(_d, _m, name=f"ps1-worst-{_speed}x",
                            title=f"PS1 CD-ROM {_speed}x, worst of DuckStation and Mednafen"))
register_model(GenesisPlusGXCD())
register_model(ThreeDOSpecCD())
register_model(N64PIDMA())
register_model(GBACartridge(4, 2))
register_model(GBACartridge(3, 1))
del _speed, _d, _m


def available_models() -> list[str]:
    """Names of the registered models, sorted.

    Examples
    --------
    >>> [n for n in available_models() if n.startswith("ps1-") and n.endswith("2x")]
    ['ps1-duckstation-2x', 'ps1-mednafen-2x', 'ps1-worst-2x']
    """
    return sorted(_REGISTRY)


def get_model(name: str) -> MediaModel:
    """The registered model called ``name``.

    Raises
    ------
    ConfigError
        No model of that name; the message lists the known ones.
    """
    if isinstance(name, MediaModel):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown media model '{name}': choose one of "
                          f"{', '.join(available_models())}") from None


def _target_name(profile) -> str:
    return profile if isinstance(profile, str) else profile.name


def models_for(profile) -> list[MediaModel]:
    """Models describing the medium of ``profile`` (a Profile or a target name), by name.

    Examples
    --------
    >>> [m.name for m in models_for("n64")]
    ['n64-pi']
    """
    target = _target_name(profile)
    return [_REGISTRY[n] for n in available_models() if target in _REGISTRY[n].targets]


def default_model_for(profile) -> MediaModel:
    """The model budgets use for ``profile`` when the configuration names none.

    Examples
    --------
    >>> default_model_for("psx").name
    'ps1-worst-2x'
    """
    target = _target_name(profile)
    if target not in _DEFAULTS:
        raise ConfigError(f"target '{target}' has no media timing model; set media.model to "
                          f"one of {', '.join(available_models())}")
    return _REGISTRY[_DEFAULTS[target]]
