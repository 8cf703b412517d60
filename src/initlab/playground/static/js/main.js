// The page: settings in the URL, a WebSocket to the server, panels that draw what it sends.
import { Panel } from "./panel.js";
import { el, f32, relayout, throttle, u8 } from "./util.js";

const $ = (id) => document.getElementById(id);
// Keys the page keeps in the URL but does not send (they change the view, not the runs).
const VIEW_KEYS = ["edges", "t", "preset"];
const LIST_KEY = "v"; // one per panel, repeated: ?v=zeros&v=he_normal

class App {
  constructor(meta) {
    this.meta = meta;
    this.state = null;
    this.view = { edges: "weight", t: null };
    this.setup = null;
    this.panels = [];
    this.playing = null;
    this.now = 0;
    this.pendingT = null;
    this.ws = null;
    this.retry = 0;
    this.fillControls();
    this.readURL();
    this.bind();
    this.connect();
  }

  // -- settings <-> URL

  readURL() {
    const q = new URLSearchParams(location.search);
    const preset = q.get("preset");
    const base = this.meta.presets[preset] ? this.meta.presets[preset] : this.meta.presets.course;
    const state = { ...base.state };
    for (const [k, v] of q.entries()) {
      if (k === LIST_KEY || VIEW_KEYS.includes(k)) continue;
      state[k] = v;
    }
    const values = q.getAll(LIST_KEY);
    if (values.length) state.values = values;
    this.state = state;
    this.view.edges = q.get("edges") === "gradient" ? "gradient" : "weight";
    const t = Number.parseInt(q.get("t") || "", 10);
    this.pendingT = Number.isFinite(t) && t > 0 ? t : null;
    this.presetName = this.meta.presets[preset] ? preset : this.matchPreset(state);
  }

  matchPreset(state) {
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    for (const [name, p] of Object.entries(this.meta.presets)) {
      const keys = Object.keys(p.state);
      if (keys.every((k) => same(String(p.state[k]), String(state[k])) || (k === "values" && same(p.state.values.map(String), (state.values || []).map(String))))) return name;
    }
    return "custom";
  }

  writeURL() {
    if (!this.state) return;
    const q = new URLSearchParams();
    const preset = this.matchPreset(this.state);
    q.set("preset", preset);
    for (const [k, v] of Object.entries(this.state)) {
      if (k === "values") continue;
      q.set(k, String(v));
    }
    for (const v of this.state.values) q.append(LIST_KEY, String(v));
    if (this.view.edges !== "weight") q.set("edges", this.view.edges);
    const t = this.shownT();
    if (t > 0) q.set("t", String(t));
    history.replaceState(null, "", `${location.pathname}?${q.toString()}`);
    $("preset").value = preset;
    this.showQuestion(preset);
  }

  shownT() {
    return this.panels.length && this.panels[0].frame ? this.panels[0].frame.t : 0;
  }

  // -- controls

  fillControls() {
    const opts = (select, items, labels) => {
      select.replaceChildren(...items.map((v) => el("option", { value: v }, labels ? labels[v] : v)));
    };
    const presetNames = Object.keys(this.meta.presets);
    $("preset").replaceChildren(
      ...presetNames.map((k) => el("option", { value: k }, this.meta.presets[k].label)),
      el("option", { value: "custom" }, "Custom (your settings)"),
    );
    opts($("dataset"), this.meta.datasets);
    opts($("model"), this.meta.models, { mlp: "network (MLP)", perceptron: "perceptron" });
    opts($("solver"), this.meta.solvers, { gd: "gradient descent", sgd: "momentum (sgd)", adam: "Adam" });
    opts($("vary"), Object.keys(this.meta.vary), this.meta.vary);
    $("activations").replaceChildren(...this.meta.activations.map((a) => el("option", { value: a })));
    $("initializers").replaceChildren(
      ...this.meta.initializers.map((i) => el("option", { value: i.name }, i.formula)),
      el("option", { value: "normal(std=10)" }, "the course's randn × 10"),
      el("option", { value: "constant(value=0.5)" }, "every weight 0.5"),
    );
    $("biases").replaceChildren(el("option", { value: "auto" }, "the scheme's own rule"), el("option", { value: "zeros" }), el("option", { value: "constant(value=0.1)" }));
  }

  showControls(state) {
    for (const node of document.querySelectorAll("#controls [data-key]")) {
      const key = node.dataset.key;
      const v = state[key];
      node.value = v === undefined || v === null ? "" : String(v);
      const varied = state.vary === key;
      node.disabled = varied;
      node.title = varied ? "set per panel: this is the setting the panels differ in" : "";
    }
    const perceptron = state.model === "perceptron";
    for (const key of ["n", "noise", "dseed"]) {
      const node = document.querySelector(`#controls [data-key=${key}]`);
      if (state.dataset === "iris2") {
        node.disabled = true;
        node.title = "iris2 is the book's 100 flowers: no sample size, noise or seed";
      }
    }
    for (const key of ["hidden", "act", "solver", "batch", "scale", "bias"]) {
      const node = document.querySelector(`#controls [data-key=${key}]`);
      if (perceptron) {
        node.disabled = true;
        node.title = "the perceptron has no hidden layers, activation, solver, batches, scale or bias rule";
      }
    }
    $("scale-slider").disabled = perceptron || state.vary === "scale";
    $("scale-slider").value = String(Math.log10(Math.max(1e-3, Number(state.scale) || 1e-3)));
    $("steps").value = String(state.steps);
    $("forward-target").textContent = String(state.target);
    $("add-panel").disabled = state.values.length >= this.meta.limits.panels[1];
    for (const r of document.querySelectorAll("input[name=edges]")) r.checked = r.value === this.view.edges;
  }

