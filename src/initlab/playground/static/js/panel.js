// One panel: a run that shares the data, the network and the seed with its neighbours and differs
// in one setting. Everything it shows comes in the server's frames; this module only draws.
import {
  drawCurves,
  drawErrors,
  drawHist,
  drawNetwork,
  drawPlane,
  drawSignal,
  pick,
  probabilityImage,
  unitImage,
  WEIGHT_FULL,
  GRAD_DECADES,
} from "./draw.js";
import { el, f32, fmtAcc, fmtG, fmtLoss, i8, num, pct, u8 } from "./util.js";

const VERDICT_LABEL = {
  "non-finite": "non-finite",
  stuck: "stuck",
  symmetric: "symmetric",
  dead: "dead units",
  exploding: "exploding",
  vanishing: "vanishing",
  saturated: "saturated",
  healthy: "healthy",
};

export class Panel {
  constructor(app, index, info, setup) {
    this.app = app;
    this.index = index;
    this.info = info;
    this.setup = setup;
    this.kind = setup.model === "perceptron" ? "perceptron" : "mlp";
    this.curve = [];
    this.textbook = [];
    this.errors = [];
    this.frame = null;
    this.hits = null;
    this.build();
  }

  build() {
    const { app, index, info, setup } = this;
    const vary = setup.state.vary;
    const label = app.meta.vary[vary];
    const list = vary === "init" ? "initializers" : vary === "act" ? "activations" : null;
    this.valueInput = el("input", {
      type: list ? "text" : "number",
      list: list || undefined,
      step: list ? undefined : "any",
      value: String(info.value),
      "aria-label": `panel ${index + 1} ${label}`,
      spellcheck: "false",
      class: "value",
      "data-panel": String(index),
    });
    this.valueInput.addEventListener("change", () => app.setPanelValue(index, this.valueInput.value));
    this.verdict = el("span", { class: "verdict", "data-role": "verdict" });
    const remove = el("button", {
      type: "button",
      class: "remove",
      title: "Remove this panel",
      "aria-label": `remove panel ${index + 1}`,
      onclick: () => app.removePanel(index),
    }, "×");
    if (setup.panels.length <= 1) remove.disabled = true;
    this.error = el("div", { class: "err", "data-field": `values.${index}` });
    this.summary = el("span", { class: "summary", "data-role": "summary" });
    this.element = el(
      "section",
      { class: "panel", "data-panel": String(index), "aria-label": `panel ${index + 1}` },
      el("header", {}, el("span", { class: "name" }, `${label} =`), this.valueInput, remove),
      this.error,
      el("div", { class: "answer" }, this.verdict, this.summary),
    );
    if (this.kind === "mlp") this.buildMlp();
    else this.buildPerceptron();
  }

  figure(title, note, ...children) {
    return el("div", { class: "figure" }, el("h3", {}, title, note ? el("span", {}, note) : null), ...children);
  }

