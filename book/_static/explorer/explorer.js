// The explorer (book/explorer.md): the course's trained digits ViT, run in the page by
// onnxruntime-web on one WebAssembly thread. The model file and digits.json come from
// tools/explorer_assets.py; the runtime is served by the site (book/_static/ort).
import { strokesToDigit } from "./digits.js";

const HERE = new URL("./", import.meta.url);
const root = document.getElementById("vit-explorer");

// ------------------------------------------------------------------ colours
// viridis at 9 stops, interpolated: the shared scale of every attention view
const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];

function viridis(t) {
  const x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const f = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
}

// blue - white - red for the tokens' signed features
function diverging(t) {
  const v = Math.max(-1, Math.min(1, t));
  const toward = v < 0 ? [33, 102, 172] : [178, 24, 43];
  const a = Math.abs(v);
  return [247, 247, 247].map((c, k) => Math.round(c + a * (toward[k] - c)));
}

const rgb = (c, alpha = 1) => `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${alpha})`;

// ------------------------------------------------------------------ small helpers
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

const shape = (dims) => `(${dims.join(", ")})`;

// The (T, T) attention of one image, block b, head h (or the mean over heads), as rows.
function attentionMatrix(result, b, head) {
  const { data, dims } = result.attention[b];
  const [, heads, tokens] = dims;
  const rows = [];
  for (let i = 0; i < tokens; i++) {
    const row = new Array(tokens).fill(0);
    for (let j = 0; j < tokens; j++) {
      if (head === "mean") {
        for (let h = 0; h < heads; h++) row[j] += data[(h * tokens + i) * tokens + j] / heads;
      } else {
        row[j] = data[(head * tokens + i) * tokens + j];
      }
    }
    rows.push(row);
  }
  return rows;
}

// Attention rollout as vit_lib.interpret.attention_rollout: heads averaged, 0.5 A + 0.5 I with
// rows renormalised, chained first block on the right: R = A_L ... A_1.
export function rollout(result) {
  let r = null;
  for (let b = 0; b < result.attention.length; b++) {
    const a = attentionMatrix(result, b, "mean").map((row, i) => {
      const mixed = row.map((v, j) => 0.5 * v + (i === j ? 0.5 : 0));
      const sum = mixed.reduce((s, v) => s + v, 0);
      return mixed.map((v) => v / sum);
    });
    r = r === null ? a : a.map((row) => r[0].map((_, j) => row.reduce((s, v, k) => s + v * r[k][j], 0)));
  }
  return r;
}

// ------------------------------------------------------------------ the page
function statusLine(text) {
  root.querySelector(".vx-status").textContent = text;
}

function build(meta) {
  root.replaceChildren();
  root.append(el("p", { class: "vx-status", role: "status", text: "Loading the model…" }));
  const samples = el("div", { class: "vx-samples", role: "group", "aria-label": "test digits" });
  for (const sample of meta.samples) {
    samples.append(el("button", { type: "button", "data-sample": sample.label,
      text: `test ${sample.label}` }));
  }
  const draw = el("canvas", { id: "vx-draw", width: 280, height: 280,
    "aria-label": "drawing area: draw one digit with the mouse or a finger" });
  const heads = el("select", { id: "vx-head", "aria-label": "head" },
    el("option", { value: "mean", text: "mean of heads" }),
    ...Array.from({ length: meta.config.num_heads }, (_, h) => el("option", { value: h, text: `head ${h}` })));
  const blocks = el("select", { id: "vx-block", "aria-label": "block" },
    ...Array.from({ length: meta.config.depth }, (_, b) => el("option", { value: b, text: `block ${b}` })));
  blocks.value = String(meta.config.depth - 1);
  root.append(
    el("div", { class: "vx-row" },
      el("div", { class: "vx-panel" }, el("h3", { text: "Draw a digit" }), draw,
        el("div", { class: "vx-buttons" },
          el("button", { type: "button", id: "vx-clear", text: "Clear" }), samples)),
      el("div", { class: "vx-panel" }, el("h3", { text: "What the model sees" }),
        el("canvas", { id: "vx-digit", width: 128, height: 128, "aria-label": "the 8 by 8 digit" }),
        el("canvas", { id: "vx-pixels", width: 128, height: 128,
          "aria-label": "the 16 by 16 input cut into its 4 by 4 patches" }),
        el("p", { class: "vx-note", id: "vx-sees" })),
      el("div", { class: "vx-panel" }, el("h3", { text: "Class probabilities" }),
        el("div", { id: "vx-probs", class: "vx-probs" }))),
    el("div", { class: "vx-row" },
      el("div", { class: "vx-panel vx-wide" }, el("h3", { text: "Attention" }),
        el("div", { class: "vx-controls" }, blocks, heads,
          el("label", {}, el("input", { type: "checkbox", id: "vx-rollout" }), " rollout")),
        el("div", { class: "vx-attention" },
          el("canvas", { id: "vx-main", width: 256, height: 256,
            "aria-label": "attention over the patches; hover or tap a patch to see its own row" }),
          el("canvas", { id: "vx-colourbar", width: 64, height: 256, "aria-label": "colour scale" }),
          el("div", { id: "vx-grid", class: "vx-grid" })),
        el("p", { class: "vx-note", id: "vx-query" }))),
    el("div", { class: "vx-row" },
      el("div", { class: "vx-panel vx-wide" }, el("h3", { text: "Tokens after the embedding" }),
        el("canvas", { id: "vx-tokens", width: 640, height: 13 * meta.outputs.tokens[1],
          "aria-label": "the tokens as a heat strip, one row per token, one column per feature" }),
        el("p", { class: "vx-note", id: "vx-tokens-note" }))),
    el("div", { class: "vx-row" },
      el("div", { class: "vx-panel vx-wide" }, el("h3", { text: "The shape of every stage" }),
        el("div", { class: "vx-table" }, el("table", { id: "vx-shapes" })))),
  );
}

