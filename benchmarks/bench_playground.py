"""Is the playground fast enough to feel live? Four course networks side by side, over the wire.

    python benchmarks/bench_playground.py [--seconds 10] [--steps 10]

The goal (issue 12): with 4 side-by-side course networks ([2, 10, 5, 1] ReLU on the course's
circles; starts zeros, randn * 10, He and Glorot), at least 30 updates a second, each carrying
at least 10 training steps, the decision-boundary grids (64 x 64) and every unit's thumbnail
(16 x 16).

1. Over the wire: ``initlab playground --no-browser --port 0`` in its own process, as a user runs
   it, and a WebSocket client here playing as the page does (one frame in flight, an ack after
   each; a browser is another process too). Measured: updates a second, the server's time per
   update (``server_ms``: training, the frame's pictures and diagnoses, as the frames report
   it) and the message size.
2. In-process, the same update split into its parts, in the same run: the engine's training
   steps, the frame (pictures, forward/backward, ``initlab.diagnose`` per panel), JSON. The
   ratios say where the time goes.
3. The page itself, when Playwright and Debian's chromium are installed: headless chromium
   playing the same four panels; frames drawn a second and the page's time to decode and draw
   one (``data-render-ms``, a running mean the page keeps).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

from websockets.sync.client import connect

import initlab
from initlab.playground.runs import Session
from initlab.playground.state import PRESETS

VALUES = ["zeros", "normal(std=10)", "he_normal", "glorot_uniform"]


def state(steps: int) -> dict:
    return {**PRESETS["course"]["state"], "values": VALUES, "steps": steps}


@contextmanager
def served():
    """The playground as a user starts it; yields its URL, stops it with Ctrl-C (SIGINT)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "initlab.cli", "playground", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield proc.stdout.readline().split()[2]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


def over_the_wire(seconds: float, steps: int) -> dict:
    with served() as http:
        url = http.replace("http://", "ws://") + "ws"
        with connect(url, origin=http.rstrip("/"), max_size=2**24, open_timeout=30) as ws:
            ws.send(json.dumps({"type": "configure", "state": state(steps)}))
            while json.loads(ws.recv())["type"] != "frame":
                pass
            ws.send(json.dumps({"type": "play"}))
            frames, sizes, server_ms, its = 0, [], [], []
            start = None
            last_t = 0
            while True:
                text = ws.recv(timeout=30)
                msg = json.loads(text)
                if msg["type"] != "frame":
                    continue
                ws.send('{"type": "ack"}')
                if start is None:  # the first frame after play starts the clock
                    start, last_t = time.perf_counter(), msg["t"]
                    continue
                frames += 1
                sizes.append(len(text.encode()))
                server_ms.append(msg["server_ms"])
                its.append(msg["t"] - last_t)
                last_t = msg["t"]
                elapsed = time.perf_counter() - start
                if elapsed >= seconds:
                    break
            ws.send(json.dumps({"type": "pause"}))
    return {
        "updates_per_s": frames / elapsed,
        "iterations_per_update": min(its),
        "server_ms_median": statistics.median(server_ms),
        "server_ms_p90": sorted(server_ms)[int(0.9 * len(server_ms))],
        "bytes_median": statistics.median(sizes),
        "frames": frames,
    }


def in_browser(seconds: float, steps: int) -> dict | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.path.exists("/usr/bin/chromium"):
        return None
    from urllib.parse import urlencode

    query = urlencode([("steps", steps), *(("v", v) for v in VALUES)])
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    with served() as http, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{http}?{query}")
        page.wait_for_selector(".panel [data-role=summary]:not(:empty)", timeout=30_000)
        first = int(page.get_attribute("body", "data-frames") or 0)
        page.click("#play")
        start = time.perf_counter()
        time.sleep(seconds)
        frames = int(page.get_attribute("body", "data-frames")) - first
        elapsed = time.perf_counter() - start
        render = float(page.get_attribute("body", "data-render-ms"))
        page.click("#play")
        browser.close()
    return {"frames_per_s": frames / elapsed, "render_ms": render}


def in_process(repeats: int, steps: int) -> dict:
    s = Session(state(steps))
    s.advance(steps)
    json.dumps(s.frame())  # warm up
    parts = {"train": [], "frame": [], "json": []}
    for _ in range(repeats):
        a = time.perf_counter()
        s.advance(steps)
        b = time.perf_counter()
        f = s.frame()
        c = time.perf_counter()
        json.dumps(f, allow_nan=False, separators=(",", ":"))
        d = time.perf_counter()
        parts["train"].append(b - a)
        parts["frame"].append(c - b)
        parts["json"].append(d - c)
    return {k: 1e3 * statistics.median(v) for k, v in parts.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=200)
    args = p.parse_args()
    print(
        f"initlab {initlab.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    )
    w = over_the_wire(args.seconds, args.steps)
    print(
        f"over the wire ({w['frames']} frames): {w['updates_per_s']:.1f} updates/s, "
        f"{w['iterations_per_update']} iterations each; server {w['server_ms_median']:.1f} ms "
        f"per update (p90 {w['server_ms_p90']:.1f}); message {w['bytes_median'] / 1024:.1f} KiB"
    )
    goal = w["updates_per_s"] >= 30 and w["iterations_per_update"] >= 10
    print(f"goal (>= 30 updates/s of >= 10 steps, 4 panels): {'met' if goal else 'NOT met'}")
    parts = in_process(args.repeats, args.steps)
    total = sum(parts.values())
    print(
        "in-process per update: "
        + ", ".join(f"{k} {v:.2f} ms ({v / total:.0%})" for k, v in parts.items())
        + f"; frame / train = {parts['frame'] / parts['train']:.1f}"
    )
    page = in_browser(args.seconds, args.steps)
    if page is None:
        print("the page: skipped (needs playwright and /usr/bin/chromium)")
    else:
        print(
            f"the page (headless chromium, 1440x900): {page['frames_per_s']:.1f} frames/s drawn, "
            f"{page['render_ms']:.1f} ms to decode and draw one"
        )


if __name__ == "__main__":
    main()