  buildMlp() {
    const { info, setup } = this;
    this.numbers = el("table", { class: "numbers" });
    this.element.append(this.numbers);
    this.net = el("canvas", { class: "net", "aria-label": "network: edges by weight or gradient, each unit's output over the input plane" });
    this.net.addEventListener("mousemove", (ev) => this.hover(ev));
    this.net.addEventListener("mouseleave", () => this.app.tooltip(null));
    this.netLegend = el("div", { class: "legend" });
    this.element.append(this.figure("Network", "hover an edge or a unit", this.net, this.netLegend));
    this.plane = el("canvas", { class: "plane", "aria-label": "decision boundary with train and test points" });
    this.element.append(
      this.figure(
        "Output over the input plane",
        null,
        this.plane,
        el(
          "div",
          { class: "legend" },
          el("span", {}, el("span", { class: "dot", style: "background:var(--pos)" }), "class 1"),
          el("span", {}, el("span", { class: "dot", style: "background:var(--neg)" }), "class 0"),
          el("span", {}, "● train ○ test; black line: p = 0.5"),
        ),
      ),
    );
    this.meters = el("table", { class: "meters" });
    this.element.append(this.figure("Symmetry, dead and saturated units", "from initlab.diagnose", this.meters));
    this.curves = el("canvas", { class: "curves", "aria-label": "loss curves" });
    this.element.append(
      this.figure(
        "Loss",
        "log scale",
        this.curves,
        el(
          "div",
          { class: "legend" },
          el("span", {}, el("span", { class: "sw", style: "border-color:#111827" }), "stable (from the logits)"),
          el("span", {}, el("span", { class: "dot", style: "background:var(--neg)" }), "textbook −y log p − (1−y) log(1−p)"),
        ),
      ),
    );
    this.hists = el("div", { class: "hists" });
    this.element.append(this.figure("Activations per layer", "over the training points", this.hists));
    this.signal = el("canvas", { class: "signal", "aria-label": "signal std per layer with the mean-field prediction" });
    this.element.append(
      this.figure(
        "Signal through the layers",
        "log scale",
        this.signal,
        el(
          "div",
          { class: "legend" },
          el("span", {}, el("span", { class: "dot", style: "background:#111827" }), "√mean z² at the start"),
          el("span", {}, el("span", { class: "sw", style: "border-color:var(--neg);border-top-style:dashed" }), "its mean-field prediction (initlab.meanfield.qmap)"),
          el("span", {}, el("span", { class: "dot", style: "background:var(--pos)" }), "per-sample std of z now (initlab.diagnose)"),
        ),
      ),
    );
    this.details = el("details", {});
    this.details.addEventListener("toggle", () => {
      if (this.details.open && this.frame) this.renderEvidence(this.frame, this.frame.diagnosis);
    });
    this.details.append(el("summary", {}, "Evidence: findings, gradients, fingerprints"));
    this.findings = el("ul", { "data-role": "findings" });
    this.grads = el("table", { class: "grads", "data-role": "gradients" });
    this.prints = el("div", { class: "mono", "data-role": "fingerprints" });
    this.details.append(el("h4", {}, "Findings"), this.findings, el("h4", {}, "Gradients"), this.grads, this.prints);
    this.element.append(this.details);
    // The inputs' own pictures: x1 grows to the right, x2 upwards.
    const res = 16;
    const xs = new Int8Array(res * res);
    const ys = new Int8Array(res * res);
    for (let r = 0; r < res; r++) {
      for (let c = 0; c < res; c++) {
        xs[r * res + c] = Math.round(((c + 0.5) / res * 2 - 1) * 127);
        ys[r * res + c] = Math.round((1 - (r + 0.5) / res * 2) * 127);
      }
    }
    this.inputImages = [xs, ys].map((v) => ({ src: unitImage(v, res), sy: 0, size: res }));
    this.sizes = info.sizes;
  }

  buildPerceptron() {
    this.numbers = el("table", { class: "numbers" });
    this.relation = el("p", { class: "relation", "data-role": "relation" });
    this.weights = el("div", { class: "mono", "data-role": "weights" });
    this.element.append(this.numbers, this.relation, this.weights);
    this.plane = el("canvas", { class: "plane", "aria-label": "decision line with the training points" });
    this.element.append(
      this.figure(
        "Prediction over the input plane",
        null,
        this.plane,
        el("div", { class: "legend" },
          el("span", {}, el("span", { class: "dot", style: "background:var(--pos)" }), "versicolor / class 1"),
          el("span", {}, el("span", { class: "dot", style: "background:var(--neg)" }), "setosa / class 0")),
      ),
    );
    this.errChart = el("canvas", { class: "errors", "aria-label": "updates per epoch" });
    const legend = el("div", { class: "legend" }, el("span", {}, el("span", { class: "dot", style: "background:#334155" }), "updates (mistakes) per epoch"));
    if (this.info.book) legend.append(el("span", {}, el("span", { class: "dot", style: "background:var(--neg)" }), "the book's"));
    this.element.append(this.figure("Updates per epoch", null, this.errChart, legend));
    this.prints = el("div", { class: "mono", "data-role": "fingerprints" });
    this.element.append(el("details", {}, el("summary", {}, "Evidence: fingerprints"), this.prints));
  }

  // -- data from the server

