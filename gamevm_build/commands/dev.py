"""``gamevm dev``: run the game on the emulated console and hot-reload its modules.

::

    gamevm dev -c examples/dev/gamevm.json --frames 600
    gamevm dev --reload                     # from another shell: same as gamevm reload

While it runs, commands typed on stdin (a terminal or a pipe; ``--no-prompt`` turns
that off) look into the game between two frames: ``call EXPR``, ``modules``, ``funcs
MODULE``, ``read SYMBOL|ADDR [N]``, ``where ADDR``, ``help``, ``quit``
(:mod:`gamevm_build.dev.prompt`); ``gamevm reload --eval CMD`` sends one over the socket.

The session (:mod:`gamevm_build.dev.session`, docs/dev.md) builds the modules and the
resident from the dev manifest (``dev.json`` beside the configuration), boots the
resident with the host's reference loader, loads the scene's modules and runs a frame
loop on the simulated clock.  A saved source is recompiled, its module relinked and
swapped at the next frame boundary.

Exit status: 0 the session ran (until --frames, a stop request or Ctrl-C); 1 the first
build failed; 2 usage or configuration errors (bad manifest, a session already on the
socket).
"""

from __future__ import annotations

SOCKET_DEFAULT = "build/dev/session.sock"      # gamevm_build.dev.protocol.DEFAULT_SOCKET
POLICIES = ("abort", "keep", "reset")          # gamevm_build.dev.swap.POLICIES


def run(args) -> int:
    from ..errors import ConfigError

    if args.reload:
        from .reload import ask
        return ask(args.socket, {"op": "reload"}, args.timeout)
    if not args.config:
        raise ConfigError("gamevm dev: give the project configuration (-c gamevm.json), or "
                          "--reload to ask a running session")
    if args.frames is not None and args.frames < 0:
        raise ConfigError(f"--frames {args.frames}: give a number of frames >= 0")
    from ..dev.session import DevSession, catch_signals, restore_signals
    session = DevSession(args.config, target=args.target, manifest=args.manifest,
                         scene=args.scene, workdir=args.workdir, policy=args.on_layout_change,
                         socket_path=args.socket, watch=not args.no_watch, speed=args.speed,
                         every=args.every, shows=args.show, prompt=not args.no_prompt,
                         loader=args.loader)
    caught = catch_signals()           # Ctrl-C during the first build ends it too
    try:
        session.start()
    except KeyboardInterrupt:
        session.close()
        print("session ended (interrupted while starting)", flush=True)
        return 130
    except BaseException:
        session.close()
        raise
    finally:
        restore_signals(caught)
    return session.run(args.frames)


def register(sub, cli) -> None:
    p = sub.add_parser(
        "dev", help="run the game on the emulated console, hot-reloading edited modules",
        description="Build the game's modules and resident from the dev manifest (dev.json "
                    "beside the configuration), boot the resident on the emulated console "
                    "(with its console-side runtime when it has one, else the host's loader), load the scene's modules and run a frame loop on the "
                    "simulated clock: each frame calls the modules' gamevm_frame(frame). A "
                    "saved source is recompiled, only its module relinked, and the module "
                    "swapped at the next frame boundary with its state kept (docs/dev.md). "
                    "'gamevm reload' asks a running session over its socket. Commands typed "
                    "on stdin look into the running game (call EXPR, modules, funcs MODULE, "
                    "read SYMBOL|ADDR [N], where ADDR, help, quit). Exit status: 0 "
                    "the session ran, 1 the first build failed, 2 usage or configuration "
                    "error.")
    p.add_argument("-c", "--config", metavar="FILE", help="project configuration (gamevm.json)")
    p.add_argument("-t", "--target", type=cli.target_type,
                   help=f"console (must be the configuration's): {cli.targets_help()}")
    p.add_argument("--loader", choices=("target", "host"),
                   help="who loads and reloads modules: the resident's console-side runtime "
                        "(default when the resident has it: the dev manifest's resident "
                        "\"runtime\": \"target\") or the host's reference loader")
    p.add_argument("--manifest", metavar="FILE",
                   help="dev manifest: each module's sources (default: dev.json beside the "
                        "configuration)")
    p.add_argument("--scene", metavar="NAME", help="scene to run (default: the configuration's "
                                                   "start)")
    p.add_argument("--frames", type=cli.parse_int, metavar="N",
                   help="end the session after N frames (default: run until Ctrl-C or "
                        "gamevm reload --stop)")
    p.add_argument("--on-layout-change", choices=POLICIES, default="abort",
                   help="a data symbol changed size: abort the reload and keep the old code "
                        "(default), keep its first bytes, or reset it")
    p.add_argument("--socket", metavar="PATH", default=None,
                   help=f"Unix socket for gamevm reload (default {SOCKET_DEFAULT})")
    p.add_argument("--workdir", metavar="DIR",
                   help="where the session builds (default build/dev/TARGET)")
    p.add_argument("--no-watch", action="store_true",
                   help="do not watch the sources: reload only when gamevm reload asks")
    p.add_argument("--speed", type=float, default=1.0, metavar="X",
                   help="frames paced at X times the configuration's frame rate (default 1; 0: "
                        "as fast as the host runs)")
    p.add_argument("--every", type=cli.parse_int, metavar="K",
                   help="print a frame line every K frames (default: once a second of game "
                        "time), and whenever a frame's results change or a reload ran")
    p.add_argument("--show", action="append", default=[], metavar="EXPR",
                   help="call EXPR (gamevm call syntax, e.g. 'hud:hud_ticks()') on each frame "
                        "line and print its value (repeatable)")
    p.add_argument("--no-prompt", action="store_true",
                   help="do not read commands (call, modules, funcs, read, where, help, quit) "
                        "from stdin; gamevm reload --eval still runs them")
    p.add_argument("--reload", action="store_true",
                   help="do not start a session: ask the one on --socket to reload what "
                        "changed (as gamevm reload)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="with --reload: seconds to wait for the session's answer (default 60)")
    p.set_defaults(func=run)
