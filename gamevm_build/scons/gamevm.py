"""SCons tool ``gamevm``: build GameVM modules and resident kernels.

Thin wiring over :mod:`gamevm_build`: C and assembly sources are compiled by
SCons's own ``Object`` builder with the target's cross compiler and flags (so
SCons's C scanner tracks ``#include`` dependencies), then linked by
:func:`gamevm_build.link.linker.link_module` or
:func:`gamevm_build.link.resident.build_resident` inside a Python function action.

Usage::

    env = Environment(tools=['default', 'gamevm'], GAMEVM_TARGET='psx')
    physics = env.GameVMModule('physics', ['physics.c'])
    level1 = env.GameVMModule('level1', ['level1.c'], GAMEVM_NEEDS=[physics])
    kernel = env.GameVMResident('kernel', ['start.S', 'kernel.c'],
                                GAMEVM_MODULES=[physics, level1])

Builders
--------
``GameVMModule(target, sources, **overrides)``
    Link a relocatable module (default suffix ``$GAMEVMMODULESUFFIX``,
    ``.elf``).  Sources may be ``.c``, ``.s``, ``.S`` (compiled first),
    ``.o`` and ``.a``.
``GameVMThread(target, source.gvm, GAMEVM_EMISSION=FORMAT)``
    Compile a thread source (the stack language of docs/formats.md) to GNU ``as``
    source (``.s``) in ``$GAMEVM_EMISSION``'s format for ``$GAMEVM_TARGET``; give it
    to ``GameVMModule`` with the same ``GAMEVM_EMISSION``.  ``$GAMEVM_TOKEN_WIDTH``
    (TTC only: 1 or 2 bytes per token; unset: the narrowest that names the token
    table).  ``$GAMEVM_THREAD_INTERPRETER`` is the inner interpreter's C source, for
    the resident.
``GameVMResident(target, sources, **overrides)``
    Link the resident kernel (default suffix ``$GAMEVMRESIDENTSUFFIX``).
``GameVMBudget(target, [config, modules...], **overrides)``
    Check load-time budgets, memory fit and overlay safety of a project
    (``gamevm.json``); writes the report in ``$GAMEVM_REPORT`` format and fails
    the build when a budget is violated (docs/budget.md).
``GameVMDisc(image, [config, modules...], GAMEVM_RESIDENT=kernel)``
    Lay the modules out in seek order (load bundles, copies) from the project's
    flow graph, master the ISO 9660 image (genisoimage or xorriso; a ROM
    segment for cartridges), verify its LBAs by reading it back, and write the
    manifest, mkpsxiso project, LBA header and layout report next to it
    (docs/layout.md).
``GameVMValidate(target, [resident, modules...], GAMEVM_TESTS=[...], GAMEVM_SCENARIOS=[...])``
    Load the modules into the emulated console with the resident, run each
    module's ``gamevm_selftest()`` and the declared tests, write a JUnit XML
    report to ``target`` (suffix ``$GAMEVMVALIDATESUFFIX``, ``.xml``) and fail
    the build on any failure (docs/loader.md).

Both are pseudo-builders: sources are compiled with ``env.Object`` using only
the overrides that matter to compiling (``GAMEVM_NEEDS`` and the other link
variables are left out, so one object can go into several modules without
SCons warning about two environments), then linked by the real builders
``GameVMLinkModule`` / ``GameVMLinkResident``, which also accept ``.c``
sources directly (through ``src_builder='Object'``).

Construction variables
----------------------
All are set with ``SetDefault``, so values you set win.  ``CC``, ``AS``, ``AR``,
``RANLIB``, ``CCCOM``, ``ASCOM`` and ``ASPPCOM`` are replaced (the host tools
set them first); values passed to ``Environment(...)`` are restored by SCons
after the tools ran, so ``Environment(CC=...)`` still wins.

``GAMEVM_TARGET``       target profile name (``psx``, ``n64``); default ``psx``.
``GAMEVM_PREFIX``       toolchain prefix (default: found from the profile's list).
``GAMEVM_CC``, ``GAMEVM_AR``, ``GAMEVM_RANLIB``
                        cross tools (``${GAMEVM_PREFIX}gcc`` ...); ``CC``, ``AS``,
                        ``AR`` and ``RANLIB`` point at them.
``GAMEVM_CFLAGS``       the profile's C flags, then ``-nostdinc`` and the compiler's
                        freestanding header directories (never the build machine's
                        ``/usr/include``), placed *before* ``$CFLAGS $CCFLAGS`` in
                        ``$CCCOM`` so your flags add to (and override) them.
``GAMEVM_ASFLAGS``      the profile's assembler flags (``.s``, before ``$ASFLAGS``).
``GAMEVM_ASPPFLAGS``    flags for preprocessed assembly (``.S``); default ``$GAMEVM_CFLAGS``.
``GAMEVM_OPTFLAGS``     default optimisation, ``-O2`` (a ``-O`` in ``CCFLAGS`` wins).
``GAMEVM_NEEDS``        modules a module imports from: Nodes, paths, or bare module
                        names (``'physics'`` means ``physics$GAMEVMMODULESUFFIX`` in
                        the calling SConscript's directory).  They become
                        dependencies, so they are built first.
``GAMEVM_NAME``         module name (default: the output file's stem).
``GAMEVM_ENTRY``        entry symbol: a module's (optional, recorded in its
                        metadata) or the resident's (default ``_start``).
``GAMEVM_FORM``         a module's shipping form (docs/format.md): ``plain`` (default),
                        ``packed``, ``lz4``, ``zx0``, or ``auto``: the form the load-time
                        model loads soonest on this console.  Given to a ``GameVMModule`` call
                        it is that module's form; set on the environment it is the
                        default for modules ``GAMEVM_CONFIG`` does not force.
``GAMEVM_TRUSTED``      when true, the game's resident checks every module's digest
                        (it links a GameVMSign trust table, docs/signing.md): ``auto``
                        also charges each form the SHA-256 of its own file.
``GAMEVM_CONFIG``       the project configuration (``gamevm.json``) whose
                        ``modules.NAME.form`` forces a module's form when the
                        ``GameVMModule`` call gives no ``GAMEVM_FORM`` (read while
                        SConscripts are read: its value is in the link's signature);
                        GameVMValidate's scenarios use it too.
``GAMEVM_MAP``          when true, a module link also writes a link map
                        (``<module>$GAMEVMMAPSUFFIX``, declared as a second target).
``GAMEVM_DEBUG``        when true, C and assembly sources are compiled with
                        ``$GAMEVM_DEBUGFLAGS`` (default ``-g``).  Whenever a link's
                        inputs have DWARF, the link writes ``<output>.debug`` beside its
                        output (docs/debugging.md), a side effect that ``scons -c``
                        removes; with ``GAMEVM_DEBUG`` links skip the CacheDir so that it
                        is always written.
``GAMEVM_RESIDENT``     resident ELF used to check a module's imports (optional;
                        do not combine with that resident's ``GAMEVM_MODULES``
                        listing the module: that would be a dependency cycle).
``GAMEVM_MODULES``      modules whose imports the resident must provide; their
                        files are dependencies of the resident.
``GAMEVM_BASE``         resident load address (int or string like ``'0x80010000'``;
                        default: the profile's ``resident_base``).
``GAMEVM_STRICT``       strict resident checks (bool; default ``False``).
``GAMEVM_KEEP``         more resident symbols to keep through ``--gc-sections``
                        (functions only the host calls, e.g. a declared test).
``GAMEVM_RUNTIME``      the loader behind gamevm.h in a resident: ``'target'`` links
                        the console-side C runtime and its Global Symbol Table
                        (docs/runtime-c.md); ``'host'`` (default) the emulator traps.
``GAMEVM_RUNTIME_ISA``  the instruction set that runtime is compiled for: ``None``
                        (default) the profile's ``runtime_isa``; ``'arm'`` or ``'thumb'``
                        on an ARM console with Thumb (the GBA; needs ``GAMEVM_RUNTIME``
                        ``'target'``).
``GAMEVM_TESTS``        GameVMValidate's declared tests: ``('mod:fn(1, "s")', 0)``,
                        ``{'call': EXPR, 'expect': N}`` or ``EXPR`` (expects 0).
``GAMEVM_MAX_INSTRUCTIONS``  instruction budget of each validation call.
``GAMEVM_INCLUDE``      the directory of ``gamevm.h`` (loader API for game code);
                        appended to ``CPPPATH``.
``GAMEVM_LAYOUT``       GameVMBudget: a disc layout file (GameVMDisc's manifest) that
                        replaces the config's ``disc.layout`` and ``disc.positions``.
``GAMEVM_DISC_MANIFEST``, ``GAMEVM_DISC_REPORT``, ``GAMEVM_DISC_HEADER``,
``GAMEVM_DISC_MKPSXISO``  GameVMDisc's extra outputs, relative to the image's directory
                        (defaults ``<stem>.json`` or the config's ``disc.layout``,
                        ``<stem>.html``, ``<stem>.h``, ``<stem>.xml``; ``''`` turns one off).
``GAMEVM_DISC_TOOL``, ``GAMEVM_DISC_TIME_LIMIT``, ``GAMEVM_DISC_SEED``  mastering tool
                        (genisoimage or xorriso), optimiser time limit and seed.
``GAMEVM_SIGN_KEY``     GameVMDisc: an Ed25519 private key (PEM); when set, the disc's
                        module manifest is signed into ``GAMEVM_DISC_SIGNED`` (default
                        ``<stem>.gvmsig``, next to the image; docs/signing.md).
``GAMEVM_SIGNED``       GameVMSign: the signed manifest written with the trust table
                        (default ``<stem>.gvmsig``, next to it).
``GAMEVMMODULESUFFIX``, ``GAMEVMRESIDENTSUFFIX``  output suffixes (``.elf``);
``GAMEVMMAPSUFFIX``     link map suffix (``.map``).
``GAMEVMMODULECOMSTR``, ``GAMEVMRESIDENTCOMSTR``  short build messages
                        (unset: SCons prints the action's call).

``GAMEVM_TARGET`` may be changed in a clone (``env.Clone(GAMEVM_TARGET='n64')``):
prefix and flags are computed from it when command lines are built.

Errors caused by the user (bad target, missing toolchain, link errors) are
raised as :class:`SCons.Errors.UserError`, which SCons reports as
``scons: *** [target] message`` without a traceback.  Link messages name the
source file of each object SCons compiled, and code the CPU cannot run is
reported at its source line (the object is compiled again with ``-g`` for
that, into a temporary file, only when it happens).  A compile that fails on
a missing header (``#include <stdio.h>``) is followed by ``gamevm: error:``
and what to do instead (``$SPAWN`` wraps console compiles to say it).
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import threading
from pathlib import Path

import SCons.Action
import SCons.Builder
import SCons.Errors
import SCons.Util

import gamevm_build
from gamevm_build.errors import GameVMError
from gamevm_build.project.profile import load_profile, runtime_isa
from gamevm_build.link.toolchain import find_toolchain

__all__ = ["generate", "exists"]

#: The suffix of a link's debug file (gamevm_build.link.debugfile.DEBUG_SUFFIX, spelled out:
#: it is needed while SConscripts are read, and the ELF machinery need not load for that;
#: tests/test_cli_startup.py checks that the two agree).
DEBUG_SUFFIX = ".debug"

#: Variables whose values are part of a module link's build signature.
MODULE_VARLIST = ["GAMEVM_TARGET", "GAMEVM_NAME", "GAMEVM_NEEDS", "GAMEVM_RESIDENT",
                  "GAMEVM_ENTRY", "GAMEVM_MAP", "GAMEVM_FORM", "GAMEVM_TRUSTED",
                  "GAMEVM_EMISSION", "GAMEVM_VERSION"]
#: Variables whose values are part of a resident link's build signature.
RESIDENT_VARLIST = ["GAMEVM_TARGET", "GAMEVM_BASE", "GAMEVM_STRICT", "GAMEVM_MODULES",
                    "GAMEVM_ENTRY", "GAMEVM_KEEP", "GAMEVM_RUNTIME", "GAMEVM_RUNTIME_ISA",
                    "GAMEVM_VERSION"]


#: Actions import what they need when they run, in SCons's worker threads (``-j``).
#: gamevm_build's packages import one another (the layout and the analysis), and two
#: threads that start such imports at once can deadlock in Python's per-module import
#: locks (``_DeadlockError``, seen with GameVMDisc and GameVMBudget under ``-j2``): the
#: actions take their imports one at a time (:func:`_imports`).
_IMPORT_LOCK = threading.RLock()


# --------------------------------------------------------------------------- helpers

def _target_name(env) -> str:
    name = env.get("GAMEVM_TARGET")
    if isinstance(name, str) and "$" not in name:
        return name or "psx"          # without a substitution: every command line SCons
    return env.subst("$GAMEVM_TARGET") or "psx"         # checks in a no-op build asks


def _toolchain(target: str):
    """The toolchain of ``target``; user errors become ``UserError``."""
    try:
        return _found_toolchain(target, os.environ.get("PATH", ""),
                                os.environ.get(f"GAMEVM_{target.upper()}_PREFIX"))
    except GameVMError as exc:
        raise SCons.Errors.UserError(f"gamevm: {exc}") from None


@functools.lru_cache(maxsize=None)
def _found_toolchain(target: str, _path: str, _override: str | None):
    """find_toolchain, once per PATH and prefix override: ``$GAMEVM_PREFIX`` and
    ``$GAMEVM_CFLAGS`` ask for the toolchain on every command line SCons substitutes
    (twice per object in a no-op build), and its PATH search was most of their cost."""
    return find_toolchain(target)


def _profile(target: str):
    try:
        return load_profile(target)
    except GameVMError as exc:
        raise SCons.Errors.UserError(f"gamevm: {exc}") from None


def _prefix(target, source, env, for_signature):
    """``$GAMEVM_PREFIX``: the toolchain prefix of ``$GAMEVM_TARGET``.

    The bare prefix is used when the compiler is on the PATH SCons gives its
    commands (``env['ENV']['PATH']``), which keeps command lines (and so build
    signatures) independent of the machine; otherwise its directory is added.
    """
    tc = _toolchain(_target_name(env))
    if os.path.dirname(tc.prefix):
        return tc.prefix
    return _prefix_for_path(tc, env.get("ENV", {}).get("PATH", ""))


@functools.lru_cache(maxsize=None)
def _prefix_for_path(tc, path: str) -> str:
    if shutil.which(tc.prefix + "gcc", path=path):
        return tc.prefix
    return os.path.join(os.path.dirname(tc.gcc), tc.prefix)


def _cflags(target, source, env, for_signature):
    """``$GAMEVM_CFLAGS``: the profile's C compiler flags and the freestanding headers.

    The same :attr:`gamevm_build.link.toolchain.Toolchain.cflags` the CLI compiles with.
    """
    target = _target_name(env)
    return list(_toolchain_cflags(target, os.environ.get("PATH", ""),
                                  os.environ.get(f"GAMEVM_{target.upper()}_PREFIX")))


@functools.lru_cache(maxsize=None)
def _toolchain_cflags(target: str, _path: str, _override: str | None) -> tuple[str, ...]:
    # Toolchain.cflags looks for gcc on PATH each time it is read: once per target here
    return _toolchain(target).cflags


def _asflags(target, source, env, for_signature):
    """``$GAMEVM_ASFLAGS``: the profile's assembler flags (gcc driver flags)."""
    return list(_profile(_target_name(env)).asflags)