function drawDigit(canvas, digit, maxValue) {
  const ctx = canvas.getContext("2d");
  const n = digit.length;
  const cell = canvas.width / n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = 255 - Math.round((255 * digit[i][j]) / maxValue);
      ctx.fillStyle = `rgb(${v}, ${v}, ${v})`;
      ctx.fillRect(j * cell, i * cell, cell, cell);
    }
  }
}

// the model's input (N, C, H, W) back to [0, 1], as rows
function pixelRows(result, meta) {
  const [, , h, w] = result.pixels.dims;
  const { mean, std } = meta.preprocess;
  return Array.from({ length: h }, (_, i) =>
    Array.from({ length: w }, (_, j) => result.pixels.data[i * w + j] * std + mean));
}

function drawGrid(ctx, size, cells, colour) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = 1;
  for (let k = 1; k < cells; k++) {
    const at = Math.round((k * size) / cells) + 0.5;
    ctx.beginPath(); ctx.moveTo(at, 0); ctx.lineTo(at, size); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(0, at); ctx.lineTo(size, at); ctx.stroke();
  }
}

function render(app) {
  const { meta, result, state } = app;
  if (!result) return;
  const grid = meta.config.img_size / meta.config.patch_size; // patches per side
  // what the model sees
  drawDigit(root.querySelector("#vx-digit"), state.digit, 16);
  const pixels = root.querySelector("#vx-pixels");
  drawDigit(pixels, pixelRows(result, meta), 1);
  drawGrid(pixels.getContext("2d"), pixels.width, grid, "rgba(214, 39, 40, 0.9)");
  root.querySelector("#vx-sees").textContent =
    `8 × 8 ink counts → resized to ${result.pixels.dims.slice(2).join(" × ")} → ` +
    `${grid * grid} patches of ${meta.config.patch_size} × ${meta.config.patch_size}`;
  // probabilities
  const logits = Array.from(result.logits.data);
  const top = Math.max(...logits);
  const exp = logits.map((v) => Math.exp(v - top));
  const total = exp.reduce((s, v) => s + v, 0);
  const probs = exp.map((v) => v / total);
  const best = probs.indexOf(Math.max(...probs));
  root.querySelector("#vx-probs").replaceChildren(...probs.map((p, k) =>
    el("div", { class: `vx-bar${k === best ? " vx-best" : ""}` },
      el("span", { class: "vx-label", text: meta.classes[k] }),
      el("span", { class: "vx-track" }, el("span", { class: "vx-fill", style: `width: ${(100 * p).toFixed(1)}%` })),
      el("span", { class: "vx-value", text: `${(100 * p).toFixed(1)} %` }))));
  renderAttention(app, grid);
  renderTokens(app);
  renderShapes(app);
}

// The query token's weights over the patches, as grid x grid rows, for one view.
function patchMap(rows, query, grid) {
  const prefix = rows.length - grid * grid;
  return Array.from({ length: grid }, (_, i) =>
    Array.from({ length: grid }, (_, j) => rows[query][prefix + i * grid + j]));
}