  addHistory(entry, from) {
    if (this.kind === "perceptron") {
      this.errors.length = from;
      this.errors.push(...(entry.errors || []));
      return;
    }
    const values = f32(entry.loss);
    this.curve.length = from;
    for (const v of values) this.curve.push(v);
    for (const p of entry.textbook || []) {
      if (!this.textbook.length || this.textbook[this.textbook.length - 1][0] < p[0]) this.textbook.push(p);
    }
  }

  render(frame, now) {
    this.frame = frame;
    this.now = now;
    if (this.kind === "mlp") this.renderMlp(frame, now);
    else this.renderPerceptron(frame, now);
  }

  setVerdict(word, cls) {
    this.verdict.textContent = word;
    this.verdict.className = `verdict v-${cls}`;
    this.verdict.dataset.verdict = cls;
  }

  renderMlp(f, now) {
    const d = f.diagnosis;
    const diverged = f.diverged_at !== null;
    if (diverged) this.setVerdict("diverged", "diverged");
    else this.setVerdict(VERDICT_LABEL[d.verdict] || d.verdict, d.verdict);
    this.summary.textContent = f.summary;
    this.summary.classList.toggle("diverged-note", diverged);
    this.renderNumbers(f);
    // Decode once per frame; redraw() draws again from these.
    const L = this.sizes.length - 1;
    const res = this.setup.thumb;
    const all = f.units ? i8(f.units) : new Int8Array(0);
    // Every unit's picture in one atlas canvas (one putImageData a frame), drawn from there.
    const n = this.sizes.slice(1, L).reduce((a, b) => a + b, 0);
    this.atlas = unitImage(all, res, this.atlas, n);
    const unitImages = [];
    let off = 0;
    for (let l = 1; l < L; l++) {
      const row = [];
      for (let i = 0; i < this.sizes[l]; i++) row.push({ src: this.atlas, sy: res * off++, size: res });
      unitImages.push(row);
    }
    const boundary = u8(f.boundary);
    this.v = {
      t: f.t,
      weights: f.weights.map(f32),
      grad_weights: f.grad_weights.map(f32),
      biases: f.biases.map(f32),
      grad_biases: f.grad_biases.map(f32),
      boundary,
      unitImages,
      outputImage: (this.outputCanvas = probabilityImage(boundary, this.setup.grid, this.outputCanvas)),
      outputTile: null,
    };
    this.dead = d.layers.slice(0, L - 1).map((r) => new Set(r.dead_units));
    this.renderMeters(d);
    this.renderHists(f.hist, L);
    if (this.details.open) this.renderEvidence(f, d);
    this.renderPrints(f);
    this.draw();
  }

  draw() {
    const f = this.frame;
    const v = this.v;
    if (!f || !v) return;
    const mode = this.app.view.edges;
    this.hits = drawNetwork(this.net, this.sizes, v, {
      mode,
      inputImages: this.inputImages,
      outputImage: { src: v.outputImage, sy: 0, size: this.setup.grid },
      unitImages: v.unitImages,
      dead: this.dead,
    });
    this.net.dataset.zeroEdges = String(this.hits.edges.filter((e) => e.g === 0).length);
    this.net.dataset.edges = String(this.hits.edges.length);
    this.netLegend.replaceChildren(
      el("span", {}, el("span", { class: "sw pos" }), mode === "gradient" ? "a step increases w" : "w > 0"),
      el("span", {}, el("span", { class: "sw neg" }), mode === "gradient" ? "a step decreases w" : "w < 0"),
      el("span", {}, el("span", { class: "sw zero" }), "gradient exactly 0"),
      el("span", {}, mode === "gradient"
        ? `width: log10 |g| from ${GRAD_DECADES[0]} to ${GRAD_DECADES[1]} (fixed)`
        : `width: |w| up to ${WEIGHT_FULL} (fixed)`),
      el("span", {}, "squares: each unit's output over the plane, −1 … +1, clipped; ╲ dead"),
    );
    drawPlane(this.plane, { boundary: v.boundary, image: v.outputImage }, this.app.data, this.setup.grid);
    drawCurves(this.curves, this.curve, this.textbook, { now: Math.max(this.now, 1), cursor: f.t, diverged: f.diverged_at });
    f.hist.forEach((h, l) => drawHist(this.histCells[l].canvas, h));
    drawSignal(this.signal, this.info.signal_start, this.info.meanfield, f.signal);
  }