def _as_bool(value) -> bool:
    if SCons.Util.is_String(value):
        return value.strip().lower() not in ("", "0", "no", "false", "off", "none")
    return bool(value)


def _as_int(env, value):
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = env.subst(str(value)).strip()
    if not text:
        return None
    try:
        return int(text, 0)
    except ValueError:
        raise SCons.Errors.UserError(
            f"gamevm: GAMEVM_BASE must be an address such as 0x80010000, not '{text}'") from None


def _file_nodes(env, value, suffix_var: str) -> list:
    """Nodes for a list of Nodes, paths or bare names (suffix added to bare names)."""
    if value is None:
        return []
    nodes = []
    suffix = env.subst(suffix_var)
    for item in SCons.Util.flatten([value]):
        if item is None or item == "":
            continue
        if SCons.Util.is_String(item):
            name = env.subst(item)
            if not name:
                continue
            item = env.File(SCons.Util.adjustixes(name, "", suffix))
        elif getattr(item.attributes, "gamevm_map", False):
            continue                # a module's link map (GAMEVM_MAP), not a module
        nodes.append(item)
    return nodes


def _paths(nodes) -> list[str]:
    # Paths relative to the top directory (where SCons runs actions): nothing
    # machine-specific reaches the linker, keeping outputs CacheDir-friendly.
    return [str(n) for n in nodes]


