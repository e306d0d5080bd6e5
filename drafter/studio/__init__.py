"""drafter studio: a local web app to draft letters, check templates, run merges and send them.

The web layer over the same public functions the CLI calls; it holds no letter logic.

    workspace  the one folder the studio reads and writes; paths never leave it
    security   host check, token then cookie, CSRF, size limits (one ASGI middleware)
    jobs       merges and sends in child processes (cancellable), previews one at a time
    app        the pages and endpoints (Starlette), server-rendered with Jinja
    server     the socket, the token URL, the browser, uvicorn
"""

from .server import serve
from .workspace import Workspace

__all__ = ["Workspace", "serve"]
