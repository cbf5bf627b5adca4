"""Real-browser benchmark of the attention explorer: hover and layer-switch latency in
Chromium + JupyterLab 4 with stock server settings, and the bytes it takes to open the explorer.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/browser.py [--hovers 300] [--switches 40]

Model: ViT-B/16 at 224 px with random weights (``torch.manual_seed(0)``), all 12 heads shown,
inside ``vw.explore`` (explorer + layer metrics + head annotator, as a person sees it) on the four
sample images. Every timing is taken inside the page with ``performance.now()``:

* hover: a ``mousemove`` dispatched on the focus canvas over a different patch each time (after a
  random 0-16 ms pause, so events land anywhere in a frame). "repaint done" = when the handler
  returns (the widget repaints all 12 small maps and the large view synchronously and bumps
  ``data-paint-count``, TESTING.md); "next frame" = the next ``requestAnimationFrame`` callback
  after it (when the browser can show it). ``data-last-paint-ms`` (the widget's own paint time)
  is reported too.
* layer switch: ``keydown`` ArrowRight/ArrowLeft on the focused explorer root, waiting 0.6 s
  between presses so the background prefetch of the neighbouring layers finishes ("prefetched");
  and jumps of several layers with the layer slider to layers not in the browser's cache
  ("not prefetched": the kernel is asked, round trip through the stock websocket included).
  Each switch is classified by the widget itself: ``data-loading`` turns "true" synchronously
  when it has to ask the kernel. Done = ``data-layer`` is the new layer, ``data-ready`` "true" and
  ``data-paint-count`` moved (a MutationObserver on the root, no polling); plus the next frame.
* payload: bytes received by the page on the kernel websocket from executing a cell holding only
  ``vw.AttentionExplorer(m, image)`` until its first paint, and until the prefetch of the
  neighbouring layer is in; compared with the bertviz-style JSON of all heads
  (``json.dumps`` of the ``[L, H, N, N]`` attention as nested lists, as bertviz's head view ships).

Not a test: it prints figures (and writes ``artifacts/bench-browser.json``). Goals:
hover p95 <= 16 ms, layer switch p95 <= 120 ms, payload < 1/80 of the bertviz JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from _common import cpu_name  # noqa: E402
from lab_helpers import ARTIFACTS, Lab, lab_and_browser  # noqa: E402

SETUP = """
import json, os, time
import torch
torch.manual_seed(0)
import vitwidgets as vw
t = time.perf_counter()
m = vw.load_model("vit_base_patch16_224", pretrained=False)
images = [vw.data.sample_image(n) for n in vw.data.sample_names()]
print("model", m, "loaded in", round(time.perf_counter() - t, 1), "s")
"""
EXPLORER = """
ex = vw.AttentionExplorer(m, images[0])
ex
"""
# Python-side sizes: the widget state the kernel sends on open, the first layer's reply, and the
# bertviz-style JSON of all heads (one layer at a time, summed, to bound memory).
SIZES = """
from ipywidgets.widgets.widget import _remove_buffers
state, _, bufs = _remove_buffers(ex.get_state())
reply, reply_bufs = ex.layer_data(0, 0)
s = ex.session
attn = torch.stack([s.layer_attention(0, b) for b in range(s.num_layers)])  # [L, H, N, N]
L = attn.shape[0]
bertviz = sum(len(json.dumps(attn[l].tolist())) for l in range(L)) + 2 * (L - 1) + 2
tokens = ["[CLS]"] + [f"p{i}" for i in range(attn.shape[-1] - 1)]
bertviz += len(json.dumps({"all": {"attn": [], "left_text": tokens, "right_text": tokens}}))
print("SIZES " + json.dumps({
    "state_json": len(json.dumps(state)), "state_buffers": sum(len(b) for b in bufs),
    "layer_reply_json": len(json.dumps(reply)),
    "layer_reply_buffers": sum(len(b) for b in reply_bufs),
    "bertviz_json": bertviz, "attention_shape": list(attn.shape)}))