function overlay(canvas, app, map, vmax, query, grid) {
  const ctx = canvas.getContext("2d");
  const size = canvas.width;
  drawDigit(canvas, pixelRows(app.result, app.meta), 1);
  const cell = size / grid;
  map.forEach((line, i) => line.forEach((v, j) => {
    ctx.fillStyle = rgb(viridis(v / vmax), 0.6);
    ctx.fillRect(j * cell, i * cell, cell, cell);
  }));
  drawGrid(ctx, size, grid, "rgba(255, 255, 255, 0.5)");
  if (query > 0) {
    const p = query - 1;
    ctx.strokeStyle = "rgb(214, 39, 40)";
    ctx.lineWidth = Math.max(2, size / 64);
    ctx.strokeRect((p % grid) * cell + 1, Math.floor(p / grid) * cell + 1, cell - 2, cell - 2);
  }
}

function renderAttention(app, grid) {
  const { meta, result, state } = app;
  const query = state.query;
  const heads = meta.config.num_heads;
  const small = [];
  for (let b = 0; b < meta.config.depth; b++) {
    for (let h = 0; h < heads; h++) small.push({ b, h, map: patchMap(attentionMatrix(result, b, h), query, grid) });
  }
  const main = state.rollout ? patchMap(rollout(result), query, grid)
    : patchMap(attentionMatrix(result, state.block, state.head), query, grid);
  const vmax = Math.max(1e-9, ...main.flat(), ...small.flatMap((s) => s.map.flat()));
  app.view = { main, vmax, query };
  overlay(root.querySelector("#vx-main"), app, main, vmax, query, grid);
  // the colourbar
  const bar = root.querySelector("#vx-colourbar");
  const ctx = bar.getContext("2d");
  ctx.clearRect(0, 0, bar.width, bar.height);
  for (let y = 0; y < bar.height - 20; y++) {
    ctx.fillStyle = rgb(viridis(1 - y / (bar.height - 21)));
    ctx.fillRect(4, y + 10, 14, 1);
  }
  ctx.fillStyle = getComputedStyle(root).color;
  ctx.font = "12px sans-serif";
  ctx.fillText(vmax.toFixed(2), 22, 16);
  ctx.fillText("0", 22, bar.height - 8);
  // every block and head, small, on the same scale; a click picks one for the main view
  const gridBox = root.querySelector("#vx-grid");
  gridBox.style.gridTemplateColumns = `repeat(${heads}, auto)`;
  gridBox.replaceChildren(...small.map(({ b, h, map }) => {
    const canvas = el("canvas", { width: 48, height: 48, "aria-label": `block ${b}, head ${h}`,
      title: `block ${b}, head ${h}`, "data-block": b, "data-head": h });
    overlay(canvas, app, map, vmax, query, grid);
    if (!state.rollout && b === state.block && (state.head === "mean" || state.head === h)) canvas.classList.add("vx-picked");
    return canvas;
  }));
  const who = query === 0 ? "the class token" : `patch ${query - 1} (token ${query})`;
  const what = state.rollout ? "rollout through all blocks"
    : `block ${state.block}, ${state.head === "mean" ? "mean of the heads" : `head ${state.head}`}`;
  root.querySelector("#vx-query").textContent =
    `How much ${who} attends to each patch: ${what}. Small maps: every block (rows) and head ` +
    `(columns), on the same colour scale, 0 to ${vmax.toFixed(2)}. Hover or tap a patch to see its own row.`;
}

function renderTokens(app) {
  const { data, dims } = app.result.tokens;
  const [, tokens, width] = dims;
  const canvas = root.querySelector("#vx-tokens");
  const ctx = canvas.getContext("2d");
  const left = 36;
  const cellW = (canvas.width - left) / width;
  const cellH = canvas.height / tokens;
  const vmax = Math.max(1e-9, ...Array.from(data, Math.abs));
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = getComputedStyle(root).color;
  ctx.font = `${Math.min(11, cellH - 1)}px sans-serif`;
  for (let t = 0; t < tokens; t++) {
    ctx.fillText(t === 0 ? "cls" : String(t), 2, (t + 1) * cellH - 2);
    for (let d = 0; d < width; d++) {
      ctx.fillStyle = rgb(diverging(data[t * width + d] / vmax));
      ctx.fillRect(left + d * cellW, t * cellH, Math.ceil(cellW), Math.ceil(cellH));
    }
    ctx.fillStyle = getComputedStyle(root).color;
  }
  root.querySelector("#vx-tokens-note").textContent =
    `tokens ${shape(dims)}: the class token, then one row per patch, each of D = ${width} ` +
    `features (blue negative, red positive, ±${vmax.toFixed(2)}), positions already added.`;
}