def _regular(nodes, what: str) -> list:
    """``nodes``, checked: SCons reads every dependency to sign it, and would wait on a FIFO
    or read /dev/zero without end; a file that is not built yet is fine."""
    from gamevm_build.fileutil import require_regular

    for node in nodes:
        path = node.abspath if hasattr(node, "abspath") else str(node)
        try:
            require_regular(path, what)
        except FileNotFoundError:
            pass
        except GameVMError as exc:
            raise SCons.Errors.UserError(f"gamevm: {exc}") from None
        except OSError as exc:
            raise SCons.Errors.UserError(f"gamevm: {path}: {what}: {exc.strerror}") from None
    return list(nodes)


def _keep(env) -> list[str]:
    """``$GAMEVM_KEEP``: symbol names (a list or a space-separated string)."""
    names = []
    for item in SCons.Util.flatten([env.get("GAMEVM_KEEP") or []]):
        names += env.subst(str(item)).split()
    return names


def _report(target, result) -> None:
    for warning in getattr(result, "warnings", None) or ():
        sys.stderr.write(f"scons: warning: [{target}] {warning}\n")


def _forget_build(node) -> None:
    """Make the next build redo ``node``: a check that fails still writes its report, and
    SCons keeps the signature of the build before (it records only successful ones), so
    the next build with those inputs would take the failed report for up to date."""
    sconsign = node.dir.sconsign()
    if sconsign.entries.pop(node.name, None) is not None:
        sconsign.dirty = True


def _conclude(env, result, out, details: list[str]) -> int:
    """End a check's action: a failure stops the build with the summary and ``details``
    (no traceback); success prints the one-line summary unless ``scons -s``."""
    if not result.ok:
        _forget_build(out)
        raise SCons.Errors.UserError("\n".join([f"{result.summary_line()} (report: {out})",
                                                *details]))
    if not env.GetOption("silent"):
        sys.stdout.write(f"gamevm: {result.summary_line()}\n")
    return 0


def _sources(env, nodes):
    """A SourceMap naming the source of each object SCons compiled (for link messages)."""
    with _IMPORT_LOCK:
        from gamevm_build.link.sources import SourceMap

    sources = SourceMap()
    for node in nodes:
        srcs = getattr(node, "sources", None) or []
        if node.has_builder() and len(srcs) == 1 and \
                SCons.Util.splitext(srcs[0].name)[1] in (".c", ".s", ".S"):
            sources.add(str(node), str(srcs[0]), _recompiler(node))
    return sources


def _recompiler(node):
    """``recompile(path)``: the object's own compile command, with ``-g``, writing to ``path``.

    Only run when a message wants a source line and the object has none.
    """
    def recompile(out) -> None:
        import subprocess

        import SCons.Executor

        # SCons drops a node's executor once it is built: make the same one again
        executor = SCons.Executor.Executor(node.builder.action, node.env or node.builder.env,
                                           [node.builder.overrides], [node], node.sources)
        env = executor.get_build_env()
        command = {".c": "$CCCOM", ".S": "$ASPPCOM", ".s": "$ASCOM"}[
            SCons.Util.splitext(node.sources[0].name)[1]]
        cmd_list = env.subst_list(command, 0, [node], node.sources)
        names = {str(node), node.get_abspath()}
        for cmd in cmd_list:
            args = [str(out) if str(a) in names else str(a) for a in cmd]
            subprocess.run([*args, "-g"], env={k: str(v) for k, v in env["ENV"].items()},
                           cwd=env.Dir("#").get_abspath(), check=True, capture_output=True)
    return recompile


def _spawn(original, piped):
    """``$SPAWN`` that explains a console compile failing on a missing header.

    gcc's own "fatal error: stdio.h: No such file or directory" is passed on
    unchanged; ``gamevm: error:`` and what to do instead follow it
    (:func:`gamevm_build.link.toolchain.explain_compile_failure`).  Console compiles
    (the ones with our header flags) run through ``$PSPAWN`` to capture
    stderr; other commands, and other platforms, run as before.
    """
    from gamevm_build.link.toolchain import SYSINCLUDE_DIR

    def spawn(sh, escape, cmd, args, env):
        if piped is None or os.name != "posix" or not any(SYSINCLUDE_DIR in str(a) for a in args):
            return original(sh, escape, cmd, args, env)
        import tempfile

        from gamevm_build.project.profile import available_targets

        with tempfile.TemporaryFile("w+") as err:
            status = piped(sh, escape, cmd, args, env, None, err)
            err.seek(0)
            text = err.read()
        sys.stderr.write(text)
        if status:
            from gamevm_build.link.toolchain import explain_compile_failure
            explained = explain_compile_failure(text, _profile_of(args, available_targets()))
            if explained:
                sys.stderr.write(f"gamevm: error: {explained[0]}\n")
        return status
    return spawn


def _profile_of(args, targets):
    """The profile whose flags the command carries (consoles may share a compiler), or None."""
    words = {str(a).strip('"') for a in args}
    for name in targets:
        profile = _profile(name)
        if set(profile.cflags) <= words:
            return profile
    return None


# --------------------------------------------------------------------------- emitters

def _module_emitter(target, source, env):
    needs = _file_nodes(env, env.get("GAMEVM_NEEDS"), "$GAMEVMMODULESUFFIX")
    resident = _file_nodes(env, env.get("GAMEVM_RESIDENT"), "$GAMEVMRESIDENTSUFFIX")
    if len(resident) > 1:
        raise SCons.Errors.UserError(
            f"gamevm: GAMEVM_RESIDENT names {len(resident)} files; a module has one resident")
    if _as_bool(env.get("GAMEVM_MAP")):
        module = target[0]
        stem = SCons.Util.splitext(module.name)[0]
        link_map = module.dir.File(stem + env.subst("$GAMEVMMAPSUFFIX"))
        link_map.attributes.gamevm_map = True
        target = [module, link_map]
    for t in target:
        t.attributes.gamevm_needs = needs
        t.attributes.gamevm_resident = resident[0] if resident else None
    if needs or resident:
        env.Depends(target, needs + resident)
    _debug_side_effect(env, target[0])
    return target, source


def _debug_side_effect(env, out) -> None:
    """The debug file a link writes beside ``out`` when its inputs have DWARF (``-g``):
    a side effect (only there when compiled with -g), cleaned by ``scons -c``.  A
    CacheDir does not keep side effects, so a ``GAMEVM_DEBUG`` link is never fetched from
    it: the debug file is always written beside its output."""
    debug = out.dir.File(SCons.Util.splitext(out.name)[0] + DEBUG_SUFFIX)
    if debug is out:
        return
    env.SideEffect(debug, out)
    env.Clean(out, debug)
    if _as_bool(env.get("GAMEVM_DEBUG")):
        env.NoCache(out)