  renderNumbers(f) {
    // Rows are the measures, columns now and (in the course preset) the course's published run.
    const pub = this.info.published;
    const at = pub && f.t === pub.iterations;
    const td = (text, role, value, cls) =>
      el("td", { "data-role": role, "data-value": value === undefined ? undefined : String(value), class: cls }, text);
    const verdict = (live, published) => (at ? (live === published ? "match" : "mismatch") : undefined);
    const mark = (live, published) => (at ? (live === published ? " ✓" : " ≠") : "");
    const head = [el("th", {}, ""), el("th", {}, `${this.setup.unit} ${f.t}`)];
    if (pub) head.push(el("th", { title: pub.source }, `course, after ${pub.iterations}`));
    const tb14 = pub ? this.textbook.find((p) => p[0] === 14000) : null;
    const rows = [
      ["loss (stable)", td(fmtLoss(f.loss), "loss", f.loss), pub ? td("–", "pub_loss") : null],
      [
        "textbook loss",
        td(fmtLoss(f.textbook), "textbook", f.textbook),
        pub ? td(`${fmtLoss(pub.cost_14000)} at 14000${tb14 ? ` (here ${fmtLoss(tb14[1])})` : ""}`, "pub_textbook", pub.cost_14000) : null,
      ],
      [
        "train accuracy",
        td(fmtAcc(f.train_acc), "train_acc", f.train_acc),
        pub ? td(`${fmtAcc(pub.train)}${mark(f.train_acc, pub.train)}`, "pub_train", pub.train, verdict(f.train_acc, pub.train)) : null,
      ],
      [
        "test accuracy",
        td(fmtAcc(f.test_acc), "test_acc", f.test_acc),
        pub ? td(`${fmtAcc(pub.test)}${mark(f.test_acc, pub.test)}`, "pub_test", pub.test, verdict(f.test_acc, pub.test)) : null,
      ],
    ];
    this.numbers.replaceChildren(
      el("tr", {}, ...head),
      ...rows.map(([name, ...cells]) => el("tr", {}, el("th", {}, name), ...cells.filter(Boolean))),
    );
  }

  renderMeters(d) {
    const L = d.layers.length;
    const rows = [
      el("tr", {}, el("th", {}, "layer"), el("th", { title: "distinct units, bit for bit (initlab.diagnose)" }, "width"), el("th", { title: "distinct units within 1%" }, "±1%"), el("th", {}, "dead"), el("th", {}, "saturated")),
    ];
    d.layers.forEach((r, l) => {
      const hidden = l < L - 1;
      const bar = (cls, share, text, extra = "") => el("div", { class: `bar ${cls} ${extra}` }, el("i", { style: `width:${Math.round(100 * Math.max(0, Math.min(1, share)))}%` }), el("b", {}, text));
      const width = hidden
        ? bar("width", r.width / r.units, `${r.width} of ${r.units}`, r.width < r.units ? "collapsed" : "")
        : el("span", {}, "–");
      const tol = hidden ? bar("width", r.width_tol / r.units, `${r.width_tol} of ${r.units}`, r.width_tol < r.units ? "collapsed" : "") : el("span", {}, "–");
      const dead = hidden && String(this.info.settings.act).startsWith("relu") ? bar("dead", r.dead / r.units, `${r.dead} of ${r.units}`) : el("span", { title: "only ReLU units can be dead" }, "–");
      const sat = r.saturated === null ? el("span", { title: "only sigmoid and tanh saturate" }, "–") : bar("sat", num(r.saturated), pct(r.saturated));
      const cells = [el("td", {}, hidden ? `${l + 1}` : "out"), el("td", { "data-role": "width", "data-value": hidden ? String(r.width) : undefined }, width), el("td", { "data-role": "width_tol" }, tol), el("td", { "data-role": "dead" }, dead), el("td", { "data-role": "saturated" }, sat)];
      rows.push(el("tr", { "data-layer": String(l + 1) }, ...cells));
    });
    this.meters.replaceChildren(...rows);
  }

