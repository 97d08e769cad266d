"""The ``gamevm dev`` socket: how ``gamevm reload`` talks to a running session.

A local Unix stream socket (default :data:`DEFAULT_SOCKET`, relative to the directory
the session was started in).  A client connects, sends one JSON object on one line and
reads one JSON object on one line back; then the connection closes:

- ``{"op": "reload"}``: rebuild what changed since the last build and swap it at the
  next frame boundary; ``{"op": "reload", "module": "hud"}`` relinks and swaps that
  module even when nothing changed;
- ``{"op": "status"}``: the frame, the scene, the loaded modules and old copies kept;
- ``{"op": "stop"}``: end the session after the current frame;
- ``{"op": "eval", "command": "where 0x80010504"}``: run a prompt command
  (:mod:`gamevm_build.dev.prompt`: call, modules, funcs, read, where, help, quit) at
  the next frame boundary and answer what it printed.

The answer: ``{"ok": bool, "lines": [str, ...], "frame": int, "scene": str}``; ``ok``
is false when a reload did not swap (a build error, a layout change under policy
abort, a rollback), a prompt command failed, or the request was not understood.  Both sides time out: no wait
here or in the session is unbounded.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from ..errors import ConfigError, GameVMError

DEFAULT_SOCKET = Path("build") / "dev" / "session.sock"
MAX_MESSAGE = 1 << 20


class NoSession(ConfigError):
    """Nobody listens on the socket."""


def read_message(conn: socket.socket) -> dict:
    """One JSON line from ``conn`` (raises ValueError on junk, OSError on timeouts)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_MESSAGE:
            raise ValueError(f"message longer than {MAX_MESSAGE} bytes")
    if not data.strip():
        raise ValueError("empty message")
    return json.loads(data.decode("utf-8"))


def alive(path) -> bool:
    """Whether a session accepts connections on ``path``."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def request(path, message: dict, *, timeout: float = 60.0) -> dict:
    """Send ``message`` to the session on ``path``; return its answer."""
    path = Path(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(min(timeout, 5.0))
    try:
        try:
            s.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NoSession(f"no gamevm dev session on {path}: start one (gamevm dev -c "
                            "gamevm.json) or give its --socket") from None
        except OSError as exc:
            raise NoSession(f"--socket {path}: cannot connect ({exc.strerror or exc})") from None
        s.sendall(json.dumps(message).encode() + b"\n")
        s.settimeout(timeout)
        try:
            answer = read_message(s)
        except socket.timeout:
            raise GameVMError(f"the session on {path} did not answer within {timeout:g} s "
                              "(--timeout S)") from None
        except (OSError, ValueError) as exc:
            raise GameVMError(f"the session on {path} sent no answer ({exc})") from None
    finally:
        s.close()
    if not isinstance(answer, dict):
        raise GameVMError(f"the session on {path} sent {answer!r}, not an answer")
    return answer
