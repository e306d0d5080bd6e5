"""Starting the studio: a socket on loopback, the token URL, the browser, uvicorn."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path

from ..errors import StudioError
from .app import create_app
from .jobs import Previews
from .security import Guard, Secrets, allowed_hosts
from .workspace import Workspace

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """Whether an address is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``; port 0: a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise StudioError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def serve(folder: Path, *, host: str = LOOPBACK, port: int = 0, open_browser: bool = True,
          allow_remote: bool = False, say: Callable[[str], None] = print,
          warn: Callable[[str], None] = print) -> None:
    """Run the studio on ``folder`` until interrupted (Ctrl-C, SIGTERM).

    The first thing said is the address with its token. An address other than loopback is
    refused unless ``allow_remote``; then a warning is given first.
    """
    import uvicorn

    workspace = Workspace.at(folder)
    if not is_loopback(host) and not allow_remote:
        raise StudioError(f"{host} is not a loopback address: other machines could reach the "
                          "studio and the files of its workspace. Add --allow-remote to mean it.")
    sock = listen(host, port)
    port = sock.getsockname()[1]
    keys = Secrets()
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/?token={keys.token}"
    say(url)
    if not is_loopback(host):
        warn(f"warning: the studio listens on {host}, reachable from other machines; anyone "
             "with the token can read and write the files in its workspace")
    say(f"drafter studio: workspace {workspace.root} (Ctrl-C to stop)")
    with Previews() as previews:
        app = Guard(create_app(workspace, keys, previews), keys, allowed_hosts(host, port),
                    cookie=f"drafter-studio-{port}")
        config = uvicorn.Config(app, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=2, access_log=False)
        server = uvicorn.Server(config)
        if open_browser and has_browser():
            threading.Timer(0.5, _open, (url,)).start()
        server.run(sockets=[sock])


def has_browser() -> bool:
    """Whether a graphical browser can be opened: on Linux only with a display (a console
    browser would take over the terminal the address was printed in)."""
    if sys.platform.startswith(("darwin", "win")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _open(url: str) -> None:
    with contextlib.suppress(webbrowser.Error):  # no browser: the address was printed
        webbrowser.open(url)
