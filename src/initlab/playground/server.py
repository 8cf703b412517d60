"""The playground's server: one page, its assets, and a WebSocket that streams the runs.

:func:`create_app` is the app factory (Starlette): tests and the benchmark start it in-process
on a free port (:class:`BackgroundServer`), ``initlab playground`` runs it with :func:`serve`.
It binds 127.0.0.1 by default and, because it runs training on the user's machine, answers only
requests addressed to the host it serves (the ``Host`` header: a page on another site that
rebinds its DNS name to 127.0.0.1 sends its own name) and, where a browser says where a request
comes from (``Origin``, always sent with a WebSocket handshake), only requests from its own page.
No endpoint runs code it is sent: a state goes through :func:`initlab.playground.state.parse_state`
(initlab's spec parser and parameter checks), every other message is a fixed command.

The protocol, JSON text messages:

================================  =================================================================
from the page                     the server answers
================================  =================================================================
``{"type": "configure",           ``setup`` (data, panels) and a ``frame``; or ``error`` naming
"state": {...}}``                 the field and what is allowed (the runs are left as they were)
``play`` / ``pause``              frames while playing (one in flight: the page acks each)
``step``                          one update of ``steps`` iterations and its frame
``reset``                         ``setup`` and the start's frame: the same start, bit for bit
``{"type": "forward",             frames while training towards ``target`` (a fast-forward)
"target": N}``
``{"type": "seek", "t": N}``      the frame of the timeline's snapshot at or before N
``ack``                           (flow control: the page has drawn the last frame)
================================  =================================================================

Every message is answered; a bad one gets ``{"type": "error", ...}`` and the connection stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from .runs import Session
from .state import LIMITS, PRESETS, VARY, VARY_LABELS, StateError

__all__ = ["DEFAULT_PORT", "BackgroundServer", "create_app", "serve"]

STATIC = Path(__file__).parent / "static"
DEFAULT_PORT = 8765
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
MAX_MESSAGE = 64 * 1024  # a state is a few hundred bytes
MAX_FPS = 60  # frames a second at most while playing
# Frames sent and not yet acked by the page: two, so that the server computes the next update
# while the page draws the last one, and a slow page is never flooded.
IN_FLIGHT = 2
ACK_TIMEOUT = 2.0  # seconds to wait for the page's ack before sending the next frame anyway
FORWARD_BUDGET = 0.2  # seconds of training between two frames of a fast-forward

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


# --- Host and Origin ------------------------------------------------------------------------


def _host_names(host: str) -> set[str]:
    """The names a request to ``host`` may carry in its Host header (without the port)."""
    names = {host}
    try:
        if ipaddress.ip_address(host).is_loopback:
            names |= set(LOOPBACK_NAMES)
    except ValueError:
        if host == "localhost":
            names |= set(LOOPBACK_NAMES)
    return names


def _with_port(name: str, port: int) -> str:
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


class Guard:
    """ASGI middleware: refuse any HTTP request or WebSocket handshake whose ``Host`` is not this
    server's, or whose ``Origin`` is not its own page; add the page's security headers."""

    def __init__(self, app: Any, hosts: set[str]):
        self.app = app
        self.hosts = hosts

    def problem(self, scope: dict[str, Any]) -> str | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        port = (scope.get("server") or (None, None))[1]
        allowed = {_with_port(h, port) for h in self.hosts} if port else set(self.hosts)
        host = headers.get("host")
        if host not in allowed:
            return (
                f"the Host header must name this server ({', '.join(sorted(allowed))}); got "
                f"{host!r}"
            )
        origin = headers.get("origin")
        if origin is None:
            # Browsers send Origin with every WebSocket handshake and every cross-site request;
            # a same-page navigation (GET) may leave it out.
            if scope["type"] == "websocket":
                return "a WebSocket handshake must carry the Origin of this server's page"
            return None
        if origin not in {f"http://{h}" for h in allowed}:
            return f"requests must come from this server's own page; got Origin {origin!r}"
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        problem = self.problem(scope)
        if problem is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": problem[:120]})
                return
            body = f"initlab playground refused the request: {problem}.\n".encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-cache"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- the WebSocket session ------------------------------------------------------------------


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, allow_nan=False, separators=(",", ":"))


def _error(message: str, field: str | None = None) -> dict[str, Any]:
    return {"type": "error", "field": field, "message": message}


class _Connection:
    """One page: its session, and the loop that plays it."""

    def __init__(self, ws: WebSocket):
        self.ws = ws
        self.session: Session | None = None
        self.lock = asyncio.Lock()  # one operation on the session at a time (in a worker thread)
        self.mode: str | None = None  # "play", "forward" or None
        self.target = 0
        self.wake = asyncio.Event()
        self.acked = asyncio.Event()
        self.inflight = 0
        self.send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else _dumps(message)
        async with self.send_lock:
            await self.ws.send_text(text)

    async def run(self) -> None:
        player = asyncio.create_task(self.play())
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    await self.send(_error("Messages must be JSON text, not binary."))
                    continue
                try:
                    await self.handle(text)
                except (WebSocketDisconnect, asyncio.CancelledError):
                    raise
                except Exception as exc:  # a bug: say so, and keep serving the page
                    await self.send(
                        _error(f"Internal error in the playground: {type(exc).__name__}: {exc}")
                    )
        except WebSocketDisconnect:
            pass
        finally:
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await player

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        async with self.lock:
            return await asyncio.to_thread(fn, *args)

    def _setup_and_frame(self) -> tuple[str, str]:
        assert self.session is not None
        self.session.resend_history()
        return _dumps(self.session.setup()), self._frame_text()

    def _frame_text(self, at: int | None = None, server_ms: float | None = None) -> str:
        assert self.session is not None
        start = time.perf_counter()
        frame = self.session.frame(at)
        frame["playing"] = self.mode
        text = _dumps(frame)
        # The server's time for this update: training (server_ms), the frame and its JSON.
        ms = (server_ms or 0.0) + 1e3 * (time.perf_counter() - start)
        return f'{text[:-1]},"server_ms":{ms:.3f}}}'

    def _configure(self, state: Any) -> tuple[str, str] | None:
        """A new session from ``state``; None when only the playback settings changed."""
        if self.session is not None:
            old = self.session.config.state
            new = Session.check(state)
            if {k: v for k, v in new.state.items() if k not in ("steps", "target")} == {
                k: v for k, v in old.items() if k not in ("steps", "target")
            }:
                self.session.config = new
                return None
        session = Session(state)
        self.session = session
        return self._setup_and_frame()

    def _update(self, steps: int) -> str:
        assert self.session is not None
        start = time.perf_counter()
        self.session.advance(steps)
        return self._frame_text(server_ms=1e3 * (time.perf_counter() - start))

    def _forward(self) -> tuple[str, bool]:
        assert self.session is not None
        start = time.perf_counter()
        done = self.session.fast_forward(self.target, FORWARD_BUDGET)
        if done:
            self.mode = None
        return self._frame_text(server_ms=1e3 * (time.perf_counter() - start)), done

    async def handle(self, text: str) -> None:
        if len(text) > MAX_MESSAGE:
            await self.send(
                _error(f"A message must be at most {MAX_MESSAGE} bytes; got {len(text)}.")
            )
            return
        try:
            msg = json.loads(text)
        except ValueError:
            await self.send(_error(f"A message must be a JSON object; got {text[:80]!r}."))
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            await self.send(
                _error(f"A message must be a JSON object with a 'type'; got {text[:80]!r}.")
            )
            return
        kind = msg["type"]
        if kind == "ack":
            self.inflight = max(0, self.inflight - 1)
            self.acked.set()
            return
        if kind == "configure":
            try:
                texts = await self._in_thread(self._configure, msg.get("state"))
            except StateError as exc:
                await self.send(_error(str(exc), exc.field))
                return
            if texts is not None:
                self.mode = None
                for t in texts:
                    await self.send(t)
            else:
                await self.send({"type": "configured", "state": self.session.config.state})
            return
        if self.session is None:
            await self.send(_error(f"Send 'configure' with a state before {kind!r}."))
            return
        if kind in ("play", "pause"):
            self.mode = "play" if kind == "play" else None
            self.wake.set()
            await self.send({"type": "status", "playing": self.mode})
        elif kind == "step":
            self.mode = None
            await self.send(await self._in_thread(self._update, self.session.config.steps))
        elif kind == "reset":
            self.mode = None
            await self.send({"type": "status", "playing": None})
            for t in await self._in_thread(self._reset):
                await self.send(t)
        elif kind == "forward":
            target = msg.get("target", self.session.config.target)
            if (
                isinstance(target, bool)
                or not isinstance(target, int)
                or not (1 <= target <= self.session.limit)
            ):
                await self.send(
                    _error(
                        f"The 'target' of forward must be an int in [1, {self.session.limit}]. "
                        f"Got {target!r} instead.",
                        "target",
                    )
                )
                return
            self.target = target
            self.mode = "forward"
            self.wake.set()
            await self.send({"type": "status", "playing": self.mode})
        elif kind == "seek":
            t = msg.get("t")
            if isinstance(t, bool) or not isinstance(t, int) or t < 0:
                await self.send(
                    _error(f"The 't' of seek must be an int >= 0. Got {t!r} instead.", "t")
                )
                return
            self.mode = None
            await self.send(await self._in_thread(self._frame_text, t))
        else:
            await self.send(
                _error(
                    f"Unknown message type {kind!r}. Valid types: ack, configure, forward, pause, "
                    "play, reset, seek, step."
                )
            )

    def _reset(self) -> tuple[str, str]:
        assert self.session is not None
        self.session.reset()
        return self._setup_and_frame()

    async def play(self) -> None:
        """Send frames while playing or fast-forwarding, at most IN_FLIGHT unacked."""
        while True:
            await self.wake.wait()
            if self.mode is None or self.session is None:
                self.wake.clear()
                continue
            while self.inflight >= IN_FLIGHT:
                self.acked.clear()
                try:
                    await asyncio.wait_for(self.acked.wait(), ACK_TIMEOUT)
                except TimeoutError:
                    self.inflight -= 1  # an ack lost (or a page that never acks): go on
            if self.mode is None:
                continue
            start = time.perf_counter()
            self.inflight += 1
            if self.mode == "forward":
                text, _ = await self._in_thread(self._forward)
            else:
                text = await self._in_thread(self._update, self.session.config.steps)
                if self.session.t >= self.session.limit:
                    self.mode = None
            try:
                await self.send(text)
            except WebSocketDisconnect:
                return  # the page has gone
            await asyncio.sleep(max(0.0, 1.0 / MAX_FPS - (time.perf_counter() - start)))


async def _websocket(ws: WebSocket) -> None:
    await ws.accept()
    await _Connection(ws).run()


# --- the app --------------------------------------------------------------------------------


def _meta() -> dict[str, Any]:
    from .. import __version__
    from ..activations import list_activations
    from ..engine import SOLVERS
    from ..initializers import list_initializers
    from .state import DATASETS, MODELS

    inits = []
    for row in list_initializers():
        inits.append({"name": row["name"], "aliases": row["aliases"], "formula": row["formula"]})
    return {
        "version": __version__,
        "presets": PRESETS,
        "datasets": list(DATASETS),
        "models": list(MODELS),
        "activations": list_activations(),
        "initializers": inits,
        "solvers": list(SOLVERS),
        "vary": {k: VARY_LABELS[k] for k in VARY},
        "limits": LIMITS,
    }


def create_app(host: str = "127.0.0.1") -> Any:
    """The playground as an ASGI app answering requests addressed to ``host``.

    Parameters
    ----------
    host : str
        The address the server is bound to; a loopback address also answers to the other
        loopback names (127.0.0.1, localhost, [::1]). The port is the one the request arrived on.

    Returns
    -------
    ASGI application
    """
    meta = _meta()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def api_meta(request: Request) -> Response:
        return JSONResponse(meta)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/meta", api_meta),
            WebSocketRoute("/ws", _websocket),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        max_body_size=MAX_MESSAGE,
    )
    return Guard(app, _host_names(host))


# --- serving --------------------------------------------------------------------------------


def bind(host: str, port: int | None) -> socket.socket:
    """A listening socket on ``host``: ``port``, or DEFAULT_PORT and any free port if it is
    taken (``port=None``); port 0 is any free port.

    Raises
    ------
    ValueError
        When the port asked for is taken, or the host cannot be bound (naming them).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    candidates = [DEFAULT_PORT, 0] if port is None else [port]
    for i, p in enumerate(candidates):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, p))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE and i + 1 < len(candidates):
                continue
            if exc.errno == errno.EADDRINUSE:
                raise ValueError(
                    f"The 'port' parameter of playground must be a free port; {p} is in use "
                    "(leave --port out to pick a free one)."
                ) from None
            raise ValueError(
                f"The 'host' parameter of playground must be an address of this machine; "
                f"cannot bind {host!r}: {exc.strerror}."
            ) from None
        sock.listen(128)
        sock.set_inheritable(True)
        return sock
    raise AssertionError("unreachable")


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{_with_port(host, port) if ':' in host else f'{host}:{port}'}/"


