// Pictures on canvases. Every scale here is fixed (never renormalized per frame), so a start that
// is too small looks small and one that is too large looks large.
import { diverging, fit, fmtG, num, NEG_CSS, POS_CSS, ZERO_CSS } from "./util.js";

const POS_DARK = "rgb(29,78,216)";
const NEG_DARK = "rgb(194,65,12)";

// Edge widths in pixels: weight |w| on a linear scale, gradient |g| on a log scale.
export const WEIGHT_FULL = 2.0; // |w| at which an edge is drawn at full width
export const GRAD_DECADES = [-6, 0]; // log10 |g| from thin to full width
const MAX_WIDTH = 5;

function weightWidth(w) {
  return Math.min(MAX_WIDTH, (MAX_WIDTH * Math.abs(w)) / WEIGHT_FULL);
}
function gradWidth(g) {
  if (g === 0) return 0;
  const [lo, hi] = GRAD_DECADES;
  const t = (Math.log10(Math.abs(g)) - lo) / (hi - lo);
  return Math.max(0.4, Math.min(MAX_WIDTH, 0.4 + t * (MAX_WIDTH - 0.4)));
}

// --- the input plane: the output's probability, the boundary, the points -----------------------

// Colour tables for the 256 values a byte can take, computed once.
const PROBABILITY = Array.from({ length: 256 }, (_, v) => diverging(((v - 127) / 127) * 0.55));
const UNIT = Array.from({ length: 256 }, (_, v) => diverging((v - 128) / 127));