def _debugflags(target, source, env, for_signature):
    """``$_GAMEVM_DEBUGFLAGS``: ``$GAMEVM_DEBUGFLAGS`` (``-g``) when ``$GAMEVM_DEBUG`` is true."""
    return env.get("GAMEVM_DEBUGFLAGS") if _as_bool(env.get("GAMEVM_DEBUG")) else []


def _resident_emitter(target, source, env):
    modules = _file_nodes(env, env.get("GAMEVM_MODULES"), "$GAMEVMMODULESUFFIX")
    for t in target:
        t.attributes.gamevm_modules = modules
    if modules:
        env.Depends(target, modules)
    # the runtime's C sources are inputs too (a changed loader relinks every resident)
    from gamevm_build.runtime.build import runtime_sources
    env.Depends(target, [env.File(str(p)) for p in runtime_sources(_runtime(env))])
    _runtime_profile(env)           # a bad GAMEVM_RUNTIME_ISA fails while SConscripts are read
    _debug_side_effect(env, target[0])
    return target, source


# --------------------------------------------------------------------------- actions

def gamevm_link_module(target, source, env):
    """Link ``source`` (objects, archives) into the module ``target[0]``."""
    form = env.subst("$GAMEVM_FORM") or "plain"
    with _IMPORT_LOCK:
        from gamevm_build.link.linker import link_module
        if form != "plain":          # what choosing and writing a form imports
            import gamevm_build.link.shipform  # noqa: F401
            import gamevm_build.runtime.loadcost  # noqa: F401
            import gamevm_build.project.media  # noqa: F401
            import lz4.block  # noqa: F401

    out = target[0]
    resident = getattr(out.attributes, "gamevm_resident", None)
    try:
        result = link_module(
            _target_name(env),
            _paths(source),
            str(out),
            name=env.subst("$GAMEVM_NAME") or None,
            needs=_paths(getattr(out.attributes, "gamevm_needs", ())),
            resident=str(resident) if resident is not None else None,
            entry=env.subst("$GAMEVM_ENTRY") or None,
            map_file=str(target[1]) if len(target) > 1 else None,
            sources=_sources(env, source),
            form=form,
            trusted=bool(env.get("GAMEVM_TRUSTED")),
            emission=env.subst("$GAMEVM_EMISSION") or "stc",
        )
    except GameVMError as exc:
        raise SCons.Errors.UserError(str(exc)) from None
    _report(out, result)
    return 0


def gamevm_thread(target, source, env):
    """Compile the thread source ``source[0]`` to the assembly ``target[0]``."""
    with _IMPORT_LOCK:
        from gamevm_build.link.threadc import compile_source, read_source
        from gamevm_build.fileutil import atomic_write
    src = str(source[0])
    try:
        text = read_source(src)
        fmt = env.subst("$GAMEVM_EMISSION") or "stc"
        width = env.subst("$GAMEVM_TOKEN_WIDTH").strip()
        if width and not width.isdigit():
            raise SCons.Errors.UserError(f"GAMEVM_TOKEN_WIDTH={width!r}: 1 or 2 (bytes per "
                                         "TTC token), or unset to choose by the table")
        # a width is the TTC threads' only: one env can build every format
        asm = compile_source(text, fmt, _profile(_target_name(env)).arch, src,
                             int(width) if width and fmt == "ttc" else None)
    except GameVMError as exc:
        raise SCons.Errors.UserError(str(exc)) from None
    atomic_write(str(target[0]), asm.encode())
    return 0


_thread_action = SCons.Action.Action(gamevm_thread, "$GAMEVMTHREADCOMSTR",
                                     varlist=["GAMEVM_TARGET", "GAMEVM_EMISSION",
                                              "GAMEVM_TOKEN_WIDTH",
                                              "GAMEVM_VERSION"])


def gamevm_build_resident(target, source, env):
    """Link ``source`` (objects, archives) into the resident kernel ``target[0]``."""
    with _IMPORT_LOCK:
        from gamevm_build.link.resident import build_resident

    out = target[0]
    try:
        result = build_resident(
            _runtime_profile(env),
            _paths(source),
            str(out),
            base=_as_int(env, env.get("GAMEVM_BASE")),
            modules=_paths(getattr(out.attributes, "gamevm_modules", ())),
            strict=_as_bool(env.get("GAMEVM_STRICT")),
            entry=env.subst("$GAMEVM_ENTRY") or "_start",
            keep=_keep(env),
            runtime=_runtime(env),
            sources=_sources(env, source),
        )
    except GameVMError as exc:
        raise SCons.Errors.UserError(str(exc)) from None
    _report(out, result)
    if result.runtime == "target" and not env.GetOption("silent"):
        b = result.runtime_bytes
        sys.stdout.write(f"gamevm: {out}: console-side runtime {b['code']} bytes code, "
                         f"{b['data']} bytes data, {b['table']} bytes symbol table\n")
    return 0


def _runtime(env) -> str:
    runtime = env.subst("$GAMEVM_RUNTIME") or "host"
    if runtime not in ("host", "target"):
        raise SCons.Errors.UserError(f"GAMEVM_RUNTIME = '{runtime}': choose 'target' (the "
                                     "console-side C runtime) or 'host'")
    return runtime


def _runtime_profile(env):
    """What a resident link is given as its target: the profile's name, or with
    ``$GAMEVM_RUNTIME_ISA`` the profile whose ``runtime_isa`` it replaces (the kernel's own
    code keeps the profile's flags, as ``gamevm resident --runtime-isa`` does)."""
    value = env.subst("$GAMEVM_RUNTIME_ISA")
    name = _target_name(env)
    if not value:
        return name
    if value not in ("arm", "thumb"):
        raise SCons.Errors.UserError(f"GAMEVM_RUNTIME_ISA = '{value}': choose 'arm', 'thumb' "
                                     "(the console-side runtime's instruction set on an ARM "
                                     "console) or None (the profile's runtime_isa)")
    if _runtime(env) != "target":
        raise SCons.Errors.UserError(f"GAMEVM_RUNTIME_ISA = '{value}' chooses how the "
                                     "console-side runtime is compiled: set GAMEVM_RUNTIME = "
                                     "'target' too")
    profile = _profile(name)
    try:
        return profile.replace(runtime_isa=runtime_isa(
            value, profile.arch, f"GAMEVM_RUNTIME_ISA (target {name})", profile.isa))
    except GameVMError as exc:
        raise SCons.Errors.UserError(f"gamevm: {exc}, or leave GAMEVM_RUNTIME_ISA None (the "
                                     "profile's own)") from None


#: one variable for the whole varlist: SCons substitutes each varlist entry on its own,
#: for every module of every no-op build (10 substitutions a module instead of 1)
_module_action = SCons.Action.Action(gamevm_link_module, "$GAMEVMMODULECOMSTR",
                                     varlist=["_GAMEVM_MODULE_SIG"])
_resident_action = SCons.Action.Action(gamevm_build_resident, "$GAMEVMRESIDENTCOMSTR",
                                       varlist=RESIDENT_VARLIST)


# --------------------------------------------------------------------------- pseudo-builders

#: Variables that only matter to linking; kept out of the compile step.
LINK_ONLY_VARS = frozenset(MODULE_VARLIST + RESIDENT_VARLIST + [
    "GAMEVMMODULECOMSTR", "GAMEVMRESIDENTCOMSTR", "GAMEVMMODULESUFFIX",
    "GAMEVMRESIDENTSUFFIX", "GAMEVMMAPSUFFIX", "GAMEVM_CONFIG"]) - {"GAMEVM_TARGET",
                                                                    "GAMEVM_VERSION"}