  renderHists(hists, L) {
    if (!this.histCells || this.histCells.length !== hists.length) {
      this.histCells = hists.map((_, l) => {
        const canvas = el("canvas", {});
        const label = el("div", {});
        this.hists.append(el("div", { class: "hist-cell" }, label, canvas));
        return { canvas, label };
      });
    }
    hists.forEach((h, l) => {
      const name = l === L - 1 ? "output p" : `layer ${l + 1}`;
      const zero = h.zero > 0 ? `, ${pct(h.zero)} = 0` : "";
      this.histCells[l].label.textContent = `${name}${zero}${h.nonfinite ? `, ${h.nonfinite} non-finite` : ""}`;
    });
  }

  renderEvidence(f, d) {
    this.findings.replaceChildren(
      ...(d.findings.length
        ? d.findings.map((x) => el("li", { "data-code": x.code }, el("span", {}, x.message), x.suggestion ? el("div", { class: "suggest" }, `→ ${x.suggestion}`) : null))
        : [el("li", {}, "none")]),
    );
    const rows = [el("tr", {}, el("th", {}, "block"), el("th", {}, "‖gradient‖"), el("th", {}, "why it is zero"))];
    for (const b of d.blocks) {
      rows.push(
        el(
          "tr",
          { class: b.zero ? "zero" : "", "data-block": b.name, "data-zero": b.zero ? "1" : "0" },
          el("td", {}, b.name),
          el("td", { class: "num" }, fmtG(b.norm, 3)),
          el("td", { "data-role": "cause" }, b.zero ? b.cause : ""),
        ),
      );
    }
    this.grads.replaceChildren(...rows);
  }

  renderPrints(f) {
    this.prints.replaceChildren(
      el("div", { "data-role": "start", "data-value": this.info.start }, `start: sha256 ${this.info.start}`),
      el("div", { "data-role": "now" }, `now: sha256 ${f.fingerprint}`),
      el("div", { "data-role": "data", "data-value": this.setup.data.fingerprint }, `data: sha256 ${this.setup.data.fingerprint}`),
      el("div", { "data-role": "seed", "data-value": String(this.setup.seed) }, `seed ${this.setup.seed}; engine stack ${this.info.stack + 1} of ${this.setup.stacks} (${this.info.products} products)`),
    );
  }

  drawPerceptron() {
    drawPlane(this.plane, this.v, this.app.data, this.setup.grid);
    drawErrors(this.errChart, this.frame.errors, this.info.book ? this.info.book.errors : null);
  }

  renderPerceptron(f, now) {
    const done = f.errors.length && f.errors[f.errors.length - 1] === 0;
    this.setVerdict(f.t === 0 ? "start" : done ? "converged" : "learning", done ? "healthy" : f.t === 0 ? "start" : "saturated");
    this.summary.textContent = f.summary;
    this.relation.textContent = `Compared with panel 1: ${f.relation}.`;
    const last = f.errors.length ? f.errors[f.errors.length - 1] : null;
    const td = (text, role, value, cls) =>
      el("td", { "data-role": role, "data-value": value === undefined || value === null ? undefined : String(value), class: cls }, text);
    const book = this.info.book;
    const bookAt = book && f.t > 0 && f.t <= book.errors.length ? book.errors[f.t - 1] : null;
    this.numbers.replaceChildren(
      el("tr", {}, el("th", {}, ""), el("th", {}, `epoch ${f.t}`), book ? el("th", { title: book.source }, "the book") : null),
      el("tr", {}, el("th", {}, "updates in the epoch"), td(last === null ? "–" : String(last), "last", last), book ? td(bookAt === null ? "–" : `${bookAt}${bookAt === last ? " ✓" : " ≠"}`, "pub_last", bookAt, bookAt === null ? undefined : bookAt === last ? "match" : "mismatch") : null),
      el("tr", {}, el("th", {}, "updates in all"), td(String(f.errors.reduce((a, b) => a + b, 0)), "total")),
      el("tr", {}, el("th", {}, "train accuracy"), td(fmtAcc(f.train_acc), "train_acc", f.train_acc)),
    );
    const vec = (v) => `[${v.map((x) => fmtG(x, 6)).join(", ")}]`;
    this.weights.replaceChildren(
      el("div", {}, `[b, w] = ${vec(f.w)}`),
      el("div", { "data-role": "w_over_eta" }, `[b, w] / η = ${vec(f.w_over_eta)}`),
    );
    this.v = { boundary: u8(f.boundary), line: f.w };
    this.drawPerceptron();
    this.prints.replaceChildren(
      el("div", { "data-role": "start", "data-value": this.info.start }, `start: sha256 ${this.info.start}`),
      el("div", { "data-role": "now" }, `now: sha256 ${f.fingerprint}`),
      el("div", { "data-role": "data", "data-value": this.setup.data.fingerprint }, `data: sha256 ${this.setup.data.fingerprint}`),
      el("div", { "data-role": "seed", "data-value": String(this.setup.seed) }, `seed ${this.setup.seed}`),
      this.info.book ? el("div", {}, `book: ${this.info.book.source}, errors ${this.info.book.errors.join(" ")}`) : null,
    );
  }

