"""The stack's own limit: the same ASGI server and framework livelens runs on, doing no work.

uvicorn (same version and settings as ``livelens serve``: h11, lifespan on,
log level warning) serving one Starlette catch-all route, as livelens does,
that reads the request body and answers the bytes in ``BODY_FILE`` from memory
with the same headers livelens sends. Usage: ``baseline_app.py BODY_FILE HEADERS_JSON``.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = Path(sys.argv[1]).read_bytes()
HEADERS = json.loads(sys.argv[2])


async def answer(request: Request) -> Response:
    await request.body()
    return Response(BODY, 200, media_type="application/json", headers=HEADERS)


app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"])])

if __name__ == "__main__":
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.set_inheritable(True)
    print(f"baseline listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")).run(sockets=[sock])
