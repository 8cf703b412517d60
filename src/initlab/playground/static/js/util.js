// Small helpers shared by the page's modules: decoding, numbers, colours, canvases.

export function bytes(b64) {
  const bin = atob(b64 || "");
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
export const f32 = (b64) => new Float32Array(bytes(b64).buffer);
export const u8 = (b64) => bytes(b64);
export const i8 = (b64) => new Int8Array(bytes(b64).buffer);

// The server sends non-finite numbers as the strings "inf", "-inf", "nan".
export function num(x) {
  if (x === null || x === undefined) return NaN;
  if (typeof x === "number") return x;
  if (x === "inf") return Infinity;
  if (x === "-inf") return -Infinity;
  return NaN;
}

export function fmtLoss(x) {
  x = num(x);
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (Math.abs(x) >= 1000) return x.toExponential(3);
  if (Math.abs(x) >= 10) return x.toFixed(3);
  return x.toFixed(6);
}
export function fmtAcc(x) {
  if (x === null || x === undefined) return "–";
  return num(x).toFixed(4);
}
export function fmtG(x, digits = 3) {
  x = num(x);
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e4 || a < 1e-3) return x.toExponential(digits - 1);
  return String(Number(x.toPrecision(digits)));
}
export const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(num(x) * 100)}%`);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "style") {
      // Through the CSSOM: the page's Content-Security-Policy refuses style attributes.
      for (const decl of String(v).split(";")) {
        const at = decl.indexOf(":");
        if (at > 0) node.style.setProperty(decl.slice(0, at).trim(), decl.slice(at + 1).trim());
      }
    }
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// Colours: class 0 / negative orange, class 1 / positive blue, white in between (fixed scale).
const NEG = [234, 88, 12];
const POS = [37, 99, 235];
const MID = [255, 255, 255];
export function diverging(v) {
  // v in [-1, 1] -> rgb
  const t = Math.max(-1, Math.min(1, v));
  const end = t < 0 ? NEG : POS;
  const a = Math.abs(t);
  return [0, 1, 2].map((i) => Math.round(MID[i] + (end[i] - MID[i]) * a));
}
export const POS_CSS = "rgb(37,99,235)";
export const NEG_CSS = "rgb(234,88,12)";
export const ZERO_CSS = "rgb(220,38,38)";

// Layout generation: bumped on resize, so that a canvas measures its CSS width once per layout
// (reading clientWidth after DOM writes forces a synchronous layout, frame after frame).
let generation = 0;
export function relayout() {
  generation += 1;
}

// A canvas sized to its CSS width (and a height), for the device's pixel ratio.
export function fit(canvas, height) {
  const dpr = window.devicePixelRatio || 1;
  if (canvas._gen !== generation || !canvas._w) {
    canvas._w = Math.max(40, Math.round(canvas.clientWidth || canvas.parentElement.clientWidth || 300));
    canvas._gen = generation;
  }
  const w = canvas._w;
  const h = Math.round(height === undefined ? w : height);
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    canvas.style.height = `${h}px`;
  }
  const ctx = canvas._ctx || (canvas._ctx = canvas.getContext("2d"));
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  let pending = null;
  return (...args) => {
    pending = args;
    const now = performance.now();
    const run = () => {
      last = performance.now();
      timer = null;
      fn(...pending);
    };
    if (now - last >= ms) run();
    else if (!timer) timer = setTimeout(run, ms - (now - last));
  };
}