def _config(app: Any) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        # The sans-I/O implementation of the websockets package (its legacy one is deprecated).
        ws="websockets-sansio",
        ws_max_size=4 * MAX_MESSAGE,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )


def serve(
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    open_browser: bool = True,
    announce: Any = print,
) -> None:
    """Run the playground until Ctrl-C (uvicorn shuts down gracefully, then re-raises it).

    Parameters
    ----------
    host : str
        The address to bind; loopback by default.
    port : int or None
        None: DEFAULT_PORT, or any free port when it is taken.
    open_browser : bool
        Open the page in the default browser once the server listens.
    announce : callable
        Called with the line that gives the URL.
    """
    import uvicorn

    sock = bind(host, port)
    url = url_of(sock)
    server = uvicorn.Server(_config(create_app(host)))
    announce(f"initlab playground: {url}  (Ctrl-C to stop)")
    if open_browser:

        def when_started() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                import webbrowser

                webbrowser.open(url)

        threading.Thread(target=when_started, daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


class BackgroundServer:
    """The playground in a background thread, on a free loopback port (tests, benchmarks).

    Examples
    --------
    >>> with BackgroundServer() as srv:  # doctest: +SKIP
    ...     srv.url
    'http://127.0.0.1:40123/'
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.sock = bind(host, port)
        self.url = url_of(sock=self.sock)
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(_config(create_app(host)))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the playground server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