  showQuestion(name) {
    const p = this.meta.presets[name];
    $("question").textContent = p ? p.question : "Your own settings: every panel shares the data, the network and the seed.";
  }

  bind() {
    const changed = (key, value) => {
      this.state = { ...this.state, [key]: value };
      this.configure();
    };
    for (const node of document.querySelectorAll("#controls [data-key]")) {
      if (node.dataset.key === "model") continue;
      node.addEventListener("change", () => changed(node.dataset.key, node.value));
    }
    $("model").addEventListener("change", (ev) => {
      // Another model: its preset's training settings, this page's data and seed.
      const preset = this.meta.presets[ev.target.value === "perceptron" ? "perceptron-zero" : "course"];
      const keep = {};
      for (const k of ["dataset", "n", "noise", "dseed", "seed"]) keep[k] = this.state[k];
      this.state = { ...preset.state, ...keep };
      this.configure();
    });
    $("scale-slider").addEventListener("change", (ev) => {
      const v = Number((10 ** Number(ev.target.value)).toPrecision(3));
      $("scale").value = String(v);
      changed("scale", v);
    });
    $("scale-slider").addEventListener("input", (ev) => {
      $("scale").value = String(Number((10 ** Number(ev.target.value)).toPrecision(3)));
    });
    $("preset").addEventListener("change", (ev) => {
      const p = this.meta.presets[ev.target.value];
      if (!p) return;
      this.state = { ...p.state };
      this.pendingT = null;
      this.configure();
    });
    $("vary").addEventListener("change", () => {
      // Every panel starts from the shared value of the newly varied setting.
      const key = $("vary").value;
      const n = this.state.values.length;
      this.state = { ...this.state, vary: key, values: Array.from({ length: n }, () => this.state[key]) };
      this.configure();
    });
    $("add-panel").addEventListener("click", () => {
      const values = [...this.state.values];
      values.push(values[values.length - 1]);
      this.state = { ...this.state, values };
      this.configure();
    });
    $("steps").addEventListener("change", (ev) => changed("steps", ev.target.value));
    $("play").addEventListener("click", () => this.send({ type: this.playing ? "pause" : "play" }));
    $("step").addEventListener("click", () => this.send({ type: "step" }));
    $("reset").addEventListener("click", () => this.send({ type: "reset" }));
    $("forward").addEventListener("click", () => this.send({ type: "forward", target: Number(this.state.target) }));
    const seek = throttle((t) => this.send({ type: "seek", t }), 80);
    $("timeline").addEventListener("input", (ev) => {
      const t = Number(ev.target.value);
      if (this.playing) this.send({ type: "pause" });
      seek(t >= this.now ? this.now : t);
    });
    for (const r of document.querySelectorAll("input[name=edges]")) {
      r.addEventListener("change", () => {
        this.view.edges = r.value;
        for (const p of this.panels) p.redraw();
        this.writeURL();
      });
    }
    const tip = $("tooltip");
    document.addEventListener("scroll", () => (tip.hidden = true), { passive: true });
    window.addEventListener(
      "resize",
      throttle(() => {
        relayout();
        this.panels.forEach((p) => p.redraw());
      }, 200),
    );
  }

  setPanelValue(i, value) {
    const values = [...this.state.values];
    values[i] = value;
    this.state = { ...this.state, values };
    this.configure();
  }

  removePanel(i) {
    const values = this.state.values.filter((_, k) => k !== i);
    if (!values.length) return;
    this.state = { ...this.state, values };
    this.configure();
  }

  configure() {
    const state = {};
    for (const [k, v] of Object.entries(this.state)) if (!VIEW_KEYS.includes(k)) state[k] = v;
    this.send({ type: "configure", state });
  }

  tooltip(html, x, y) {
    const tip = $("tooltip");
    if (!html) {
      tip.hidden = true;
      return;
    }
    tip.innerHTML = html;
    tip.hidden = false;
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    tip.style.left = `${Math.min(window.innerWidth - w - 8, x + 14)}px`;
    tip.style.top = `${Math.min(window.innerHeight - h - 8, y + 14)}px`;
  }

  // -- the connection