function planeImage(values, res, table, offset, into, count = 1) {
  // `into`: a canvas to draw on again (frames reuse their canvases); `count` pictures of
  // res x res stacked vertically (an atlas).
  const c = into || document.createElement("canvas");
  if (c.width !== res || c.height !== res * count) {
    c.width = res;
    c.height = res * count;
    c._img = null;
  }
  const ctx = c._ctx || (c._ctx = c.getContext("2d"));
  const img = c._img || (c._img = ctx.createImageData(res, res * count));
  const d = img.data;
  for (let i = 0; i < res * res * count; i++) {
    const [r, g, b] = table[(values[i] + offset) & 255];
    d[4 * i] = r;
    d[4 * i + 1] = g;
    d[4 * i + 2] = b;
    d[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

export function probabilityImage(p8, res, into) {
  // p8: round(p * 254), 127 is p = 0.5 exactly; light colours, so that the points stand out.
  return planeImage(p8, res, PROBABILITY, 0, into);
}
export function unitImage(values, res, into, count = 1) {
  // values: round(clip(a, -1, 1) * 127) as int8; a fixed scale of [-1, 1] for every unit.
  return planeImage(values, res, UNIT, 128, into, count);
}

export function drawPlane(canvas, frame, data, res) {
  const { ctx, w } = fit(canvas);
  const img = frame.image || probabilityImage(frame.boundary, res);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(img, 0, 0, w, w);
  // The boundary p = 0.5, by marching squares between the cell centres (linear in between).
  const [x0, x1, y0, y1] = data.extent;
  ctx.strokeStyle = "rgba(17,24,39,.85)";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  if (frame.line) {
    // A linear model: its exact line b + w1 x1 + w2 x2 = 0, clipped to the plane.
    const [b, w1, w2] = frame.line;
    const pts = [];
    const X = (x) => ((x - x0) / (x1 - x0)) * w;
    const Y = (y) => ((y1 - y) / (y1 - y0)) * w;
    if (w2 !== 0) for (const x of [x0, x1]) pts.push([X(x), Y(-(b + w1 * x) / w2)]);
    else if (w1 !== 0) for (const y of [y0, y1]) pts.push([X(-b / w1), Y(y)]);
    if (pts.length === 2) {
      ctx.moveTo(...pts[0]);
      ctx.lineTo(...pts[1]);
    }
  } else contour(ctx, frame.boundary, res, 127, w / res);
  ctx.stroke();
  const px = (x) => ((x - x0) / (x1 - x0)) * w;
  const py = (y) => ((y1 - y) / (y1 - y0)) * w;
  const points = (X, y, test) => {
    for (let i = 0; i < y.length; i++) {
      const cx = px(X[2 * i]);
      const cy = py(X[2 * i + 1]);
      ctx.beginPath();
      ctx.arc(cx, cy, test ? 3.2 : 2.6, 0, 2 * Math.PI);
      if (test) {
        ctx.fillStyle = "#fff";
        ctx.fill();
        ctx.lineWidth = 1.6;
        ctx.strokeStyle = y[i] ? POS_DARK : NEG_DARK;
        ctx.stroke();
      } else {
        ctx.fillStyle = y[i] ? POS_DARK : NEG_DARK;
        ctx.fill();
        ctx.lineWidth = 0.8;
        ctx.strokeStyle = "#fff";
        ctx.stroke();
      }
    }
  };
  points(data.X, data.y, false);
  points(data.Xt, data.yt, true);
  ctx.fillStyle = "rgba(17,24,39,.7)";
  ctx.font = "10px system-ui, sans-serif";
  const b = frame.boundary;
  if (!frame.line && b.every((v) => v === b[0])) {
    // A constant output draws no boundary: say so, with its value.
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.fillText(`p ≈ ${(b[0] / 254).toFixed(2)} everywhere: no boundary`, 6, 16);
    ctx.font = "10px system-ui, sans-serif";
  }
  ctx.fillText(`x1 ${fmtG(x0, 2)} … ${fmtG(x1, 2)}`, 4, w - 4);
  ctx.save();
  ctx.translate(w - 4, w - 4);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(`x2 ${fmtG(y0, 2)} … ${fmtG(y1, 2)}`, 0, 0);
  ctx.restore();
}

function contour(ctx, values, res, level, cell) {
  // Corners of a square: 0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left; a corner is
  // "in" when its value is above the level (p > 0.5, the classifier's rule).
  const at = (r, c) => values[r * res + c];
  const cross = (a, b) => (a === b ? 0.5 : (level - a) / (b - a));
  for (let r = 0; r + 1 < res; r++) {
    for (let c = 0; c + 1 < res; c++) {
      const v = [at(r, c), at(r, c + 1), at(r + 1, c + 1), at(r + 1, c)];
      const code = (v[0] > level) | ((v[1] > level) << 1) | ((v[2] > level) << 2) | ((v[3] > level) << 3);
      if (code === 0 || code === 15) continue;
      const x = (c + 0.5) * cell;
      const y = (r + 0.5) * cell;
      const pts = {
        t: [x + cross(v[0], v[1]) * cell, y],
        r: [x + cell, y + cross(v[1], v[2]) * cell],
        b: [x + cross(v[3], v[2]) * cell, y + cell],
        l: [x, y + cross(v[0], v[3]) * cell],
      };
      const segs = {
        1: ["l", "t"], 2: ["t", "r"], 3: ["l", "r"], 4: ["r", "b"], 5: ["l", "t", "r", "b"],
        6: ["t", "b"], 7: ["l", "b"], 8: ["b", "l"], 9: ["t", "b"], 10: ["t", "r", "b", "l"],
        11: ["r", "b"], 12: ["r", "l"], 13: ["t", "r"], 14: ["l", "t"],
      }[code];
      for (let k = 0; k < segs.length; k += 2) {
        ctx.moveTo(...pts[segs[k]]);
        ctx.lineTo(...pts[segs[k + 1]]);
      }
    }
  }
}

// --- the network ------------------------------------------------------------------------------

// Layout: one column per layer, inputs first; returns node boxes and edge segments for hit tests.
export function layoutNetwork(sizes, w, h) {
  const cols = sizes.length;
  const maxUnits = Math.max(...sizes);
  const gapX = w / cols;
  const usable = h - 16; // the layer names go below
  const node = Math.max(5, Math.min(30, Math.floor(usable / (maxUnits * 1.25)), Math.floor(gapX * 0.42)));
  const columns = sizes.map((n, l) => {
    const x = gapX * (l + 0.5) - node / 2;
    const span = n * node * 1.25;
    const top = (usable - span) / 2 + node * 0.125;
    return Array.from({ length: n }, (_, i) => ({ l, i, x, y: top + i * node * 1.25, s: node }));
  });
  return { columns, node };
}

export function drawNetwork(canvas, sizes, frame, opts) {
  const maxUnits = Math.max(...sizes);
  const height = Math.max(180, Math.min(440, maxUnits * 22 + 30));
  const { ctx, w, h } = fit(canvas, height);
  const { columns } = layoutNetwork(sizes, w, h);
  const edges = [];
  const mode = opts.mode;
  // Dense layers draw each edge fainter, so that a 32 x 32 layer does not become a solid wall.
  const density = (l) => Math.min(0.9, Math.max(0.15, 7 / Math.sqrt(sizes[l - 1] * sizes[l])));
  for (let l = 1; l < sizes.length; l++) {
    const W = frame.weights[l - 1];
    const G = frame.grad_weights[l - 1];
    const nIn = sizes[l - 1];
    for (let i = 0; i < sizes[l]; i++) {
      for (let j = 0; j < nIn; j++) {
        const a = columns[l - 1][j];
        const b = columns[l][i];
        const k = i * nIn + j;
        const wv = W[k];
        const gv = G[k];
        const seg = { x1: a.x + a.s, y1: a.y + a.s / 2, x2: b.x, y2: b.y + b.s / 2, l, i, j, w: wv, g: gv };
        edges.push(seg);
      }
    }
  }
  // Thin lines first, so that the strong ones stay visible on top.
  const width = (e) => (mode === "gradient" ? gradWidth(e.g) : weightWidth(e.w));
  edges.sort((p, q) => width(p) - width(q));
  for (const e of edges) {
    ctx.beginPath();
    ctx.moveTo(e.x1, e.y1);
    const mx = (e.x1 + e.x2) / 2;
    ctx.bezierCurveTo(mx, e.y1, mx, e.y2, e.x2, e.y2);
    if (e.g === 0) {
      ctx.setLineDash([2, 3]);
      ctx.strokeStyle = ZERO_CSS;
      ctx.lineWidth = Math.max(1, width(e));
      ctx.globalAlpha = 0.8 * density(e.l);
    } else {
      ctx.setLineDash([]);
      const v = mode === "gradient" ? -e.g : e.w; // a step goes against the gradient
      ctx.strokeStyle = v >= 0 ? POS_CSS : NEG_CSS;
      ctx.lineWidth = Math.max(0.35, width(e));
      ctx.globalAlpha = density(e.l);
    }
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.globalAlpha = 1;
  // Nodes: each unit's output over the input plane (inputs: x1, x2; output: the probability).
  const nodes = [];
  for (const col of columns) {
    for (const n of col) {
      let img = null;
      if (n.l === 0) img = opts.inputImages[n.i];
      else if (n.l === sizes.length - 1) img = opts.outputImage;
      else img = opts.unitImages[n.l - 1][n.i];
      ctx.imageSmoothingEnabled = true;
      if (img) ctx.drawImage(img.src, 0, img.sy, img.size, img.size, n.x, n.y, n.s, n.s);
      const dead = n.l > 0 && n.l < sizes.length - 1 && opts.dead[n.l - 1].has(n.i);
      ctx.lineWidth = dead ? 2 : 1;
      ctx.strokeStyle = dead ? "#111827" : "#94a3b8";
      ctx.strokeRect(n.x + 0.5, n.y + 0.5, n.s - 1, n.s - 1);
      if (dead) {
        ctx.beginPath();
        ctx.moveTo(n.x + 2, n.y + 2);
        ctx.lineTo(n.x + n.s - 2, n.y + n.s - 2);
        ctx.stroke();
      }
      nodes.push(n);
    }
  }
  ctx.fillStyle = "#6b7280";
  ctx.font = "10px system-ui, sans-serif";
  ctx.textAlign = "center";
  columns.forEach((col, l) => {
    const label = l === 0 ? "input" : l === sizes.length - 1 ? "output" : `layer ${l}`;
    ctx.fillText(label, col[0].x + col[0].s / 2, h - 3);
  });
  ctx.textAlign = "left";
  return { edges, nodes };
}

function distToSegment(px, py, e) {
  // Distance to the chord of the curve; good enough for picking at these sizes.
  const dx = e.x2 - e.x1;
  const dy = e.y2 - e.y1;
  const t = Math.max(0, Math.min(1, ((px - e.x1) * dx + (py - e.y1) * dy) / (dx * dx + dy * dy || 1)));
  const cx = e.x1 + t * dx;
  // The curve leaves horizontally and arrives horizontally: follow it with a smoothstep.
  const s = t * t * (3 - 2 * t);
  const cy = e.y1 + s * dy;
  return Math.hypot(px - cx, py - cy);
}

export function pick(hits, x, y) {
  for (const n of hits.nodes) {
    if (x >= n.x && x <= n.x + n.s && y >= n.y && y <= n.y + n.s) return { node: n };
  }
  let best = null;
  let bestD = 4;
  for (const e of hits.edges) {
    const d = distToSegment(x, y, e);
    if (d < bestD) {
      bestD = d;
      best = e;
    }
  }
  return best ? { edge: best } : null;
}

// --- line charts --------------------------------------------------------------------------------

function logRange(values, floor = 1e-8) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v) && v > 0) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!Number.isFinite(lo)) return [1e-3, 1];
  lo = Math.max(floor, lo);
  let a = Math.floor(Math.log10(lo));
  let b = Math.ceil(Math.log10(hi));
  if (b <= a) b = a + 1;
  return [10 ** a, 10 ** b];
}