"""
DASHBOARD = """
dashboard = vw.explore(m, images, annotations="bench.heads.json")
dashboard
"""

# Count bytes of every websocket message the page receives, with its time.
WS_COUNTER_JS = r"""
(() => {
  window.__vwWs = [];
  const Orig = window.WebSocket;
  class Counting extends Orig {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => {
        const d = ev.data;
        const n = typeof d === 'string' ? new TextEncoder().encode(d).length
          : (d.byteLength ?? d.size ?? 0);
        window.__vwWs.push([performance.now(), n]);
      });
    }
  }
  window.WebSocket = Counting;
})();
"""

# Runs the cell at `index` and records when the first explorer paints.
RUN_CELL_JS = r"""async (index) => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  panel.content.activeCellIndex = index;
  window.__vwReadyAt = null;
  const obs = new MutationObserver(() => {
    const r = document.querySelector('.vw-explorer');
    if (r && r.dataset.ready === 'true' && window.__vwReadyAt === null) {
      window.__vwReadyAt = performance.now();
    }
  });
  obs.observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-ready'] });
  const t0 = performance.now();
  await app.commands.execute('notebook:run-cell');
  return t0;
}"""

HOVER_JS = r"""async ([n, gh, gw]) => {
  const root = document.querySelector('.vw-explorer');
  const c = root.querySelector('canvas.vw-focus');
  const r = c.getBoundingClientRect();
  const cell = Math.floor(c.height / gh);
  const out = { done: [], frame: [], paint: [], missed: 0 };
  let prev = -1;
  for (let i = 0; i < n; i++) {
    await new Promise((res) => setTimeout(res, Math.random() * 16));
    let row, col;
    do { row = Math.floor(Math.random() * gh); col = Math.floor(Math.random() * gw); }
    while (row * gw + col === prev);
    prev = row * gw + col;
    const before = root.dataset.paintCount;
    const t0 = performance.now();
    c.dispatchEvent(new MouseEvent('mousemove', { bubbles: true,
      clientX: r.left + (col + 0.5) * cell, clientY: r.top + (row + 0.5) * cell }));
    const t1 = performance.now();
    if (root.dataset.paintCount === before) { out.missed += 1; continue; }
    await new Promise(requestAnimationFrame);
    const t2 = performance.now();
    out.done.push(t1 - t0); out.frame.push(t2 - t0);
    out.paint.push(Number(root.dataset.lastPaintMs));
  }
  return out;
}"""

# One layer switch: `how` is 'key' (ArrowRight/ArrowLeft towards `layer`) or 'slider'.
SWITCH_JS = r"""async ([how, layer]) => {
  const root = document.querySelector('.vw-explorer');
  const before = root.dataset.paintCount;
  const want = String(layer);
  const done = new Promise((resolve) => {
    const check = () => root.dataset.layer === want && root.dataset.ready === 'true'
      && root.dataset.paintCount !== before;
    const obs = new MutationObserver(() => {
      if (check()) { obs.disconnect(); resolve(performance.now()); }
    });
    obs.observe(root, { attributes: true });
    setTimeout(() => { obs.disconnect(); resolve(null); }, 20000);
  });
  const t0 = performance.now();
  if (how === 'key') {
    const key = layer > Number(root.dataset.layer) ? 'ArrowRight' : 'ArrowLeft';
    root.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true }));
  } else {
    const s = root.querySelector('input.vw-layer-slider');
    s.value = want;
    s.dispatchEvent(new Event('input', { bubbles: true }));
  }
  const asked = root.dataset.loading === 'true';
  const t1 = await done;
  if (t1 === null) return { error: 'timeout', state: { ...root.dataset } };
  await new Promise(requestAnimationFrame);
  return { asked, done: t1 - t0, frame: performance.now() - t0, error: root.dataset.error };
}"""


def wait_quiet(page, quiet_s: float = 1.5) -> list:
    """Wait until the page has received no websocket message for ``quiet_s``; return the
    ``[time_ms, bytes]`` of every message so far."""
    quiet_since = time.monotonic()
    seen = -1
    while time.monotonic() - quiet_since < quiet_s:
        n = page.evaluate("() => window.__vwWs.length")
        if n != seen:
            seen, quiet_since = n, time.monotonic()
        time.sleep(0.1)
    return page.evaluate("() => window.__vwWs")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (f"n={len(values):4d}  p50 {pct(values, 0.5):7.2f} ms  p95 {pct(values, 0.95):7.2f} ms"
            f"  max {max(values):7.2f} ms")


def machine() -> dict:
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "load_avg_1m_5m_15m": os.getloadavg(),
            "platform": platform.platform(), "python": platform.python_version()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hovers", type=int, default=300)
    ap.add_argument("--switches", type=int, default=40, help="prefetched keyboard switches")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of slider jumps over images")
    args = ap.parse_args()

    results: dict = {"machine": machine()}
    with lab_and_browser("vw-bench-browser-", "bench-browser-server.log") as (server, browser):
        results["machine"]["chromium"] = browser.version
        page = browser.new_page(viewport={"width": 1600, "height": 1500})
        page.set_default_timeout(180_000)
        page.add_init_script(WS_COUNTER_JS)
        bokehjs: list[int] = []  # bytes of each HTTP response of BokehJS (on the wire)
        page.on("response", lambda r: bokehjs.append(int(r.headers.get("content-length", 0)))
                if "bokeh.min.js" in r.url else None)
        loads: list = []  # page loads (each notebook is opened by navigating)
        page.on("load", lambda _page: loads.append(1))
        lab = Lab(page, server)
        t = time.perf_counter()

        # -- payload: a notebook holding only the explorer
        lab.write_notebook("payload.ipynb", [SETUP, EXPLORER, SIZES])
        lab.open_notebook("payload.ipynb", timeout_ms=180_000)
        page.evaluate(RUN_CELL_JS, 0)
        lab.wait_kernel_idle(180_000)
        lab.raise_on_error()
        print(lab.output_text(0))
        t0 = page.evaluate(RUN_CELL_JS, 1)
        page.wait_for_function("() => window.__vwReadyAt !== null", timeout=180_000)
        ws = wait_quiet(page)  # the neighbour prefetch (layer 1) is in
        ready_at = page.evaluate("() => window.__vwReadyAt")
        to_first_paint = sum(n for ts, n in ws if t0 <= ts <= ready_at)
        with_prefetch = sum(n for ts, n in ws if ts >= t0)
        page.evaluate(RUN_CELL_JS, 2)
        lab.wait_kernel_idle(300_000)
        lab.raise_on_error()
        sizes = json.loads(re.search(r"SIZES (\{.*\})", lab.output_text(2)).group(1))
        results["payload"] = {"ws_bytes_to_first_paint": to_first_paint,
                              "ws_bytes_with_prefetched_neighbour": with_prefetch,
                              "open_ms": ready_at - t0, **sizes}
        server.delete_kernels()

        # -- latency: the dashboard on the four sample images
        lab.write_notebook("bench.ipynb", [SETUP, DASHBOARD])
        lab.open_notebook("bench.ipynb", timeout_ms=180_000)
        page.evaluate(RUN_CELL_JS, 0)
        lab.wait_kernel_idle(180_000)
        t0 = page.evaluate(RUN_CELL_JS, 1)
        lab.wait_kernel_idle(600_000)
        lab.raise_on_error()
        lab.wait_explorer("d.ready === 'true'", timeout_ms=180_000)
        ws = wait_quiet(page)
        results["payload"]["dashboard_ws_bytes"] = sum(n for ts, n in ws if ts >= t0)
        results["payload"]["bokehjs_http_bytes"] = bokehjs
        results["payload"]["page_loads"] = len(loads)
        root = page.locator(".vw-explorer").first
        root.scroll_into_view_if_needed()
        heads = page.locator(".vw-explorer canvas.vw-head").count()
        grid = page.evaluate(
            "() => { const c = document.querySelector('.vw-explorer canvas.vw-focus');"
            " return [c.width, c.height]; }"
        )
        print(f"dashboard ready after {time.perf_counter() - t:.0f} s; {heads} head maps; "
              f"focus canvas {grid}")
        time.sleep(1.0)  # let the initial prefetch settle
        hover = page.evaluate(HOVER_JS, [args.hovers, 14, 14])  # ViT-B/16: 14x14 patches
        results["hover"] = hover

        switches = []
        layer, direction = int(lab.explorer_state()["layer"]), 1
        for _ in range(args.switches):
            if not 0 <= layer + direction <= 11:
                direction = -direction
            layer += direction
            time.sleep(0.6)
            r = page.evaluate(SWITCH_JS, ["key", layer])
            if r.get("error"):
                raise RuntimeError(f"layer switch failed: {r}")
            switches.append({"how": "key", **r})
        jumps = [5, 9, 2, 11, 7, 0]
        for _round in range(args.rounds):
            for image in range(4):
                page.evaluate(
                    "(i) => document.querySelector("
                    "`.vw-explorer .vw-strip img[data-image='${i}']`).click()", image)
                lab.wait_explorer(f"d.image === '{image}' && d.ready === 'true'", 60_000)
                for target in jumps:
                    if str(target) == lab.explorer_state()["layer"]:
                        continue
                    time.sleep(0.6)
                    r = page.evaluate(SWITCH_JS, ["slider", target])
                    if r.get("error"):
                        raise RuntimeError(f"layer switch failed: {r}")
                    switches.append({"how": "slider", **r})
        results["switches"] = switches

    # -- report
    m = results["machine"]
    print("\n=== vitwidgets real-browser benchmark (bench/browser.py) ===")
    print(f"machine: {m['cpu']}, {m['cores']} cores, load avg {m['load_avg_1m_5m_15m']}, "
          f"{m['platform']}, Chromium {m.get('chromium')}; JupyterLab stock server settings")
    print("model: ViT-B/16 224 px, random weights, 12 layers x 12 heads, 197 tokens")
    h = results["hover"]
    print(f"\nhover -> repaint done   {summary(h['done'])}   (goal p95 <= 16 ms)")
    print(f"hover -> next frame     {summary(h['frame'])}")
    print(f"widget's own paint time {summary(h['paint'])}   (data-last-paint-ms)")
    if h["missed"]:
        print(f"  ({h['missed']} hovers did not repaint)")
    groups = {
        "layer switch, prefetched or cached (no kernel request)":
            [s for s in switches if not s["asked"]],
        "layer switch, not prefetched (kernel round trip)":
            [s for s in switches if s["asked"]],
    }
    print()
    for name, ss in groups.items():
        print(f"{name}:")
        print(f"  -> repaint done  {summary([s['done'] for s in ss])}   (goal p95 <= 120 ms)")
        print(f"  -> next frame    {summary([s['frame'] for s in ss])}")
        hows = {how: sum(s["how"] == how for s in ss) for how in ("key", "slider")}
        print("  (" + ", ".join(f"{n} by {how}" for how, n in hows.items() if n) + ")")
    p = results["payload"]
    total = p["ws_bytes_to_first_paint"]
    print("\npayload to open the explorer on one image (bytes the page received on the kernel "
          "websocket, from running the cell):")
    print(f"  until first paint            {total:>12,d} B  ({p['open_ms']:.0f} ms)")
    print(f"  incl. prefetched neighbour   {p['ws_bytes_with_prefetched_neighbour']:>12,d} B")
    print(f"  kernel side: widget state {p['state_json']:,d} B JSON + {p['state_buffers']:,d} B "
          f"buffers; one layer reply {p['layer_reply_json']:,d} B JSON + "
          f"{p['layer_reply_buffers']:,d} B float16")
    fetched = p["bokehjs_http_bytes"]
    print(f"  the dashboard (vw.explore on 4 images: explorer, layer metrics, annotator) "
          f"{p['dashboard_ws_bytes']:,d} B on the websocket; BokehJS over HTTP: "
          f"{len(fetched)} fetch(es) of {fetched[0] if fetched else 0:,d} B in "
          f"{p['page_loads']} page load(s)")
    print(f"  bertviz-style JSON of all heads {p['attention_shape']}: {p['bertviz_json']:,d} B")
    ratio = p["bertviz_json"] / total
    print(f"  ratio bertviz / first paint = {ratio:.0f}x (goal > 80x: "
          f"{'met' if ratio > 80 else 'NOT met'}); with the prefetched neighbour "
          f"{p['bertviz_json'] / p['ws_bytes_with_prefetched_neighbour']:.0f}x")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "bench-browser.json").write_text(json.dumps(results, indent=1))
    print(f"\n(raw figures: {ARTIFACTS / 'bench-browser.json'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