def _objects(env, source, overrides: dict) -> list:
    """Compile the C/assembly members of ``source`` with ``env.Object``; keep the rest."""
    compile_overrides = {k: v for k, v in overrides.items() if k not in LINK_ONLY_VARS}
    suffixes = set(env["BUILDERS"]["Object"].src_suffixes(env))
    result = []
    for item in SCons.Util.flatten([source]):
        if SCons.Util.is_String(item):
            item = env.File(env.subst(item))
        if not item.has_builder() and SCons.Util.splitext(item.name)[1] in suffixes:
            result.extend(env.Object(item, **compile_overrides))
        else:
            result.append(item)        # objects, archives, outputs of other builders
    return result


def GameVMModule(env, target, source=None, **overrides):
    """Compile ``source`` and link the objects into a module (pseudo-builder)."""
    if source is None:
        target, source = None, target
    if "GAMEVM_FORM" not in overrides:          # the call's own form beats the config
        forced = _config_form(env, target, source, overrides)
        if forced:
            overrides["GAMEVM_FORM"] = forced
    return env.GameVMLinkModule(target, _objects(env, source, overrides), **overrides)


def _config_form(env, target, source, overrides) -> str | None:
    """The form ``$GAMEVM_CONFIG``'s ``modules.NAME.form`` forces on the module a
    ``GameVMModule`` call builds (NAME: ``GAMEVM_NAME``, else the target's or first
    source's stem), or None."""
    config = overrides.get("GAMEVM_CONFIG", env.get("GAMEVM_CONFIG"))
    nodes = _file_nodes(env, config, ".json")
    if not nodes:
        return None
    name = env.subst(overrides.get("GAMEVM_NAME") or env.get("GAMEVM_NAME") or "")
    if not name:
        first = SCons.Util.flatten([target if target is not None else source])[0]
        name = os.path.splitext(os.path.basename(env.subst(str(first))))[0]
    path = nodes[0].srcnode().abspath
    try:
        return _forced_forms(path, os.stat(path).st_mtime_ns).get(name)
    except OSError as exc:
        raise SCons.Errors.UserError(f"GAMEVM_CONFIG = '{config}': cannot read {path}: "
                                     f"{exc.strerror}") from None


@functools.lru_cache(maxsize=8)
def _forced_forms(path: str, _mtime: int) -> dict:
    """Module name -> the form the config at ``path`` forces (read once per version)."""
    from gamevm_build.fileutil import read_json
    from gamevm_build.project.config import forced_form
    try:
        data = read_json(path, "project configuration")
        modules = data.get("modules") if isinstance(data, dict) else None
        return {name: form for name in (modules if isinstance(modules, dict) else ())
                if (form := forced_form(data, name, where=path))}
    except GameVMError as exc:
        raise SCons.Errors.UserError(str(exc)) from None


def GameVMResident(env, target, source=None, **overrides):
    """Compile ``source`` and link the objects into the resident kernel (pseudo-builder)."""
    if source is None:
        target, source = None, target
    return env.GameVMLinkResident(target, _objects(env, source, overrides), **overrides)


# --------------------------------------------------------------------------- budgets (GameVMBudget)
#
# env.GameVMBudget(target, [config, modules...]) checks the project's load-time
# budgets, streaming deadlines, memory fit and closure (analysis.check_project,
# docs/budget.md) and writes the report in $GAMEVM_REPORT format (text, json,
# markdown, junit, html; suffix $GAMEVMBUDGETSUFFIX follows it).  Module
# sources replace the files the config names (matched by module name, else
# file stem), which the config may leave out or put anywhere: they are only the
# CLI's defaults and never dependencies of a module given as a source;
# GAMEVM_RESIDENT replaces resident.file.  A violated budget fails
# the build with a short summary (the full report is still written).

#: Variables whose values are part of a budget check's build signature.
BUDGET_VARLIST = ["GAMEVM_REPORT", "GAMEVM_VERSION"]
# GAMEVM_LAYOUT (a disc layout file, e.g. GameVMDisc's manifest) replaces the config's
# disc.layout and disc.positions; it is a dependency, so the disc is laid out first.


#: report format -> file suffix (gamevm_build.analysis.report.SUFFIXES, spelled out: the
#: suffix is needed while SConscripts are read, and the analysis imports networkx;
#: tests/test_cli_startup.py checks that the two agree)
REPORT_SUFFIXES = {"text": ".txt", "json": ".json", "markdown": ".md", "junit": ".xml",
                   "html": ".html"}


def _budget_format(env) -> str:
    fmt = env.subst("$GAMEVM_REPORT") or "text"
    if fmt not in REPORT_SUFFIXES:
        raise SCons.Errors.UserError(
            f"gamevm: GAMEVM_REPORT must be one of {', '.join(REPORT_SUFFIXES)}, not '{fmt}'")
    return fmt


def _budget_suffix(target, source, env, for_signature):
    """``$GAMEVMBUDGETSUFFIX``: ``.txt``, ``.json``, ``.md``, ``.xml`` or ``.html`` by format."""
    return REPORT_SUFFIXES[_budget_format(env)]


def _budget_emitter(target, source, env):
    """Depend on the files the config names (modules, resident, disc layout) and the resident."""
    if not source:
        raise SCons.Errors.UserError("gamevm: GameVMBudget needs the project config "
                                     "(gamevm.json) as its first source")
    extra = _file_nodes(env, env.get("GAMEVM_RESIDENT"), "$GAMEVMRESIDENTSUFFIX")
    if len(extra) > 1:
        raise SCons.Errors.UserError(
            f"gamevm: GAMEVM_RESIDENT names {len(extra)} files; a project has one resident")
    layout = _file_nodes(env, env.get("GAMEVM_LAYOUT"), ".json")
    for t in target:
        t.attributes.gamevm_resident = extra[0] if extra else None
        t.attributes.gamevm_layout = layout[0] if layout else None
    from gamevm_build.project.configfiles import config_files

    # the files only: the action checks the whole config (a broken one names no files here)
    cfg = config_files(source[0].srcnode().abspath)
    if cfg is not None:
        # the modules given as sources replace the config's files: only the others are read
        given = _given_module_names(source[1:])
        files = [f for n, f in cfg.modules.items() if n not in given]
        if cfg.resident_file is not None and not extra:
            files.append(cfg.resident_file)
        if cfg.layout and not layout:
            files.append(cfg.base_dir / cfg.layout)
        extra += [env.File(os.path.abspath(str(f))) for f in files]
    extra += layout
    if extra:
        env.Depends(target, _regular(extra, "a file the budget check reads"))
    _regular(source, "a source of GameVMBudget")
    return target, source


def gamevm_budget(target, source, env):
    """Check the budgets of the project ``source[0]`` and write the report to ``target[0]``."""
    with _IMPORT_LOCK:
        from gamevm_build.analysis import check_project, render
        from gamevm_build.fileutil import atomic_write
        from gamevm_build.project.config import load_config

    out = target[0]
    fmt = _budget_format(env)
    resident = getattr(out.attributes, "gamevm_resident", None)
    layout = getattr(out.attributes, "gamevm_layout", None)
    try:
        names = set(load_config(str(source[0])).modules)
        result = check_project(str(source[0]),
                               module_files=dict(_config_module_pairs(source[1:], names)),
                               resident_file=str(resident) if resident is not None else None,
                               layout_file=str(layout) if layout is not None else None)
        atomic_write(str(out), render(result.to_dict(), fmt).encode())
    except GameVMError as exc:
        raise SCons.Errors.UserError(str(exc)) from None
    lines = []
    for f in result.errors[:3]:
        lines.append(f"  {f.subject}: {f.message}")
        if f.suggestions:
            lines.append(f"    -> {f.suggestions[0]}")
    if len(result.errors) > 3:
        lines.append(f"  ... and {len(result.errors) - 3} more in {out}")
    return _conclude(env, result, out, lines)