export function drawCurves(canvas, curve, textbook, opts) {
  const { ctx, w, h } = fit(canvas, 130);
  const left = 34;
  const right = 6;
  const top = 6;
  const bottom = 16;
  const n = curve.length;
  const tMax = Math.max(opts.now, 1);
  const finiteTb = textbook.map((p) => num(p[1])).filter(Number.isFinite);
  const [lo, hi] = logRange([...curve, ...finiteTb]);
  const X = (t) => left + ((w - left - right) * t) / tMax;
  const Y = (v) => top + ((h - top - bottom) * (Math.log10(hi) - Math.log10(Math.max(v, lo)))) / (Math.log10(hi) - Math.log10(lo));
  ctx.strokeStyle = "#e5e7eb";
  ctx.fillStyle = "#6b7280";
  ctx.font = "10px system-ui, sans-serif";
  ctx.lineWidth = 1;
  for (let e = Math.log10(lo); e <= Math.log10(hi) + 1e-9; e++) {
    const y = Y(10 ** e);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(w - right, y);
    ctx.stroke();
    ctx.fillText(`1e${Math.round(e)}`, 2, y + 3);
  }
  ctx.fillText("0", left, h - 4);
  ctx.textAlign = "right";
  ctx.fillText(`${tMax}`, w - right, h - 4);
  ctx.textAlign = "left";
  // The stable loss: min and max per pixel column, so that 15000 points draw as fast as 300.
  ctx.strokeStyle = "#111827";
  ctx.lineWidth = 1.3;
  ctx.beginPath();
  const cols = Math.max(1, Math.floor(w - left - right));
  const per = Math.max(1, Math.ceil(n / cols));
  let started = false;
  for (let s = 0; s < n; s += per) {
    let mn = Infinity;
    let mx = -Infinity;
    for (let t = s; t < Math.min(n, s + per); t++) {
      const v = curve[t];
      if (Number.isFinite(v)) {
        mn = Math.min(mn, v);
        mx = Math.max(mx, v);
      }
    }
    if (!Number.isFinite(mn)) {
      started = false;
      continue;
    }
    const x = X(s);
    if (!started) {
      ctx.moveTo(x, Y(mx));
      started = true;
    } else ctx.lineTo(x, Y(mx));
    if (mn !== mx) ctx.lineTo(x, Y(mn));
  }
  ctx.stroke();
  // The textbook loss where it was recorded; inf drawn as a triangle at the top.
  for (const [t, raw] of textbook) {
    const v = num(raw);
    const x = X(t);
    if (Number.isFinite(v)) {
      ctx.fillStyle = "rgba(234,88,12,.9)";
      ctx.beginPath();
      ctx.arc(x, Y(v), 2, 0, 2 * Math.PI);
      ctx.fill();
    } else if (v === Infinity) {
      ctx.fillStyle = ZERO_CSS;
      ctx.beginPath();
      ctx.moveTo(x - 3, top + 6);
      ctx.lineTo(x + 3, top + 6);
      ctx.lineTo(x, top);
      ctx.fill();
    }
  }
  if (textbook.some((p) => num(p[1]) === Infinity)) {
    ctx.fillStyle = ZERO_CSS;
    ctx.fillText("▲ textbook loss = inf", left + 4, top + 16);
  }
  if (opts.cursor !== null && opts.cursor !== undefined && opts.cursor < opts.now) {
    ctx.strokeStyle = "rgba(37,99,235,.7)";
    ctx.beginPath();
    ctx.moveTo(X(opts.cursor), top);
    ctx.lineTo(X(opts.cursor), h - bottom);
    ctx.stroke();
  }
  if (opts.diverged !== null && opts.diverged !== undefined) {
    ctx.strokeStyle = ZERO_CSS;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(X(opts.diverged), top);
    ctx.lineTo(X(opts.diverged), h - bottom);
    ctx.stroke();
    ctx.setLineDash([]);
  }
}

