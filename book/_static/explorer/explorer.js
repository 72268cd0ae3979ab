// The explorer (book/explorer.md): the course's trained digits ViT, run in the page by
// onnxruntime-web on one WebAssembly thread. The model file and digits.json come from
// tools/explorer_assets.py; the runtime is served by the site (book/_static/ort).
import { strokesToDigit } from "./digits.js";

const HERE = new URL("./", import.meta.url);
const root = document.getElementById("vit-explorer");

// ------------------------------------------------------------------ the interface's words
// One table per language, with the same keys (tests/test_explorer.py checks them); the page's
// <html lang> picks one: "zh-CN" on the Chinese edition (_build/html/zh_CN/), English otherwise.
// `{name}` is filled in by text(); code names, numbers and shapes stay as they are.
const TEXT = {
  en: {
    loadingRuntime: "Loading the runtime and the model… (the explorer needs JavaScript and a served site; see chapter 16)",
    loadingModel: "Loading the model…",
    ready: "Ready: the model runs in this page (onnxruntime-web, one thread). Draw a digit, or pick a test digit.",
    failed: "The explorer could not start: {error}",
    drawHeading: "Draw a digit",
    drawArea: "drawing area: draw one digit with the mouse or a finger",
    clear: "Clear",
    samples: "test digits",
    sample: "test {label}",
    sampleShown: "test digit {label}: draw to replace it",
    seesHeading: "What the model sees",
    digitImage: "the 8 by 8 digit",
    pixelsImage: "the 16 by 16 input cut into its 4 by 4 patches",
    sees: "8 × 8 ink counts → resized to {size} → {patches} patches of {patch} × {patch}",
    probsHeading: "Class probabilities",
    attentionHeading: "Attention",
    block: "block",
    blockNumber: "block {block}",
    head: "head",
    headNumber: "head {head}",
    meanOfHeads: "mean of heads",
    rollout: "rollout",
    attentionImage: "attention over the patches; hover or tap a patch to see its own row",
    colourScale: "colour scale",
    smallMap: "block {block}, head {head}",
    classToken: "the class token",
    patchToken: "patch {patch} (token {token})",
    viewRollout: "rollout through all blocks",
    viewMean: "block {block}, mean of the heads",
    viewHead: "block {block}, head {head}",
    query: "How much {who} attends to each patch: {what}. Small maps: every block (rows) and head (columns), on the same colour scale, 0 to {vmax}. Hover or tap a patch to see its own row.",
    tokensHeading: "Tokens after the embedding",
    tokensImage: "the tokens as a heat strip, one row per token, one column per feature",
    tokensNote: "tokens {shape}: the class token, then one row per patch, each of D = {width} features (blue negative, red positive, ±{vmax}), positions already added.",
    shapesHeading: "The shape of every stage",
    stage: "stage",
    where: "where",
    shape: "shape",
    firstBlock: "block 0 (and {more} more)",
    stage1: "input",
    stage2: "patch embedding",
    stage3: "class token",
    stage4: "positional embedding",
    stage5: "q, k, v (each)",
    stage6: "split heads",
    stage7: "scores",
    stage8: "softmax",
    stage9: "weighted values",
    stage10: "merge heads",
    stage11: "output projection + residual",
    stage12: "LayerNorm",
    stage13: "feed-forward + residual",
    stage14: "encoder (+ final norm)",
    stage15: "pooling",
    stage16: "classification head",
  },
  zh: {
    loadingRuntime: "正在加载运行时和模型……（探索器需要 JavaScript，且网站须由服务器提供；见第 16 章）",
    loadingModel: "正在加载模型……",
    ready: "就绪：模型在本页中运行（onnxruntime-web，单线程）。写一个数字，或选一个测试数字。",
    failed: "探索器无法启动：{error}",
    drawHeading: "写一个数字",
    drawArea: "绘图区：用鼠标或手指写一个数字",
    clear: "清除",
    samples: "测试数字",
    sample: "测试 {label}",
    sampleShown: "测试数字 {label}：在上面写字即可替换",
    seesHeading: "模型看到的图像",
    digitImage: "8 × 8 的数字",
    pixelsImage: "16 × 16 的输入，切成 4 × 4 的图像块",
    sees: "8 × 8 墨迹计数 → 缩放到 {size} → {patches} 个 {patch} × {patch} 的图像块",
    probsHeading: "类别概率",
    attentionHeading: "注意力",
    block: "块",
    blockNumber: "块 {block}",
    head: "头",
    headNumber: "头 {head}",
    meanOfHeads: "各头平均",
    rollout: "注意力展开",
    attentionImage: "各图像块上的注意力；悬停或轻触一个图像块，看它自己的那一行",
    colourScale: "色标",
    smallMap: "块 {block}，头 {head}",
    classToken: "类别标记",
    patchToken: "图像块 {patch}（词元 {token}）",
    viewRollout: "贯穿所有块的注意力展开",
    viewMean: "块 {block}，各头平均",
    viewHead: "块 {block}，头 {head}",
    query: "{who}对每个图像块的注意力：{what}。小图：每个块（行）和每个头（列），同一色标，0 到 {vmax}。悬停或轻触一个图像块，看它自己的那一行。",
    tokensHeading: "嵌入之后的词元",
    tokensImage: "词元的热力条：每行一个词元，每列一个特征",
    tokensNote: "词元 {shape}：先是类别标记，然后每个图像块一行，每行 D = {width} 个特征（蓝为负，红为正，±{vmax}），已加上位置编码。",
    shapesHeading: "每个阶段的形状",
    stage: "阶段",
    where: "所在块",
    shape: "形状",
    firstBlock: "块 0（其余 {more} 个块相同）",
    stage1: "输入",
    stage2: "图像块嵌入",
    stage3: "类别标记",
    stage4: "位置编码",
    stage5: "q, k, v（各自）",
    stage6: "拆分多头",
    stage7: "注意力分数",
    stage8: "softmax",
    stage9: "值的加权和",
    stage10: "合并多头",
    stage11: "输出投影 + 残差",
    stage12: "LayerNorm",
    stage13: "前馈网络 + 残差",
    stage14: "编码器（+ 最终归一化）",
    stage15: "全局池化",
    stage16: "分类头",
  },
};
const LANG = document.documentElement.lang.toLowerCase().startsWith("zh") ? "zh" : "en";

