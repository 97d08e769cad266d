"""``gamevm reload``: ask a running ``gamevm dev`` session to reload what changed.

::

    gamevm reload                        # rebuild and swap what changed since the last build
    gamevm reload --module hud           # relink and swap hud even if nothing changed
    gamevm reload --on-layout-change keep   # swap a build whose data changed size
    gamevm reload --status               # frame, scene, loaded modules
    gamevm reload --stop                 # end the session
    gamevm reload --eval 'call hud:hud_ticks()'   # a prompt command (repeatable)

It sends one request over the session's Unix socket (gamevm_build.dev.protocol) and
prints the session's answer, line by line.  Exit status: 0 done; 1 the session could
not swap (build error, layout change under policy abort, rollback) or an --eval command
failed; 2 no session on the socket, or usage errors.
"""

from __future__ import annotations

SOCKET_DEFAULT = "build/dev/session.sock"      # gamevm_build.dev.protocol.DEFAULT_SOCKET


def ask(socket_path, message: dict, timeout: float) -> int:
    from ..dev.protocol import DEFAULT_SOCKET, request
    from ..errors import ConfigError

    if not 0 < timeout < 1e6:
        raise ConfigError(f"--timeout {timeout}: give a positive number of seconds")
    answer = request(socket_path or DEFAULT_SOCKET, message, timeout=timeout)
    for line in answer.get("lines", []):
        print(line)
    return 0 if answer.get("ok") else 1


def run(args) -> int:
    if args.eval:
        # one request per command, in order: each runs at its own frame boundary
        status = 0
        for command in args.eval:
            status = max(status, ask(args.socket, {"op": "eval", "command": command},
                                     args.timeout))
        return status
    message = {"op": "reload"}
    if args.status:
        message = {"op": "status"}
    elif args.stop:
        message = {"op": "stop"}
    else:
        if args.module:
            message["module"] = args.module
        if args.on_layout_change:
            message["policy"] = args.on_layout_change
    return ask(args.socket, message, args.timeout)


def register(sub, cli) -> None:
    p = sub.add_parser(
        "reload", help="ask a running gamevm dev session to reload what changed",
        description="Connect to the gamevm dev session on --socket and ask it to recompile "
                    "what changed since its last build, relink those modules and swap them "
                    "at its next frame boundary (or, with --eval, run a prompt command there); "
                    "print its answer. Exit status: 0 done, 1 the session could not swap "
                    "(build error, layout change, rollback) or an --eval command failed, 2 no "
                    "session or usage error.")
    p.add_argument("--socket", metavar="PATH",
                   help=f"the session's socket (default {SOCKET_DEFAULT})")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--module", metavar="NAME",
                      help="relink and swap this module even if none of its sources changed")
    what.add_argument("--status", action="store_true",
                      help="print the session's frame, scene and loaded modules instead")
    what.add_argument("--stop", action="store_true", help="end the session")
    what.add_argument("--eval", action="append", metavar="CMD",
                      help="run a prompt command in the session and print its answer: call "
                           "EXPR, modules, funcs MODULE, read SYMBOL|ADDR [N], where ADDR, "
                           "help, quit (repeatable; exit 1 when one fails)")
    p.add_argument("--on-layout-change", choices=("abort", "keep", "reset"),
                   help="for this reload, what a data symbol that changed size does (default: "
                        "the session's --on-layout-change)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="seconds to wait for the answer (default 60; a reload compiles)")
    p.set_defaults(func=run)