export function drawHist(canvas, hist) {
  const { ctx, w, h } = fit(canvas, 46);
  const counts = hist.counts || [];
  const max = Math.max(1, ...counts);
  const bw = (w - 2) / Math.max(1, counts.length);
  ctx.fillStyle = "#64748b";
  counts.forEach((c, i) => {
    const bh = ((h - 12) * c) / max;
    ctx.fillRect(1 + i * bw, h - 12 - bh, Math.max(1, bw - 1), bh);
  });
  ctx.fillStyle = "#6b7280";
  ctx.font = "9.5px system-ui, sans-serif";
  if (hist.lo !== null) {
    ctx.fillText(fmtG(hist.lo, 2), 1, h - 2);
    ctx.textAlign = "right";
    ctx.fillText(fmtG(hist.hi, 2), w - 1, h - 2);
    ctx.textAlign = "left";
  }
}

export function drawSignal(canvas, start, predicted, current) {
  const { ctx, w, h } = fit(canvas, 110);
  const left = 34;
  const right = 8;
  const top = 6;
  const bottom = 16;
  const L = start.length;
  const all = [...start, ...predicted, ...current].map(num);
  const [lo, hi] = logRange(all, 1e-300);
  const X = (l) => left + ((w - left - right) * (L === 1 ? 0.5 : l / (L - 1)));
  const Y = (v) => top + ((h - top - bottom) * (Math.log10(hi) - Math.log10(Math.max(v, lo)))) / (Math.log10(hi) - Math.log10(lo));
  ctx.font = "10px system-ui, sans-serif";
  const span = Math.log10(hi) - Math.log10(lo);
  const stepE = Math.max(1, Math.ceil(span / 4));
  ctx.strokeStyle = "#e5e7eb";
  ctx.fillStyle = "#6b7280";
  for (let e = Math.log10(lo); e <= Math.log10(hi) + 1e-9; e += stepE) {
    const y = Y(10 ** e);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(w - right, y);
    ctx.stroke();
    ctx.fillText(`1e${Math.round(e)}`, 2, y + 3);
  }
  ctx.textAlign = "center";
  for (let l = 0; l < L; l++) ctx.fillText(l === L - 1 ? "out" : `${l + 1}`, X(l), h - 4);
  ctx.textAlign = "left";
  const line = (vals, style, dash, dots) => {
    ctx.strokeStyle = style;
    ctx.fillStyle = style;
    ctx.setLineDash(dash);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let on = false;
    vals.forEach((raw, l) => {
      const v = num(raw);
      if (!(Number.isFinite(v) && v > 0)) {
        on = false;
        return;
      }
      if (!on) ctx.moveTo(X(l), Y(v));
      else ctx.lineTo(X(l), Y(v));
      on = true;
    });
    ctx.stroke();
    ctx.setLineDash([]);
    if (dots) {
      vals.forEach((raw, l) => {
        const v = num(raw);
        if (Number.isFinite(v) && v > 0) {
          ctx.beginPath();
          ctx.arc(X(l), Y(v), dots, 0, 2 * Math.PI);
          ctx.fill();
        }
      });
    }
  };
  line(predicted, "rgba(234,88,12,.95)", [5, 3], 0);
  line(start, "#111827", [], 2.6);
  line(current, "rgba(37,99,235,.8)", [], 1.8);
  const zeroLayers = start.map(num).filter((v) => v === 0).length;
  if (zeroLayers) {
    ctx.fillStyle = "#b91c1c";
    ctx.fillText(
      zeroLayers === L ? "the signal is exactly 0 in every layer at the start" : `exactly 0 in ${zeroLayers} of ${L} layers at the start`,
      left + 4,
      top + 12,
    );
  }
}