// The interface string `key` in the page's language, its {placeholders} filled from `values`.
function text(key, values = {}) {
  return TEXT[LANG][key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}

// The page's own HTML (book/explorer.md) marks its words with data-i18n="key".
function translatePage() {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = text(node.dataset.i18n);
}

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
function statusLine(line) {
  root.querySelector(".vx-status").textContent = line;
}

function build(meta) {
  root.replaceChildren();
  root.append(el("p", { class: "vx-status", role: "status", text: text("loadingModel") }));
  const samples = el("div", { class: "vx-samples", role: "group", "aria-label": text("samples") });
  for (const sample of meta.samples) {
    samples.append(el("button", { type: "button", "data-sample": sample.label,
      text: text("sample", { label: sample.label }) }));
  }
  const draw = el("canvas", { id: "vx-draw", width: 280, height: 280,
    "aria-label": text("drawArea") });
  const heads = el("select", { id: "vx-head", "aria-label": text("head") },
    el("option", { value: "mean", text: text("meanOfHeads") }),
    ...Array.from({ length: meta.config.num_heads }, (_, h) =>
      el("option", { value: h, text: text("headNumber", { head: h }) })));
  const blocks = el("select", { id: "vx-block", "aria-label": text("block") },
    ...Array.from({ length: meta.config.depth }, (_, b) =>
      el("option", { value: b, text: text("blockNumber", { block: b }) })));
  blocks.value = String(meta.config.depth - 1);
  root.append(
    el("div", { class: "vx-row" },
      el("div", { class: "vx-panel" }, el("h3", { text: text("drawHeading") }), draw,
        el("div", { class: "vx-buttons" },
          el("button", { type: "button", id: "vx-clear", text: text("clear") }), samples)),
      el("div", { class: "vx-panel" }, el("h3", { text: text("seesHeading") }),
        el("canvas", { id: "vx-digit", width: 128, height: 128, "aria-label": text("digitImage") }),
        el("canvas", { id: "vx-pixels", width: 128, height: 128, "aria-label": text("pixelsImage") }),
        el("p", { class: "vx-note", id: "vx-sees" })),
      el("div", { class: "vx-panel" }, el("h3", { text: text("probsHeading") }),
        el("div", { id: "vx-probs", class: "vx-probs" }))),
    el("div", { class: "vx-row" },
      el("div", { class: "vx-panel vx-wide" }, el("h3", { text: text("attentionHeading") }),
        el("div", { class: "vx-controls" }, blocks, heads,
          el("label", {}, el("input", { type: "checkbox", id: "vx-rollout" }), " ", text("rollout"))),
        el("div", { class: "vx-attention" },
          el("canvas", { id: "vx-main", width: 256, height: 256, "aria-label": text("attentionImage") }),
          el("canvas", { id: "vx-colourbar", width: 64, height: 256, "aria-label": text("colourScale") }),
          el("div", { id: "vx-grid", class: "vx-grid" })),
        el("p", { class: "vx-note", id: "vx-query" }))),
    el("div", { class: "vx-row" },
      el("div", { class: "vx-panel vx-wide" }, el("h3", { text: text("tokensHeading") }),
        el("canvas", { id: "vx-tokens", width: 640, height: 13 * meta.outputs.tokens[1],
          "aria-label": text("tokensImage") }),
        el("p", { class: "vx-note", id: "vx-tokens-note" }))),
    el("div", { class: "vx-row" },
      el("div", { class: "vx-panel vx-wide" }, el("h3", { text: text("shapesHeading") }),
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
  root.querySelector("#vx-sees").textContent = text("sees", {
    size: result.pixels.dims.slice(2).join(" × "), patches: grid * grid, patch: meta.config.patch_size });
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
    const label = text("smallMap", { block: b, head: h });
    const canvas = el("canvas", { width: 48, height: 48, "aria-label": label, title: label,
      "data-block": b, "data-head": h });
    overlay(canvas, app, map, vmax, query, grid);
    if (!state.rollout && b === state.block && (state.head === "mean" || state.head === h)) canvas.classList.add("vx-picked");
    return canvas;
  }));
  const who = query === 0 ? text("classToken") : text("patchToken", { patch: query - 1, token: query });
  const what = state.rollout ? text("viewRollout")
    : state.head === "mean" ? text("viewMean", { block: state.block })
      : text("viewHead", { block: state.block, head: state.head });
  root.querySelector("#vx-query").textContent = text("query", { who, what, vmax: vmax.toFixed(2) });
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
    text("tokensNote", { shape: shape(dims), width, vmax: vmax.toFixed(2) });
}

function renderShapes(app) {
  const { meta, result } = app;
  // live shapes where the page has the tensor; the others as shape_trace recorded them
  const live = { 1: result.pixels.dims, 2: result.patches.dims, 4: result.tokens.dims,
    8: result.attention[0].dims, 16: result.logits.dims };
  const rows = meta.stages.filter((s) => s.where === "" || s.where === "block 0");
  const table = root.querySelector("#vx-shapes");
  table.replaceChildren(el("thead", {}, el("tr", {},
    el("th", { text: text("stage") }), el("th", { text: text("where") }), el("th", { text: text("shape") }))));
  const body = el("tbody");
  for (const row of rows) {
    const dims = row.number in live && (row.where === "" || row.number === 8) ? Array.from(live[row.number]) : row.shape;
    // relative: on the Chinese edition the link opens the Chinese chapter
    const link = el("a", { href: `${row.chapter}.html#${row.anchor}`, text: `${row.number}. ${text(`stage${row.number}`)}` });
    body.append(el("tr", {}, el("td", {}, link),
      el("td", { text: row.where === "block 0" ? text("firstBlock", { more: meta.config.depth - 1 }) : "" }),
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
      ctx.fillText(text("sampleShown", { label: app.state.sample }), 10, canvas.height - 12);
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
  translatePage();
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
  statusLine(text("ready"));
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
      status.textContent = text("failed", { error: error.message });
      status.setAttribute("role", "alert");
      status.classList.add("vx-alert");
    }
  }
  throw error;
});
