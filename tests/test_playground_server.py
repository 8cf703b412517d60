"""The playground's server, started in-process on a free port through its app factory, and the
command a user runs (a real subprocess, stopped with SIGINT).

It runs training on the user's machine, so it must answer only its own page: requests addressed
to another Host (DNS rebinding) or sent from another Origin are refused; bad messages get an
error, and the server keeps serving.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from initlab.cli import build_parser
from initlab.playground import server
from initlab.playground.server import BackgroundServer, bind
from initlab.playground.state import PRESETS


@pytest.fixture(scope="module")
def srv():
    with BackgroundServer() as s:
        yield s


def origin(srv):
    return srv.url.rstrip("/")


def ws(srv, **kw):
    return connect(f"ws://127.0.0.1:{srv.port}/ws", origin=origin(srv), open_timeout=10, **kw)


def get(srv, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, dict(r.getheaders()), body


def recv(c, kind=None, timeout=30):
    while True:
        msg = json.loads(c.recv(timeout=timeout))
        if kind is None or msg["type"] == kind:
            return msg


def test_loopback_is_the_default():
    # The CLI's default host, and the server's, are 127.0.0.1: reachable from this machine only.
    args = build_parser().parse_args(["playground"])
    assert args.host == "127.0.0.1" and args.port is None and not args.no_browser
    assert server.serve.__defaults__[0] == "127.0.0.1"
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_default_port_taken_picks_a_free_one():
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", server.DEFAULT_PORT))
        holder.listen(1)
    except OSError:
        pass  # someone else already holds it: the same situation
    try:
        sock = bind("127.0.0.1", None)
        assert sock.getsockname()[1] != server.DEFAULT_PORT
        sock.close()
        with pytest.raises(ValueError, match=f"{server.DEFAULT_PORT} is in use"):
            bind("127.0.0.1", server.DEFAULT_PORT)
    finally:
        holder.close()


def test_page_and_assets_are_served_with_a_strict_policy(srv):
    status, headers, body = get(srv, "/")
    assert status == 200 and b'<script type="module" src="/static/js/main.js">' in body
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    for asset in ("js/main.js", "js/panel.js", "js/draw.js", "js/util.js", "style.css"):
        status, _, body = get(srv, f"/static/{asset}")
        assert status == 200 and body
        # No asset reaches out to the network: no absolute URL to another host.
        assert b"http://" not in body and b"https://" not in body, asset
    status, _, body = get(srv, "/api/meta")
    meta = json.loads(body)
    assert status == 200 and meta["presets"]["course"]["state"]["values"] == [
        "zeros",
        "normal(std=10)",
        "he_normal",
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example:80"},  # DNS rebinding: a foreign name resolving to 127.0.0.1
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
    ],
    ids=["foreign-host", "foreign-origin", "null-origin"],
)
def test_foreign_requests_are_refused(srv, headers):
    for path in ("/", "/api/meta", "/static/js/main.js"):
        status, _, body = get(srv, path, headers)
        assert status == 403, path
        assert b"refused" in body


def test_foreign_websocket_handshakes_are_refused(srv):
    url = f"ws://127.0.0.1:{srv.port}/ws"
    with pytest.raises(InvalidStatus) as err:
        connect(url, origin="http://evil.example", open_timeout=10)
    assert err.value.response.status_code == 403
    with pytest.raises(InvalidStatus):  # a handshake without Origin is not from a browser page
        connect(url, open_timeout=10)
    with pytest.raises(InvalidStatus):
        connect(
            url,
            origin=origin(srv),
            additional_headers={"Host": "evil.example"},
            open_timeout=10,
        )


def test_same_page_from_localhost_is_accepted(srv):
    status, _, _ = get(srv, "/", {"Host": f"localhost:{srv.port}"})
    assert status == 200
    with connect(
        f"ws://localhost:{srv.port}/ws", origin=f"http://localhost:{srv.port}", open_timeout=10
    ) as c:
        c.send(json.dumps({"type": "configure", "state": PRESETS["course"]["state"]}))
        assert recv(c)["type"] == "setup"


BAD = [
    ("not json", "must be a JSON object"),
    ("[1, 2]", "with a 'type'"),
    ('{"type": 3}', "with a 'type'"),
    ('{"type": "exec", "code": "import os"}', "Unknown message type 'exec'"),
    ('{"type": "configure"}', "must be a JSON object"),
    ('{"type": "configure", "state": {"hidden": "10,99999"}}', "in [1, 32]. Got 99999 instead."),
    ('{"type": "configure", "state": {"init": "eval(1)"}}', "Got 'eval(1)' instead"),
    ('{"type": "configure", "state": {"values": ["os.system(1)"]}}', "must be a name"),
    ('{"type": "configure", "state": {"n": 1e308}}', "'n' parameter of playground"),
    ('{"type": "configure", "state": {"seed": 1' + "0" * 400 + "}}", "(401 digits)"),
    ('{"type": "forward", "target": 1e12}', "'target' of forward must be an int"),
    ('{"type": "seek", "t": "x"}', "'t' of seek must be an int"),
    ('{"type": "step"' + " " * 70000 + "}", "at most 65536 bytes"),
]


def test_bad_messages_are_answered_with_errors_and_the_server_survives(srv):
    with ws(srv) as c:
        c.send(json.dumps({"type": "step"}))
        assert "Send 'configure'" in recv(c, "error")["message"]
        c.send(b"\x00\x01")
        assert "JSON text, not binary" in recv(c, "error")["message"]
        c.send(json.dumps({"type": "configure", "state": PRESETS["course"]["state"]}))
        setup = recv(c, "setup")
        start = setup["panels"][2]["start"]
        recv(c, "frame")
        for text, message in BAD:
            c.send(text)
            reply = recv(c)
            assert reply["type"] == "error", text
            assert message in reply["message"], (text, reply["message"])
        # The refused configures left the runs as they were: a step trains the same networks.
        c.send(json.dumps({"type": "step"}))
        frame = recv(c, "frame")
        assert frame["t"] == 10
        c.send(json.dumps({"type": "reset"}))
        assert recv(c, "setup")["panels"][2]["start"] == start
    # And a new page is served as before.
    with ws(srv) as c:
        c.send(json.dumps({"type": "configure", "state": PRESETS["deep"]["state"]}))
        assert recv(c, "setup")["stacks"] >= 1


def test_play_streams_frames_and_pause_stops_them(srv):
    with ws(srv) as c:
        c.send(json.dumps({"type": "configure", "state": PRESETS["course"]["state"]}))
        recv(c, "setup")
        recv(c, "frame")
        c.send(json.dumps({"type": "play"}))
        seen = []
        while len(seen) < 5:
            msg = recv(c)
            if msg["type"] == "frame":
                seen.append(msg["t"])
                c.send(json.dumps({"type": "ack"}))
        assert seen == sorted(seen) and seen[-1] >= 50
        # Losses arrive once each: the page appends from `from`.
        c.send(json.dumps({"type": "pause"}))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                msg = json.loads(c.recv(timeout=1))
            except TimeoutError:
                break
            if msg["type"] == "frame":
                c.send(json.dumps({"type": "ack"}))
        with pytest.raises(TimeoutError):
            c.recv(timeout=0.5)


def test_cli_serves_until_sigint_and_stops_cleanly(tmp_path):
    # A user's run: a real process, the URL it prints, a page fetched from it, then Ctrl-C.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "initlab.cli", "playground", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("initlab playground: http://127.0.0.1:"), line
        url = line.split()[2]
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    assert r.status == 200
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err and "stopped" in err
    with pytest.raises(OSError):  # the port is released
        urllib.request.urlopen(url, timeout=2)


def test_cli_refuses_a_wildcard_host(capsys):
    from initlab.cli import main

    assert main(["playground", "--host", "0.0.0.0", "--no-browser"]) == 2
    assert "one address of this machine" in capsys.readouterr().err


def test_frames_name_the_runs_they_belong_to(srv):
    # A frame computed while the page reconfigures may arrive after the new setup: its serial
    # tells the page it belongs to the runs before.
    with ws(srv) as c:
        c.send(json.dumps({"type": "configure", "state": PRESETS["course"]["state"]}))
        first = recv(c, "setup")["serial"]
        c.send(json.dumps({"type": "play"}))
        recv(c, "frame")
        two = {**PRESETS["course"]["state"], "values": ["zeros", "he_normal"]}
        c.send(json.dumps({"type": "configure", "state": two}))
        while True:
            msg = recv(c)
            if msg["type"] == "setup":
                second = msg["serial"]
                break
            if msg["type"] == "frame":
                c.send(json.dumps({"type": "ack"}))
                assert msg["serial"] == first
        frame = recv(c, "frame")
        assert second != first and frame["serial"] == second
        assert len(frame["panels"]) == 2