function renderShapes(app) {
  const { meta, result } = app;
  // live shapes where the page has the tensor; the others as shape_trace recorded them
  const live = { 1: result.pixels.dims, 2: result.patches.dims, 4: result.tokens.dims,
    8: result.attention[0].dims, 16: result.logits.dims };
  const rows = meta.stages.filter((s) => s.where === "" || s.where === "block 0");
  const table = root.querySelector("#vx-shapes");
  table.replaceChildren(el("thead", {}, el("tr", {},
    el("th", { text: "stage" }), el("th", { text: "where" }), el("th", { text: "shape" }))));
  const body = el("tbody");
  for (const row of rows) {
    const dims = row.number in live && (row.where === "" || row.number === 8) ? Array.from(live[row.number]) : row.shape;
    const link = el("a", { href: `${row.chapter}.html#${row.anchor}`, text: `${row.number}. ${row.name}` });
    body.append(el("tr", {}, el("td", {}, link),
      el("td", { text: row.where === "block 0" ? `block 0 (and ${meta.config.depth - 1} more)` : "" }),
      el("td", { class: "vx-shape", text: shape(dims) })));
  }
  table.append(body);
}

// ------------------------------------------------------------------ drawing
function attachDrawing(app) {
  const canvas = root.querySelector("#vx-draw");
  const ctx = canvas.getContext("2d");
  let stroke = null;
  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return [Math.round(((event.clientX - box.left) / box.width) * 1000) / 10,
      Math.round(((event.clientY - box.top) / box.height) * 1000) / 10];
  };
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    if (app.state.sample !== null) app.clear();
    stroke = [point(event)];
    app.state.strokes.push(stroke);
    app.paint();
    app.schedule();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!stroke) return;
    event.preventDefault();
    stroke.push(point(event));
    app.paint();
    app.schedule();
  });
  const end = () => { stroke = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  app.paint = () => {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#111111";
    ctx.lineWidth = canvas.width / 22;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const s of app.state.strokes) {
      ctx.beginPath();
      s.forEach(([x, y], i) => {
        const px = (x / 100) * canvas.width;
        const py = (y / 100) * canvas.height;
        if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
      });
      if (s.length === 1) ctx.lineTo((s[0][0] / 100) * canvas.width + 0.1, (s[0][1] / 100) * canvas.height);
      ctx.stroke();
    }
    if (app.state.sample !== null) { // the test digit, its 8 x 8 counts shown large
      const digit = app.state.digit;
      const cell = canvas.width / digit.length;
      digit.forEach((line, i) => line.forEach((v, j) => {
        ctx.fillStyle = `rgba(17, 17, 17, ${v / 16})`;
        ctx.fillRect(j * cell, i * cell, cell, cell);
      }));
      ctx.fillStyle = "#555555";
      ctx.font = "16px sans-serif";
      ctx.fillText(`test digit ${app.state.sample}: draw to replace it`, 10, canvas.height - 12);
    }
  };
}

function attachAttention(app) {
  const main = root.querySelector("#vx-main");
  const grid = app.meta.config.img_size / app.meta.config.patch_size;
  const patchAt = (event) => {
    const box = main.getBoundingClientRect();
    const j = Math.floor(((event.clientX - box.left) / box.width) * grid);
    const i = Math.floor(((event.clientY - box.top) / box.height) * grid);
    return Math.min(grid - 1, Math.max(0, i)) * grid + Math.min(grid - 1, Math.max(0, j));
  };
  main.addEventListener("pointermove", (event) => {
    if (event.pointerType !== "mouse") return;
    const query = 1 + patchAt(event);
    if (query !== app.state.query) { app.state.query = query; render(app); }
  });
  main.addEventListener("pointerleave", (event) => {
    if (event.pointerType !== "mouse") return;
    app.state.query = 0;
    render(app);
  });
  main.addEventListener("click", (event) => { // a tap pins a patch; tapping it again unpins
    const query = 1 + patchAt(event);
    app.state.query = app.state.query === query && event.pointerType !== "mouse" ? 0 : query;
    render(app);
  });
  root.querySelector("#vx-block").addEventListener("change", (e) => { app.state.block = Number(e.target.value); render(app); });
  root.querySelector("#vx-head").addEventListener("change", (e) => {
    app.state.head = e.target.value === "mean" ? "mean" : Number(e.target.value); render(app);
  });
  root.querySelector("#vx-rollout").addEventListener("change", (e) => { app.state.rollout = e.target.checked; render(app); });
  root.querySelector("#vx-grid").addEventListener("click", (event) => {
    const target = event.target.closest("canvas");
    if (!target) return;
    app.state.block = Number(target.dataset.block);
    app.state.head = Number(target.dataset.head);
    app.state.rollout = false;
    root.querySelector("#vx-block").value = String(app.state.block);
    root.querySelector("#vx-head").value = String(app.state.head);
    root.querySelector("#vx-rollout").checked = false;
    render(app);
  });
}