_budget_action = SCons.Action.Action(gamevm_budget, "$GAMEVMBUDGETCOMSTR",
                                     varlist=BUDGET_VARLIST)


# ------------------------------------------------------------------- validation (GameVMValidate)
#
# env.GameVMValidate(target, [resident, modules...], GAMEVM_TESTS=[...]) boots the
# emulated console with the resident, loads every module (needs first), runs each
# module's exported gamevm_selftest() and each declared test, and writes a JUnit
# XML report to target (gamevm_build.play.validate, docs/loader.md).  Any failure fails
# the build with the summary (the report is still written).  With GAMEVM_RESIDENT
# set, every source is a module.  GAMEVM_SCENARIOS plays scenarios (docs/runtime.md)
# with the built modules, one testcase each, writes their traces next to the report
# (extra targets) and checks them against the bounds of GAMEVM_CONFIG's analysis
# (with GAMEVM_LAYOUT, a disc layout such as GameVMDisc's manifest, for both).

#: Variables whose values are part of a validation's build signature.
VALIDATE_VARLIST = ["GAMEVM_TARGET", "GAMEVM_TESTS", "GAMEVM_MAX_INSTRUCTIONS",
                    "GAMEVM_VERSION"]

#: The directory holding gamevm.h (the target-side loader API), ``$GAMEVM_INCLUDE``.
GAMEVM_INCLUDE = gamevm_build.INCLUDE_DIR


def _validate_tests(env):
    from gamevm_build.play.validate import parse_tests

    tests = env.get("GAMEVM_TESTS") or []
    if isinstance(tests, (str, dict)):
        tests = [tests]
    try:
        return parse_tests(list(tests))
    except GameVMError as exc:
        raise SCons.Errors.UserError(f"gamevm: {exc}") from None


def _validate_budget(env) -> int | None:
    """``$GAMEVM_MAX_INSTRUCTIONS``: instruction budget of each call (None: the default)."""
    value = env.get("GAMEVM_MAX_INSTRUCTIONS")
    if value is None or isinstance(value, int):
        return value
    text = env.subst(str(value)).strip()
    try:
        return int(text, 0) if text else None
    except ValueError:
        raise SCons.Errors.UserError(
            f"gamevm: GAMEVM_MAX_INSTRUCTIONS must be an integer, not '{text}'") from None


def _validate_emitter(target, source, env):
    """Check GAMEVM_TESTS early; depend on their exact text; drop link maps from the sources."""
    source = [s for s in source if not getattr(s.attributes, "gamevm_map", False)]
    resident = _file_nodes(env, env.get("GAMEVM_RESIDENT"), "$GAMEVMRESIDENTSUFFIX")
    if len(resident) > 1:
        raise SCons.Errors.UserError(
            f"gamevm: GAMEVM_RESIDENT names {len(resident)} files; a console has one resident")
    if not resident and not source:
        raise SCons.Errors.UserError("gamevm: GameVMValidate needs the resident as its first "
                                     "source (or GAMEVM_RESIDENT), then the modules")
    checks = _validate_tests(env)
    for t in target:
        t.attributes.gamevm_resident = resident[0] if resident else None
    if resident:
        env.Depends(target, resident)
    scenarios = _file_nodes(env, env.get("GAMEVM_SCENARIOS"), ".json")
    config = _file_nodes(env, env.get("GAMEVM_CONFIG"), ".json")
    layout = _file_nodes(env, env.get("GAMEVM_LAYOUT"), ".json") if scenarios else []
    if scenarios:
        from gamevm_build.play.validate import scenario_trace_name

        report = target[0]
        target = list(target) + [report.dir.File(scenario_trace_name(n.name)) for n in scenarios]
        env.Depends(target, _regular(scenarios + config + layout, "a file validation reads"))
        report.attributes.gamevm_scenarios = scenarios
        report.attributes.gamevm_config = config[0] if config else None
        report.attributes.gamevm_layout = layout[0] if layout else None
    # varlist sees GAMEVM_TESTS through env.subst, which drops '$'; the Value does not
    env.Depends(target, env.Value("\n".join(f"{c.expr.text} -> {c.expect}" for c in checks)))
    return target, source


def gamevm_validate(target, source, env):
    """Validate the resident and modules ``source`` on the emulator; JUnit XML to ``target[0]``."""
    with _IMPORT_LOCK:
        from gamevm_build.play.validate import print_progress, validate

    out = target[0]
    resident = getattr(out.attributes, "gamevm_resident", None)
    if resident is None:
        resident, source = source[0], source[1:]
    budget = _validate_budget(env)
    try:
        config = getattr(out.attributes, "gamevm_config", None)
        layout = getattr(out.attributes, "gamevm_layout", None)
        result = validate(_target_name(env), str(resident), _paths(source), _validate_tests(env),
                          str(out), max_instructions=budget,
                          scenarios=_paths(getattr(out.attributes, "gamevm_scenarios", ())),
                          config=str(config) if config is not None else None,
                          layout=str(layout) if layout is not None else None,
                          progress=print_progress)
    except GameVMError as exc:
        raise SCons.Errors.UserError(str(exc)) from None
    return _conclude(env, result, out, result.failure_lines())


_validate_action = SCons.Action.Action(gamevm_validate, "$GAMEVMVALIDATECOMSTR",
                                       varlist=VALIDATE_VARLIST)

# ------------------------------------------------------------------ disc layout (GameVMDisc)
#
# env.GameVMDisc(image, [config, modules...], GAMEVM_RESIDENT=kernel) plans the disc
# order of the project's modules from its flow graph (gamevm_build.layout,
# docs/layout.md), masters the ISO 9660 image (a flat ROM segment for cartridge
# targets), reads it back to check every LBA, and writes next to it (extra targets;
# '' turns one off): the manifest (the layout file GameVMBudget's GAMEVM_LAYOUT and
# disc.layout read), a mkpsxiso project (disc media only), a C header of LBAs and the
# layout report.  Module sources replace the files the config names (matched by module
# name, else file stem); the same module twice with different contents is an error.

#: Variables whose values are part of a disc layout's build signature.
DISC_VARLIST = ["GAMEVM_TARGET", "GAMEVM_DISC_TOOL", "GAMEVM_DISC_TIME_LIMIT",
                "GAMEVM_DISC_SEED", "GAMEVM_VERSION", "GAMEVM_SIGN_KEY"]
#: Extra outputs: build_disc keyword -> construction variable naming the file.
DISC_OUTPUTS = (("manifest", "GAMEVM_DISC_MANIFEST"), ("report", "GAMEVM_DISC_REPORT"),
                ("lba_header", "GAMEVM_DISC_HEADER"), ("mkpsxiso", "GAMEVM_DISC_MKPSXISO"))


def _disc_file(env, image, value: str):
    """A file named relative to the image's directory (or absolute, or '#'-relative)."""
    if os.path.isabs(value) or value.startswith("#"):
        return env.File(value)
    return image.dir.File(value)


