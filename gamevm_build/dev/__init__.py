"""Hot reload with state kept: swap a module of a running emulated game for a rebuilt one.

The core of ``gamevm dev`` (issue 15, docs/dev.md).  :func:`reload` replaces a loaded
module in a :class:`~gamevm_build.play.console.Console` or a loader with new module
bytes, on the host's reference loader or on the console-side C runtime
(:mod:`.swap_target`, which the runtime's reload API does the loader's part for):

- the new copy is placed next to the old one and bound like any load;
- data and bss are carried symbol by symbol when a symbol keeps its size (pointers into
  the old copy re-aimed at the new one); added symbols keep their initial values,
  removed ones are dropped; a symbol whose size changed is reported with both sizes and
  the policy decides (``abort``, the default: nothing changes; ``keep``; ``reset``);
- every other module's relocated sites into the old copy are rebound;
- function pointers stored at run time keep working: the old entry points jump to the
  new code (:mod:`gamevm_build.dev.jumps`) until nothing points into the old copy, which
  is then freed (:func:`collect`, run by every reload);
- a fault, timeout or failed self test of the new copy rolls the swap back, the old
  copy running again with its state, and the report carries the symbolized fault;
- a module with a live frame inside it is ``busy`` and left alone.

The file watcher, the frame loop and the ``gamevm dev`` command build on this.
"""

from .swap import (POLICIES, ReloadError, ReloadReport, SymbolChange, collect, compare_layouts,
                   reload, retired)

__all__ = ["POLICIES", "ReloadError", "ReloadReport", "SymbolChange", "collect",
           "compare_layouts", "reload", "retired"]