export function drawErrors(canvas, errors, book) {
  const { ctx, w, h } = fit(canvas, 90);
  const n = Math.max(errors.length, book ? book.length : 0, 1);
  const max = Math.max(1, ...errors, ...(book || []));
  const left = 20;
  const bw = (w - left - 4) / n;
  ctx.fillStyle = "#6b7280";
  ctx.font = "10px system-ui, sans-serif";
  ctx.fillText(String(max), 2, 10);
  ctx.fillText("0", 2, h - 14);
  errors.forEach((e, i) => {
    const bh = ((h - 24) * e) / max;
    ctx.fillStyle = "#334155";
    ctx.fillRect(left + i * bw + 1, h - 14 - bh, Math.max(1, bw * 0.55), bh);
  });
  if (book) {
    book.forEach((e, i) => {
      const bh = ((h - 24) * e) / max;
      ctx.fillStyle = "rgba(234,88,12,.9)";
      ctx.fillRect(left + i * bw + 1 + bw * 0.55, h - 14 - bh, Math.max(1, bw * 0.35), bh);
    });
  }
  ctx.fillStyle = "#6b7280";
  ctx.textAlign = "center";
  const every = Math.ceil(n / 12);
  for (let i = 0; i < n; i += every) ctx.fillText(String(i + 1), left + (i + 0.5) * bw, h - 3);
  ctx.textAlign = "left";
}