def _disc_emitter(target, source, env):
    """Declare the manifest, report, header and mkpsxiso project; depend on named files."""
    if not source:
        raise SCons.Errors.UserError("gamevm: GameVMDisc needs the project config "
                                     "(gamevm.json) as its first source")
    source = [s for s in source if not getattr(s.attributes, "gamevm_map", False)]
    image = target[0]
    resident = _file_nodes(env, env.get("GAMEVM_RESIDENT"), "$GAMEVMRESIDENTSUFFIX")
    if len(resident) > 1:
        raise SCons.Errors.UserError(
            f"gamevm: GAMEVM_RESIDENT names {len(resident)} files; a disc boots one resident")
    from gamevm_build.project.configfiles import config_files

    # the files only: the action checks the whole config (a broken one names no files here)
    cfg = config_files(source[0].srcnode().abspath)
    target = (cfg.target if cfg is not None else None) or env.get("GAMEVM_TARGET")
    outputs = {}
    for kind, var in DISC_OUTPUTS:
        value = env.subst(f"${var}", target=[image])
        if kind == "manifest" and not value:
            layout = cfg.layout if cfg is not None else None
            if layout:
                from gamevm_build.fileutil import confined_output

                # named by the config: inside the project (its directory or the build's top)
                try:
                    path = confined_output(layout, cfg.base_dir, f"{cfg.where}: disc.layout",
                                           roots=[env.Dir("#").abspath],
                                           option="GAMEVM_DISC_MANIFEST")
                except GameVMError as exc:
                    raise SCons.Errors.UserError(f"gamevm: {exc}") from None
                outputs[kind] = env.File(os.path.abspath(str(path)))
            else:
                outputs[kind] = image.dir.File(SCons.Util.splitext(image.name)[0] + ".json")
            continue
        if value and not (kind == "mkpsxiso" and target != "psx"):   # a PS1 mastering tool
            outputs[kind] = _disc_file(env, image, value)
    image.attributes.gamevm_disc = outputs
    image.attributes.gamevm_resident = resident[0] if resident else None
    deps = list(resident)
    signed = None
    if env.subst("$GAMEVM_SIGN_KEY"):     # the signed module manifest (docs/signing.md)
        key = env.File(env.subst("$GAMEVM_SIGN_KEY"))
        signed = _disc_file(env, image, env.subst("$GAMEVM_DISC_SIGNED", target=[image]))
        image.attributes.gamevm_signed = (signed, key)
        if key.has_builder() or os.path.exists(key.abspath):
            deps.append(key)        # else the action says how to make one (not SCons)
    if cfg is not None:
        given = _given_module_names(source[1:])
        deps += [env.File(os.path.abspath(str(f))) for n, f in cfg.modules.items()
                 if n not in given]
        if cfg.resident_file is not None and not resident:
            deps.append(env.File(os.path.abspath(str(cfg.resident_file))))
    if deps:
        env.Depends(image, _regular(deps, "a file the disc layout reads"))
    _regular(source, "a source of GameVMDisc")
    return [image] + list(outputs.values()) + ([signed] if signed else []), source


def _given_module_names(nodes) -> set[str]:
    """The config module names that module sources (GameVMBudget, GameVMDisc) stand for,
    as far as they are known before the modules are built: ``GAMEVM_NAME`` of the
    GameVMModule that builds one, and its file stem (what :func:`_config_module_pairs`
    matches once the module's metadata can be read)."""
    names = set()
    for node in nodes:
        names.add(SCons.Util.splitext(node.name)[0])
        env = node.get_build_env() if node.has_builder() else None
        if env is not None and env.get("GAMEVM_NAME"):
            names.add(env.subst("$GAMEVM_NAME"))
    return names


def _config_module_pairs(sources, names) -> list:
    """``(config module name, path)`` for module sources (GameVMBudget, GameVMDisc).

    A source is matched by the name in its metadata, else by its file stem;
    duplicates are kept (GameVMDisc rejects two different files for one name).
    """
    with _IMPORT_LOCK:
        from gamevm_build.link.module import read_module

    pairs = []
    for node in sources:
        path = str(node)
        try:
            name = read_module(path).name
        except GameVMError:
            name = None
        if name not in names:
            name = SCons.Util.splitext(node.name)[0]
        if name not in names:
            raise SCons.Errors.UserError(
                f"gamevm: {path}: module '{name}' is not in the config's modules "
                f"({', '.join(sorted(names))})")
        pairs.append((name, path))
    return pairs


def gamevm_disc(target, source, env):
    """Lay out the project ``source[0]`` with the module sources; write ``target``."""
    with _IMPORT_LOCK:
        from gamevm_build.layout.disc import build_disc, module_files
        from gamevm_build.project.config import load_config

    image = target[0]
    outputs = getattr(image.attributes, "gamevm_disc", {})
    resident = getattr(image.attributes, "gamevm_resident", None)
    limit = env.subst("$GAMEVM_DISC_TIME_LIMIT")
    seed = env.subst("$GAMEVM_DISC_SEED")
    if limit:
        import argparse

        from gamevm_build.commands.layout import time_limit_seconds
        try:
            limit = time_limit_seconds(limit)
        except argparse.ArgumentTypeError as exc:
            raise SCons.Errors.UserError(f"gamevm: GAMEVM_DISC_TIME_LIMIT: {exc}") from None
    signed, key = getattr(image.attributes, "gamevm_signed", (None, None))
    try:
        if key is not None:         # a bad key fails before anything is written
            with _IMPORT_LOCK:
                from gamevm_build.link.signing import load_private_key
            try:
                load_private_key(str(key))
            except GameVMError as exc:
                raise type(exc)(f"GAMEVM_SIGN_KEY: {exc}") from None
        names = set(load_config(str(source[0])).modules)
        result = build_disc(
            str(source[0]), str(image),
            module_files=module_files(_config_module_pairs(source[1:], names)) or None,
            resident_file=str(resident) if resident is not None else None,
            tool=env.subst("$GAMEVM_DISC_TOOL") or None,
            time_limit=limit if limit else None, seed=int(seed or 0),
            **{kind: str(node) for kind, node in outputs.items()})
        if key is not None:
            with _IMPORT_LOCK:
                from gamevm_build.link.signing import sign_manifest
            sign_manifest([str(outputs["manifest"])], str(key), str(signed))
    except GameVMError as exc:
        raise SCons.Errors.UserError(str(exc)) from None
    except ValueError as exc:
        raise SCons.Errors.UserError(f"gamevm: GAMEVM_DISC_TIME_LIMIT / GAMEVM_DISC_SEED: "
                                     f"{exc}") from None
    if not env.GetOption("silent"):
        sys.stdout.write(f"gamevm: {result.summary_line()}\n")
    note = result.over_limit()
    if note:                    # even with -s: the limit GAMEVM_DISC_TIME_LIMIT asked for
        sys.stdout.write(f"gamevm: {image}: note: {note}\n")
    return 0


_disc_action = SCons.Action.Action(gamevm_disc, "$GAMEVMDISCCOMSTR", varlist=DISC_VARLIST)


# ------------------------------------------------------------- trust table (GameVMSign)
#
# env.GameVMSign('trust.c', modules, GAMEVM_SIGN_KEY=key) signs the modules' manifest
# (GAMEVM_SIGNED, default <stem>.gvmsig) and writes the console's trust table of them:
# a C source (or bytes, for any other suffix) that a resident links to check every module
# it loads (GameVMTrust; docs/signing.md).  The resident that links it is built after the
# modules; the modules bind to it by name, so it does not change them.

def _sign_emitter(target, source, env):
    key = env.subst("$GAMEVM_SIGN_KEY")
    if not key:
        raise SCons.Errors.UserError("gamevm: GameVMSign needs GAMEVM_SIGN_KEY, an Ed25519 "
                                     "private key (make one with gamevm sign --new-key KEY.pem)")
    if not source:
        raise SCons.Errors.UserError("gamevm: GameVMSign needs the modules to sign")
    table = target[0]
    signed = _disc_file(env, table, env.subst("$GAMEVM_SIGNED", target=[table]))
    key = env.File(key)
    table.attributes.gamevm_signed = (signed, key)
    if key.has_builder() or os.path.exists(key.abspath):
        env.Depends(table, key)
    _regular(source, "a module GameVMSign signs")
    return [table, signed], source


def gamevm_sign(target, source, env):
    table = target[0]
    signed, key = table.attributes.gamevm_signed
    with _IMPORT_LOCK:
        from gamevm_build.link.signing import sign_manifest
    try:
        if not os.path.exists(key.abspath):
            raise GameVMError(f"GAMEVM_SIGN_KEY: {key}: private key not found (create a key "
                              "pair with `gamevm sign --new-key KEY.pem`)")
        sign_manifest([str(s) for s in source], str(key), str(signed), table=str(table),
                      target=_target_name(env))
    except GameVMError as exc:
        raise SCons.Errors.UserError(str(exc)) from None
    return 0