  connect() {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      // After a reconnection the server starts over: train back to the iteration shown.
      if (this.pendingT === null && this.shownT() > 0) this.pendingT = this.shownT();
      this.retry = 0;
      $("status").textContent = "connected";
      this.banner(null);
      this.configure();
    });
    ws.addEventListener("message", (ev) => {
      const start = performance.now();
      this.receive(JSON.parse(ev.data));
      // How long the page takes to draw a message (the benchmark and the tests read it).
      const ms = performance.now() - start;
      this.renderMs = this.renderMs === undefined ? ms : 0.9 * this.renderMs + 0.1 * ms;
      document.body.dataset.renderMs = this.renderMs.toFixed(1);
    });
    ws.addEventListener("close", () => {
      $("status").textContent = "disconnected";
      this.banner("The connection to the playground server is lost. Is `initlab playground` still running? Retrying…");
      this.retry = Math.min(this.retry + 1, 5);
      setTimeout(() => this.connect(), 500 * this.retry);
    });
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  banner(text) {
    const b = $("banner");
    b.textContent = text || "";
    b.hidden = !text;
  }

  clearErrors() {
    for (const e of document.querySelectorAll(".err")) e.textContent = "";
    for (const e of document.querySelectorAll(".invalid")) e.classList.remove("invalid");
  }

  showError(msg) {
    this.clearErrors();
    const field = msg.field || "";
    let slot = document.querySelector(`.err[data-field="${CSS.escape(field)}"]`);
    if (!slot && field.startsWith("values")) slot = document.querySelector('.err[data-field="values"]');
    if (slot) slot.textContent = msg.message;
    const input = field.startsWith("values.")
      ? document.querySelector(`input.value[data-panel="${field.split(".")[1]}"]`)
      : document.querySelector(`#controls [data-key="${CSS.escape(field)}"]`);
    if (input) input.classList.add("invalid");
    this.banner(`Not applied: ${msg.message}`);
    this.banner(`Not applied: ${msg.message}`);
    $("banner").dataset.field = field;
  }

  receive(msg) {
    if (msg.type === "setup") this.onSetup(msg);
    else if (msg.type === "frame") this.onFrame(msg);
    else if (msg.type === "error") this.showError(msg);
    else if (msg.type === "status") this.setPlaying(msg.playing);
    else if (msg.type === "configured") {
      this.clearErrors();
      this.banner(null);
      this.state = { ...msg.state };
      this.showControls(this.state);
      this.writeURL();
    }
  }

  setPlaying(mode) {
    this.playing = mode;
    $("play").textContent = mode === "play" ? "❚❚ Pause" : "▶ Play";
    $("play").classList.toggle("primary", mode === "play");
    $("forward").classList.toggle("primary", mode === "forward");
    $("status").textContent = mode === "forward" ? "fast-forwarding…" : mode === "play" ? "playing" : "paused";
    document.body.dataset.playing = mode || "";
  }

  onSetup(msg) {
    this.clearErrors();
    this.banner(null);
    this.setup = msg;
    this.state = { ...msg.state };
    const d = msg.data;
    this.data = { X: f32(d.X), y: u8(d.y), Xt: f32(d.Xt), yt: u8(d.yt), extent: d.extent };
    const main = $("panels");
    main.style.setProperty("--cols", String(msg.panels.length));
    this.panels = msg.panels.map((info, i) => new Panel(this, i, info, msg));
    main.replaceChildren(...this.panels.map((p) => p.element));
    relayout();
    this.showControls(this.state);
    this.setPlaying(null);
    this.now = 0;
    const tl = $("timeline");
    tl.max = "0";
    tl.value = "0";
    this.writeURL();
  }

  onFrame(msg) {
    // A frame of the runs before the last reset or configure (sent while it happened): dropped.
    if (!this.setup || msg.serial !== this.setup.serial) {
      this.send({ type: "ack" });
      return;
    }
    if (msg.history) {
      msg.history.panels.forEach((entry, i) => this.panels[i] && this.panels[i].addHistory(entry, msg.history.from));
    }
    this.now = msg.now;
    msg.panels.forEach((f, i) => this.panels[i] && this.panels[i].render(f, msg.now));
    const tl = $("timeline");
    tl.max = String(msg.now);
    tl.value = String(msg.t);
    const unit = this.setup.unit;
    $("clock").textContent = msg.live ? `${unit} ${msg.t}` : `${unit} ${msg.t} of ${msg.now} (scrubbed back)`;
    $("clock").dataset.t = String(msg.t);
    $("clock").dataset.serverMs = String(Math.round(msg.server_ms * 10) / 10);
    if (msg.playing !== undefined) this.setPlaying(msg.playing);
    this.send({ type: "ack" });
    this.frames = (this.frames || 0) + 1;
    document.body.dataset.frames = String(this.frames);
    if (this.pendingT !== null) {
      const t = this.pendingT;
      this.pendingT = null;
      this.send({ type: "forward", target: t });
      return;
    }
    if (!msg.playing) this.writeURL();
  }
}

async function boot() {
  const response = await fetch("/api/meta");
  const meta = await response.json();
  window.playground = new App(meta);
}

boot();