  redraw() {
    if (this.kind === "mlp") this.draw();
    else if (this.frame) this.drawPerceptron();
  }

  // -- tooltips, from the frame's numbers and the diagnosis

  hover(ev) {
    if (!this.hits || !this.frame) return;
    const rect = this.net.getBoundingClientRect();
    const hit = pick(this.hits, ev.clientX - rect.left, ev.clientY - rect.top);
    if (!hit) {
      this.app.tooltip(null);
      return;
    }
    this.app.tooltip(this.describe(hit), ev.clientX, ev.clientY);
  }

  describe(hit) {
    const f = this.frame;
    const d = f.diagnosis;
    const L = this.sizes.length - 1;
    if (hit.edge) {
      const e = hit.edge;
      const from = e.l - 1 === 0 ? `input x${e.j + 1}` : `unit ${e.j + 1} of layer ${e.l - 1}`;
      const to = e.l === L ? "the output" : `unit ${e.i + 1} of layer ${e.l}`;
      const lines = [`<b>W${e.l}[${e.i + 1}, ${e.j + 1}]</b>: ${from} → ${to}`, `weight ${fmtG(e.w, 4)}, gradient ${e.g === 0 ? "0 (exactly)" : fmtG(e.g, 3)}`];
      if (e.g === 0) lines.push(`<span class="z">${escape(this.edgeCause(e, d))}</span>`);
      return lines.join("<br>");
    }
    const n = hit.node;
    if (n.l === 0) return `<b>input x${n.i + 1}</b>: the colour is x${n.i + 1} over the plane`;
    const b = this.v.biases[n.l - 1][n.i];
    const gb = this.v.grad_biases[n.l - 1][n.i];
    const name = n.l === L ? "the output" : `unit ${n.i + 1} of layer ${n.l}`;
    const lines = [`<b>${name}</b>`, `bias ${fmtG(b, 4)}, gradient ${gb === 0 ? "0 (exactly)" : fmtG(gb, 3)}`];
    if (n.l < L && this.dead[n.l - 1].has(n.i)) lines.push("dead: zero on every training point (initlab.diagnose)");
    if (n.l < L) lines.push("colour: its output over the input plane, −1 … +1 (clipped)");
    else lines.push("colour: the probability of class 1 over the plane");
    const block = d.blocks.find((x) => x.name === `b${n.l}`);
    if (gb === 0 && block && block.zero) lines.push(`<span class="z">${escape(`gradient of b${n.l} is zero: ${block.cause}`)}</span>`);
    return lines.join("<br>");
  }

  edgeCause(e, d) {
    const block = d.blocks.find((x) => x.name === `W${e.l}`);
    if (block && block.zero) return `the gradient of W${e.l} is zero: ${block.cause}`;
    const reasons = [];
    if (e.l > 1 && this.dead[e.l - 2] && this.dead[e.l - 2].has(e.j)) reasons.push(`unit ${e.j + 1} of layer ${e.l - 1} is dead (zero on every training point), so nothing it feeds gets a gradient`);
    const noError = this.frame.no_error[e.l - 1] || [];
    if (noError.includes(e.i)) reasons.push(`no error reaches ${e.l === this.sizes.length - 1 ? "the output" : `unit ${e.i + 1} of layer ${e.l}`} on any training point (its delta is 0)`);
    if (!reasons.length) reasons.push("the per-sample terms delta × a cancel over the training points");
    return reasons.join("; and ");
  }
}

function escape(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}