// ------------------------------------------------------------------ start
async function start() {
  if (!root) return;
  const t0 = performance.now();
  const meta = await (await fetch(new URL("generated/digits.json", HERE))).json();
  build(meta);
  const ort = window.ort;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = new URL("../ort/", HERE).href;
  const session = await ort.InferenceSession.create(new URL("generated/digits.onnx", HERE).href,
    { executionProviders: ["wasm"] });
  const app = {
    meta, session, result: null, view: null,
    state: { strokes: [], digit: null, sample: 0, query: 0, block: meta.config.depth - 1, head: "mean", rollout: false },
    timings: { ready: 0, first: 0 },
  };
  // One forward pass for an 8 x 8 digit of counts 0..16; plain arrays, for the page and the tests.
  app.predict = async (digit) => {
    const input = new ort.Tensor("float32", Float32Array.from(digit.flat(), (v) => v / 16), [1, 1, 8, 8]);
    const out = await session.run({ images: input });
    const pick = (name) => ({ data: out[name].data, dims: out[name].dims });
    return {
      logits: pick("logits"), pixels: pick("pixels"), patches: pick("patches"), tokens: pick("tokens"),
      attention: Array.from({ length: meta.config.depth }, (_, b) => pick(`attention_${b}`)),
    };
  };
  // One run at a time; a change during a run asks for one more. The promise settles when the
  // page shows the latest drawing.
  let pending = null;
  let again = false;
  app.update = () => {
    if (pending) { again = true; return pending; }
    pending = (async () => {
      try {
        do {
          again = false;
          if (app.state.sample === null) app.state.digit = strokesToDigit(app.state.strokes, meta.pen);
          app.result = await app.predict(app.state.digit);
          render(app);
        } while (again);
      } finally { pending = null; }
    })();
    return pending;
  };
  app.schedule = () => { if (app.state.strokes.length) app.update(); };
  app.clear = () => { app.state.strokes = []; app.state.sample = null; app.paint(); };
  app.showSample = async (label) => {
    app.state.strokes = [];
    app.state.sample = label;
    app.state.digit = meta.samples[label].image;
    app.paint();
    await app.update();
  };
  attachDrawing(app);
  attachAttention(app);
  root.querySelector("#vx-clear").addEventListener("click", () => app.clear());
  root.querySelector(".vx-samples").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (button) app.showSample(Number(button.dataset.sample));
  });
  app.timings.ready = performance.now() - t0;
  await app.showSample(0);
  app.timings.first = performance.now() - t0;
  statusLine(`Ready: the model runs in this page (onnxruntime-web, one thread). Draw a digit, or pick a test digit.`);
  // for the site tests and the benchmark
  window.explorer = {
    app,
    meta,
    digitOf: (strokes) => strokesToDigit(strokes, meta.pen),
    rollout,
    predict: async (digit) => {
      const r = await app.predict(digit);
      const plain = (t) => ({ data: Array.from(t.data), dims: Array.from(t.dims) });
      return { logits: plain(r.logits), pixels: plain(r.pixels), patches: plain(r.patches),
        tokens: plain(r.tokens), attention: r.attention.map(plain), rollout: rollout(r) };
    },
    drawStrokes: async (strokes) => {
      app.state.sample = null;
      app.state.strokes = strokes.map((s) => s.map((p) => [p[0], p[1]]));
      app.paint();
      await app.update();
      return app.state.digit;
    },
    view: () => app.view,
  };
  root.dataset.ready = "true";
}

start().catch((error) => {
  if (root) {
    root.dataset.ready = "error";
    const status = root.querySelector(".vx-status");
    if (status) {
      status.textContent = `The explorer could not start: ${error.message}`;
      status.setAttribute("role", "alert");
      status.classList.add("vx-alert");
    }
  }
  throw error;
});