_sign_action = SCons.Action.Action(gamevm_sign, "$GAMEVMSIGNCOMSTR",
                                   varlist=["GAMEVM_SIGN_KEY", "GAMEVM_VERSION"])


# --------------------------------------------------------------------------- tool API

def generate(env):
    """Add the GameVM builders and the cross toolchain of ``$GAMEVM_TARGET`` to ``env``."""
    env.SetDefault(
        GAMEVM_TARGET="psx",
        GAMEVM_VERSION=gamevm_build.__version__,
        GAMEVM_PREFIX=_prefix,
        GAMEVM_CC="${GAMEVM_PREFIX}gcc",
        GAMEVM_AR="${GAMEVM_PREFIX}ar",
        GAMEVM_RANLIB="${GAMEVM_PREFIX}ranlib",
        GAMEVM_CFLAGS=_cflags,
        GAMEVM_ASFLAGS=_asflags,
        GAMEVM_ASPPFLAGS="$GAMEVM_CFLAGS",
        GAMEVM_OPTFLAGS="-O2",
        GAMEVM_NEEDS=[],
        GAMEVM_NAME=None,
        GAMEVM_RESIDENT=None,
        GAMEVM_MODULES=[],
        GAMEVM_BASE=None,
        GAMEVM_STRICT=False,
        GAMEVM_RUNTIME="host",
        GAMEVM_RUNTIME_ISA=None,
        GAMEVM_ENTRY=None,
        GAMEVM_MAP=False,
        GAMEVM_FORM="plain",
        GAMEVM_EMISSION="stc",
        GAMEVM_DEBUG=False,
        GAMEVM_DEBUGFLAGS=["-g"],
        _GAMEVM_DEBUGFLAGS=_debugflags,
        GAMEVMMODULESUFFIX=".elf",
        GAMEVMRESIDENTSUFFIX=".elf",
        GAMEVMMAPSUFFIX=".map",
        _GAMEVM_MODULE_SIG=" ".join(f"{v}=${{{v}}}" for v in MODULE_VARLIST),
    )
    # Fail early, with the Debian package to install, rather than at the
    # first compile.
    try:
        find_toolchain(_target_name(env))
    except GameVMError as exc:
        raise SCons.Errors.UserError(f"gamevm: {exc}") from None

    # The cross tools.  Values passed to Environment(...) are restored by SCons
    # after the tools ran, so CC='...' there still wins; or set GAMEVM_CC.
    env["CC"] = "$GAMEVM_CC"
    env["AS"] = "$GAMEVM_CC"      # the profile's asflags are gcc-driver flags
    env["AR"] = "$GAMEVM_AR"
    env["RANLIB"] = "$GAMEVM_RANLIB"
    env["CCCOM"] = "$CC -o $TARGET -c $GAMEVM_CFLAGS $GAMEVM_OPTFLAGS $_GAMEVM_DEBUGFLAGS " \
                   "$CFLAGS $CCFLAGS $_CCCOMCOM $SOURCES"
    env["ASCOM"] = "$AS $GAMEVM_ASFLAGS $_GAMEVM_DEBUGFLAGS $ASFLAGS -c -o $TARGET $SOURCES"
    env["ASPPCOM"] = "$CC $GAMEVM_ASPPFLAGS $_GAMEVM_DEBUGFLAGS $ASPPFLAGS $_CPPDEFFLAGS " \
                     "$_CPPINCFLAGS -c -o $TARGET $SOURCES"
    if "SPAWN" in env and not getattr(env["SPAWN"], "gamevm", False):
        env["SPAWN"] = _spawn(env["SPAWN"], env.get("PSPAWN"))
        env["SPAWN"].gamevm = True

    env["BUILDERS"]["GameVMLinkModule"] = SCons.Builder.Builder(
        action=_module_action,
        suffix="$GAMEVMMODULESUFFIX",
        src_suffix="$OBJSUFFIX",
        src_builder="Object",
        emitter=_module_emitter,
    )
    env["BUILDERS"]["GameVMLinkResident"] = SCons.Builder.Builder(
        action=_resident_action,
        suffix="$GAMEVMRESIDENTSUFFIX",
        src_suffix="$OBJSUFFIX",
        src_builder="Object",
        emitter=_resident_emitter,
    )
    # GameVMThread: the stack language to STC/DTC/ITC/TTC assembly (docs/formats.md)
    env.SetDefault(GAMEVM_THREAD_INTERPRETER=str(Path(gamevm_build.__file__).parent
                                                 / "runtime" / "gvm_thread.c"),
                   GAMEVM_TOKEN_WIDTH="")
    env["BUILDERS"]["GameVMThread"] = SCons.Builder.Builder(
        action=_thread_action, suffix=".s", src_suffix=".gvm")
    env.AddMethod(GameVMModule)
    env.AddMethod(GameVMResident)
    # GameVMBudget: load-time budgets, memory fit, overlay safety (section "budgets")
    env.SetDefault(GAMEVM_REPORT="text", GAMEVMBUDGETSUFFIX=_budget_suffix)
    env["BUILDERS"]["GameVMBudget"] = SCons.Builder.Builder(
        action=_budget_action, suffix="$GAMEVMBUDGETSUFFIX", src_suffix=".json",
        emitter=_budget_emitter)
    # GameVMValidate: self tests and declared calls on the emulator (section "validation");
    # gamevm.h on CPPPATH (CPPPATH=... passed to Environment() replaces this: add
    # '$GAMEVM_INCLUDE' there, or Append(CPPPATH=...) afterwards)
    env.SetDefault(GAMEVM_INCLUDE=GAMEVM_INCLUDE, GAMEVM_TESTS=[], GAMEVM_KEEP=[],
                   GAMEVM_MAX_INSTRUCTIONS=None, GAMEVMVALIDATESUFFIX=".xml",
                   GAMEVM_SCENARIOS=[], GAMEVM_CONFIG=None)
    env.AppendUnique(CPPPATH=["$GAMEVM_INCLUDE"])
    env["BUILDERS"]["GameVMValidate"] = SCons.Builder.Builder(
        action=_validate_action, suffix="$GAMEVMVALIDATESUFFIX", emitter=_validate_emitter)
    # GameVMDisc: seek-ordered disc image, manifest, header, report (section "disc layout")
    env.SetDefault(GAMEVM_DISC_MANIFEST="", GAMEVM_DISC_REPORT="${TARGET.filebase}.html",
                   GAMEVM_DISC_HEADER="${TARGET.filebase}.h",
                   GAMEVM_DISC_MKPSXISO="${TARGET.filebase}.xml",
                   GAMEVM_DISC_TOOL="", GAMEVM_DISC_TIME_LIMIT="", GAMEVM_DISC_SEED=0,
                   GAMEVM_LAYOUT=None, GAMEVM_SIGN_KEY="",
                   GAMEVM_DISC_SIGNED="${TARGET.filebase}.gvmsig")
    env["BUILDERS"]["GameVMDisc"] = SCons.Builder.Builder(
        action=_disc_action, src_suffix=".json", emitter=_disc_emitter)
    # GameVMSign: the console's trust table of signed modules (section "trust table")
    env.SetDefault(GAMEVM_SIGNED="${TARGET.filebase}.gvmsig")
    env["BUILDERS"]["GameVMSign"] = SCons.Builder.Builder(
        action=_sign_action, suffix=".c", emitter=_sign_emitter)


def exists(env):
    """True when the cross toolchain of ``$GAMEVM_TARGET`` (default ``psx``) is installed."""
    try:
        find_toolchain(env.subst("$GAMEVM_TARGET") or "psx")
    except GameVMError:
        return False
    return True
