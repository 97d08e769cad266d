"""The loader, twice: the C runtime that ships on the console, and the Python model that checks it.

gamevm.h's loader API (``LoadModule``, ``LoadModuleAsync``, ``GetModuleProc``,
``UnloadModule``...) has two implementations that must agree byte for byte:

* the **C runtime** (``loader/*.c``, freestanding C99) that :mod:`.build` compiles
  into a resident for the console, next to the C support code every resident
  links (``*_libgcc.c``, ``arm_aeabi.c``, ``arm_trapv.c``, and ``gvm_api_host.c``,
  whose traps reach the Python model);
* the **Python reference loader** (:mod:`.reference`, with :mod:`.allocator`,
  :mod:`.readers`, :mod:`.registry`, :mod:`.asyncload`, :mod:`.loadtime` and
  :mod:`.loadcost`), the oracle the C runtime is proven against and the loader of
  residents built without the C runtime.

:mod:`.target` drives the C runtime on the emulated console (its media device,
clock and status codes) so tests can give both loaders the same request and
compare RAM.  This world imports :mod:`gamevm_build.link` (reading modules),
:mod:`gamevm_build.project` and :mod:`gamevm_build.emu`; only :mod:`.target`
imports :mod:`gamevm_build.play`, lazily, to boot a console.
"""
