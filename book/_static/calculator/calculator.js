// The shape calculator of book/shape_calculator.md: every stage's shape, parameters and FLOPs
// of a vit_lib VisionTransformer, computed from the configuration alone.
//
// `compute(config)` is pure and knows nothing of the page; the DOM code below it only reads the
// form and writes the tables. tests/website/test_shape_calculator.py checks `compute` against
// vit_lib itself: the shapes of `shape_trace`, the parameters of the built model, the FLOPs that
// `torch.utils.flop_counter.FlopCounterMode` counts (chapter 10), and ViTConfig's error messages.
//
// Shapes: N batch, C/H/W image, P patch, L = T - 1 patch tokens, T tokens, D width, h heads,
// d_h head width, D_ff hidden width of the MLP, K classes.

// The seed configuration of the course (book/index.md); depth 2, as chapter 10 builds it.
export const SEED = Object.freeze({
  N: 4, C: 3, H: 32, W: 32, P: 8, D: 1024, h: 12, d_h: 64, D_ff: 2048, K: 1000,
  depth: 2, class_token: true, pool: "token",
});

// vit_lib.stages.Stage: number, label and the chapter whose section `stage-<number>` builds it.
const STAGE = {
  INPUT: [1, "input", "01_patches"],
  PATCH_EMBED: [2, "patch embedding", "01_patches"],
  CLASS_TOKEN: [3, "class token", "02_tokens"],
  POS_EMBED: [4, "positional embedding", "02_tokens"],
  QKV: [5, "q, k, v (each)", "03_qkv_heads"],
  SPLIT_HEADS: [6, "split heads", "03_qkv_heads"],
  SCORES: [7, "scores", "04_attention_scores"],
  SOFTMAX: [8, "softmax", "04_attention_scores"],
  WEIGHTED_VALUES: [9, "weighted values", "04_attention_scores"],
  MERGE_HEADS: [10, "merge heads", "05_merge_heads"],
  PROJ_RESIDUAL: [11, "output projection + residual", "05_merge_heads"],
  NORM: [12, "LayerNorm", "06_layernorm"],
  FFN_RESIDUAL: [13, "feed-forward + residual", "07_ffn"],
  ENCODER: [14, "encoder (+ final norm)", "08_encoder"],
  POOL: [15, "pooling", "09_pool_head"],
  HEAD: [16, "classification head", "09_pool_head"],
};

const GLOBAL_POOLS = ["token", "avg"];  // vit_lib.pool.GLOBAL_POOLS
const WHOLE_NUMBERS = ["N", "C", "H", "W", "P", "D", "h", "D_ff", "K", "depth"];

// ----------------------------------------------------------------- the interface's words

// One table per language, with the same keys (tests/website/test_shape_calculator.py checks
// them); the page's <html lang> picks one: "zh-CN" on the Chinese edition, English otherwise.
// `{name}` is filled in by fill(). ViTConfig's messages are not here: the page shows them as
// Python prints them, in every language. The calculator's own rules are (`ownRule`), worded
// like ViTConfig's in English.
const TEXT = {
  en: {
    images: "Images",
    widths: "Widths",
    model: "Model",
    batchSize: "batch size",
    imgHeight: "img_size height",
    imgWidth: "img_size width",
    headDim: "head_dim, empty: D // h",
    encoderBlocks: "encoder blocks",
    numClasses: "num_classes, 0: no head",
    classToken: "class token",
    pooling: "pooling",
    reset: "Back to the seed configuration",
    noteBefore: "Every stage in the order the model computes it, as",
    noteAfter: "prints it; each name links to the section that builds the stage.",
    stagesRegion: "Every stage: shape, parameters, FLOPs",
    stagesCaption: "Stages, shapes, parameters and FLOPs",
    stage: "stage",
    where: "where",
    shape: "shape",
    parameters: "parameters",
    flops: "FLOPs",
    paramsRegion: "Parameters by group",
    paramsCaption: "Parameters, grouped as in chapter 10's table.",
    flopsRegion: "FLOPs by group",
    flopsCaptionBefore: "FLOPs, grouped as in chapter 10's",
    flopsCaptionAfter: ".",
    group: "group",
    share: "share",
    total: "total",
    block: "block {block}",
    stagePart: "{stage} ({part})",
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
    groupBlocks: "{depth} blocks",
    groupFinalNorm: "final norm",
    groupHead: "head",
    groupAttention: "scores + weighted values",
    summary: "T = {T} tokens ({patches}), h·d_h = {inner}, D_ff = {D_ff} (mlp_ratio {mlp_ratio}); {params} parameters, {flops} FLOPs per forward pass.",
    withClassToken: "{L} patches + class token",
    patchesOnly: "patches only",
    // a second sentence after the summary: in English, a space between the two
    roundedDown: " The MLP gets {D_ff} hidden units, not {asked}: int({D} * {mlp_ratio}) rounds the float product down.",
    notWhole: "{name} must be a whole number, got {got}",
    notWholeOrEmpty: "d_h must be a whole number or empty (D // h), got {got}",
    notAFlag: "class_token must be true or false, got {got}",
    notAString: "pool must be a string, got {got}",
    noHeight: "image height H must be at least 1, got {H}",
    noWidth: "image width W must be at least 1, got {W}",
    noBatch: "batch size N must be at least 1, got {N}",
  },
  zh: {
    images: "图像",
    widths: "宽度",
    model: "模型",
    batchSize: "批大小",
    imgHeight: "img_size 的高",
    imgWidth: "img_size 的宽",
    headDim: "head_dim，留空即 D // h",
    encoderBlocks: "编码器的块数",
    numClasses: "num_classes，0 表示没有分类头",
    classToken: "类别标记",
    pooling: "全局池化",
    reset: "恢复基准配置",
    noteBefore: "每个阶段按模型计算的顺序排列，与",
    noteAfter: "打印的一致；每个名称都链接到构建该阶段的小节。",
    stagesRegion: "每个阶段：形状、参数、浮点运算次数",
    stagesCaption: "各阶段的形状、参数与浮点运算次数",
    stage: "阶段",
    where: "所在块",
    shape: "形状",
    parameters: "参数",
    flops: "浮点运算次数",
    paramsRegion: "按组统计的参数",
    paramsCaption: "参数，按第 10 章表格的方式分组。",
    flopsRegion: "按组统计的浮点运算次数",
    flopsCaptionBefore: "浮点运算次数（FLOPs），分组方式同第 10 章的",
    flopsCaptionAfter: "。",
    group: "组",
    share: "占比",
    total: "合计",
    block: "块 {block}",
    stagePart: "{stage}（{part}）",
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
    groupBlocks: "{depth} 个块",
    groupFinalNorm: "最终归一化",
    groupHead: "分类头",
    groupAttention: "注意力分数 + 值的加权和",
    summary: "T = {T} 个词元（{patches}），h·d_h = {inner}，D_ff = {D_ff}（mlp_ratio {mlp_ratio}）；参数 {params} 个，每次前向传播 {flops} 次浮点运算（FLOPs）。",
    withClassToken: "{L} 个图像块 + 类别标记",
    patchesOnly: "只有图像块",
    roundedDown: "MLP 得到 {D_ff} 个隐藏单元，而不是 {asked}：int({D} * {mlp_ratio}) 把浮点乘积向下取整了。",
    notWhole: "{name} 必须是整数，实际为 {got}",
    notWholeOrEmpty: "d_h 必须是整数或留空（即 D // h），实际为 {got}",
    notAFlag: "class_token 必须是 true 或 false，实际为 {got}",
    notAString: "pool 必须是字符串，实际为 {got}",
    noHeight: "图像高度 H 至少为 1，实际为 {H}",
    noWidth: "图像宽度 W 至少为 1，实际为 {W}",
    noBatch: "批大小 N 至少为 1，实际为 {N}",
  },
};

// A string of `table` (TEXT.en or TEXT.zh) with its {placeholders} filled from `values`.
function fill(table, key, values = {}) {
  return table[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}

// ----------------------------------------------------------------- Python's way of printing

// repr() of a Python str, for the messages that quote one (`unknown global_pool 'max'`).
function pyStrRepr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const escaped = text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t");
  return quote + (quote === "'" ? escaped.replace(/'/g, "\\'") : escaped) + quote;
}

// repr() of a Python float: the shortest digits that round-trip (as in JavaScript), but written
// the Python way: "2.0", not "2"; "1e-05" and "1e+16", not "0.00001" and "10000000000000000".
function pyFloatRepr(x) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa, exponent] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exp = Number(exponent);
  const sign = x < 0 ? "-" : "";
  if (exp < -4 || exp >= 16) {  // Python's repr switches to scientific notation here
    const rest = digits.length > 1 ? "." + digits.slice(1) : "";
    const expText = String(Math.abs(exp)).padStart(2, "0");
    return `${sign}${digits[0]}${rest}e${exp < 0 ? "-" : "+"}${expText}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  return `${sign}${whole}.${digits.slice(exp + 1) || "0"}`;
}

function describe(value) {
  return typeof value === "string" ? pyStrRepr(value) : String(value);
}

// ----------------------------------------------------------------- the checks

// An error: its message, and the calculator's field that it is about (the page marks it).
const refuse = (field, error) => ({ error, field });

// An error of the calculator's own rules: its English message from TEXT, and its key and values,
// with which the page words it in the page's language.
const ownRule = (field, key, values) => ({ ...refuse(field, fill(TEXT.en, key, values)), key, values });

// What the calculator needs before any rule can apply: whole numbers, a flag, a string.
function inputError(cfg) {
  for (const name of WHOLE_NUMBERS) {
    if (!Number.isSafeInteger(cfg[name])) {
      return ownRule(name, "notWhole", { name, got: describe(cfg[name]) });
    }
  }
  if (cfg.d_h !== null && !Number.isSafeInteger(cfg.d_h)) {
    return ownRule("d_h", "notWholeOrEmpty", { got: describe(cfg.d_h) });
  }
  if (typeof cfg.class_token !== "boolean") {
    return ownRule("class_token", "notAFlag", { got: describe(cfg.class_token) });
  }
  if (typeof cfg.pool !== "string") {
    return ownRule("pool", "notAString", { got: describe(cfg.pool) });
  }
  return null;
}

// ViTConfig.__post_init__ (chapter 10), rule for rule and in its order, with its messages.
// Its checks of pos_embed and of the dropout rates have no input here: the calculator builds
// ViTConfig's defaults ('learned' positions, no dropout).
function vitConfigError(cfg) {
  const { C, H, W, P, D, h, d_h, D_ff, K, depth } = cfg;
  for (const [axis, size, field] of [["height", H, "H"], ["width", W, "W"]]) {
    if (P <= 0 || size % P !== 0) {
      return refuse(P <= 0 ? "P" : field,
        `img_size ${axis} ${size} is not divisible by patch_size ${P}`);
    }
  }
  for (const [name, value, field] of [["in_chans", C, "C"], ["embed_dim", D, "D"],
    ["depth", depth, "depth"], ["num_heads", h, "h"]]) {
    if (value < 1) return refuse(field, `${name} must be at least 1, got ${value}`);
  }
  if (K < 0) return refuse("K", `num_classes must be >= 0, got ${K}`);
  if (d_h === null && D % h !== 0) {
    return refuse("d_h",
      `embed_dim ${D} is not divisible by num_heads ${h}; set head_dim explicitly`);
  }
  if (d_h !== null && d_h < 1) return refuse("d_h", `head_dim must be at least 1, got ${d_h}`);
  if (!GLOBAL_POOLS.includes(cfg.pool)) {
    const expected = `(${GLOBAL_POOLS.map(pyStrRepr).join(", ")})`;
    return refuse("pool",
      `unknown global_pool ${pyStrRepr(cfg.pool)}; expected one of ${expected}`);
  }
  if (cfg.pool === "token" && !cfg.class_token) {
    return refuse("class_token",
      "global_pool='token' needs class_token=True; use global_pool='avg' without one");
  }
  const mlpRatio = D_ff / D;  // the calculator passes mlp_ratio = D_ff / D
  if (!(mlpRatio > 0)) {
    return refuse("D_ff", `mlp_ratio must be positive, got ${pyFloatRepr(mlpRatio)}`);
  }
  return null;
}

// What ViTConfig lets through but no model can run: an image of no pixels (0 or a negative
// multiple of P passes the divisibility check; PyTorch then fails with an error of its own),
// and a batch of no images. The messages are the calculator's, in ViTConfig's wording.
function calculatorError(cfg) {
  if (cfg.H < 1) return ownRule("H", "noHeight", { H: cfg.H });
  if (cfg.W < 1) return ownRule("W", "noWidth", { W: cfg.W });
  if (cfg.N < 1) return ownRule("N", "noBatch", { N: cfg.N });
  return null;
}

// ----------------------------------------------------------------- the model, stage by stage

// The sizes the model is built with (VisionTransformer, chapter 10).
function sizes(cfg) {
  const patches = (cfg.H / cfg.P) * (cfg.W / cfg.P);          // L = T - 1
  const tokens = patches + (cfg.class_token ? 1 : 0);         // T
  const headDim = cfg.d_h ?? Math.floor(cfg.D / cfg.h);       // head_dim=None: D // h
  const mlpRatio = cfg.D_ff / cfg.D;
  // Block builds Mlp(D, int(D * mlp_ratio)): Python's int() truncates the float product, which
  // can fall just short of D_ff (D = 11, D_ff = 15 gives 14)
  const hidden = Math.trunc(cfg.D * mlpRatio);
  return { patches, tokens, headDim, inner: cfg.h * headDim, hidden, mlpRatio };
}

// Parameters and FLOPs per stage, as chapter 10 counts them: a Linear(a -> b) has a*b + b
// parameters and costs 2*M*a*b FLOPs on M vectors (FlopCounterMode's convention, 2 per
// multiply-add); LayerNorm, softmax, GELU, scaling and additions are not counted.
function costs(cfg, s) {
  const n = BigInt;
  const [N, C, P, D, K] = [n(cfg.N), n(cfg.C), n(cfg.P), n(cfg.D), n(cfg.K)];
  const [L, T, h, dh, inner, hidden] =
    [n(s.patches), n(s.tokens), n(cfg.h), n(s.headDim), n(s.inner), n(s.hidden)];
  const patch = C * P * P;                                     // C·P² numbers per patch
  const zero = { params: 0n, flops: 0n };
  return {
    input: zero,
    patchEmbed: { params: patch * D + D, flops: 2n * N * L * patch * D },  // stride-P Conv2d
    classToken: { params: D, flops: 0n },
    posEmbed: { params: T * D, flops: 0n },                   // learned: one vector per token
    norm: { params: 2n * D, flops: 0n },                      // weight and bias
    qkv: { params: D * 3n * inner + 3n * inner, flops: 2n * N * T * D * 3n * inner },
    scores: { params: 0n, flops: 2n * N * h * T * T * dh },   // Q·Kᵀ: (T × d_h)·(d_h × T)
    weightedValues: { params: 0n, flops: 2n * N * h * T * T * dh },  // (T × T)·(T × d_h)
    proj: { params: inner * D + D, flops: 2n * N * T * inner * D },
    mlp: { params: D * hidden + hidden + hidden * D + D, flops: 2n * 2n * N * T * D * hidden },
    head: K > 0n ? { params: D * K + K, flops: 2n * N * D * K } : zero,  // K = 0: no head
    zero,
  };
}

function row(stage, shape, cost, where = "", part = "") {
  const [number, label, chapter] = stage;
  return {
    stage: number,
    name: part ? `${label} (${part})` : label,
    where,
    shape,
    params: cost.params,
    flops: cost.flops,
    href: `${chapter}.html#stage-${number}`,
  };
}

// The rows of `shape_trace`, in the order the model computes them (forward_features, Block).
function stageRows(cfg, s, c) {
  const { N, C, H, W, D, K, h } = cfg;
  const { patches: L, tokens: T, headDim: dh, inner } = s;
  const rows = [row(STAGE.INPUT, [N, C, H, W], c.input),
    row(STAGE.PATCH_EMBED, [N, L, D], c.patchEmbed)];
  if (cfg.class_token) rows.push(row(STAGE.CLASS_TOKEN, [N, T, D], c.classToken));
  rows.push(row(STAGE.POS_EMBED, [N, T, D], c.posEmbed));
  for (let i = 0; i < cfg.depth; i++) {
    const where = `block ${i}`;
    rows.push(
      row(STAGE.NORM, [N, T, D], c.norm, where, "norm1"),      // pre-norm: norm1 comes first
      row(STAGE.QKV, [N, T, inner], c.qkv, where),
      row(STAGE.SPLIT_HEADS, [N, h, T, dh], c.zero, where),
      row(STAGE.SCORES, [N, h, T, T], c.scores, where),
      row(STAGE.SOFTMAX, [N, h, T, T], c.zero, where),
      row(STAGE.WEIGHTED_VALUES, [N, h, T, dh], c.weightedValues, where),
      row(STAGE.MERGE_HEADS, [N, T, inner], c.zero, where),
      row(STAGE.PROJ_RESIDUAL, [N, T, D], c.proj, where),
      row(STAGE.NORM, [N, T, D], c.norm, where, "norm2"),
      row(STAGE.FFN_RESIDUAL, [N, T, D], c.mlp, where),
    );
  }
  // 'token' pooling normalises every token (`norm`, stage 14); 'avg' normalises the mean
  // (`fc_norm`, stage 15). Without a head (K = 0) stage 16 passes the pooled (N, D) through.
  const avg = cfg.pool === "avg";
  rows.push(
    row(STAGE.ENCODER, [N, T, D], avg ? c.zero : c.norm),
    row(STAGE.POOL, [N, D], avg ? c.norm : c.zero),
    row(STAGE.HEAD, [N, K > 0 ? K : D], c.head),
  );
  return rows;
}

// Chapter 10's own groups: its parameter table (`param_formulas`) and `flop_formulas`.
function chapterGroups(cfg, c) {
  const depth = BigInt(cfg.depth);
  const block = (part) => depth * c[part].params;
  return {
    params: {
      "patch embedding": c.patchEmbed.params,
      "class token": cfg.class_token ? c.classToken.params : 0n,
      "positional embedding": c.posEmbed.params,
      [`${cfg.depth} blocks`]: block("norm") * 2n + block("qkv") + block("proj") + block("mlp"),
      "final norm": c.norm.params,
      "head": c.head.params,
    },
    flops: {
      "patch embedding": c.patchEmbed.flops,
      "qkv": depth * c.qkv.flops,
      "scores + weighted values": depth * (c.scores.flops + c.weightedValues.flops),
      "proj": depth * c.proj.flops,
      "mlp": depth * c.mlp.flops,
      "head": c.head.flops,
    },
  };
}

/**
 * Every stage of a ViT with this configuration, or the error that stops it.
 *
 * `config` uses the calculator's names (see SEED; a missing field takes the seed's value):
 * N, C, H, W, P, D, h, d_h (null: D // h), D_ff, K, depth, class_token, pool ('token'/'avg').
 * Returns {stages: [{stage, name, where, shape, params, flops, href}], params, flops, groups,
 * sizes} or {error, field}: ViTConfig's message, and the field it is about (the calculator's own
 * rules add {key, values}: their wording in TEXT). Parameters and FLOPs are BigInts: exact
 * beyond 2^53.
 */
export function compute(config) {
  const cfg = { ...SEED, ...config };
  if (cfg.d_h === undefined || cfg.d_h === "") cfg.d_h = null;
  const refused = inputError(cfg) ?? vitConfigError(cfg) ?? calculatorError(cfg);
  if (refused) return refused;
  const s = sizes(cfg);
  const c = costs(cfg, s);
  const stages = stageRows(cfg, s, c);
  return {
    stages,
    params: stages.reduce((sum, r) => sum + r.params, 0n),
    flops: stages.reduce((sum, r) => sum + r.flops, 0n),
    groups: chapterGroups(cfg, c),
    sizes: { T: s.tokens, d_h: s.headDim, inner: s.inner, D_ff: s.hidden,
      mlp_ratio: pyFloatRepr(s.mlpRatio) },
  };
}

// ================================================================= the page

const FIELDS = ["N", "C", "H", "W", "P", "D", "h", "d_h", "D_ff", "K", "depth"];

// The interface string `key` in the page's language.
function text(key, values = {}) {
  const chinese = document.documentElement.lang.toLowerCase().startsWith("zh");
  return fill(chinese ? TEXT.zh : TEXT.en, key, values);
}

// The page's own HTML (book/shape_calculator.md) marks its words with data-i18n="key", and its
// aria-labels with data-i18n-label="key".
function translatePage(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = text(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", text(node.dataset.i18nLabel));
  }
}

// A row's stage name and block in the page's language: compute() gives them as shape_trace
// prints them ("LayerNorm (norm1)", "block 0").
function stageName(r) {
  const part = r.name.match(/ \((norm\d)\)$/);
  const name = text(`stage${r.stage}`);
  return part ? text("stagePart", { stage: name, part: part[1] }) : name;
}

function blockName(where) {
  const block = where.match(/^block (\d+)$/);
  return block ? text("block", { block: block[1] }) : where;
}

// Chapter 10's group names (compute()'s keys) in the page's language; qkv, proj and mlp are the
// modules' names and stay.
const GROUP_TEXT = { "patch embedding": "stage2", "class token": "stage3",
  "positional embedding": "stage4", "final norm": "groupFinalNorm", "head": "groupHead",
  "scores + weighted values": "groupAttention" };

function groupName(name) {
  const blocks = name.match(/^(\d+) blocks$/);
  if (blocks) return text("groupBlocks", { depth: blocks[1] });
  return name in GROUP_TEXT ? text(GROUP_TEXT[name]) : name;
}

// The form's text as the calculator's config: "12" -> 12; anything else stays a string, which
// `compute` refuses with a message naming the field ("-0" becomes 0, as Python's int() reads it).
function readForm(form) {
  const config = {};
  for (const name of FIELDS) {
    const text = form.elements[name].value.trim();
    config[name] = /^[+-]?\d+$/.test(text) ? Number(text) + 0 : text;
  }
  if (config.d_h === "") config.d_h = null;
  config.class_token = form.elements.class_token.checked;
  config.pool = form.elements.pool.value;
  return config;
}

const formatCount = (value) => value.toLocaleString("en-US");
const formatShape = (shape) => `(${shape.join(", ")})`;

function share(part, whole) {
  if (whole === 0n) return "";
  return `${(Number((part * 10000n) / whole) / 100).toFixed(2)} %`;
}

function cell(tag, text, className = "") {
  const element = document.createElement(tag);
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

function countCell(value) {
  return cell("td", formatCount(value), value === 0n ? "count zero" : "count");
}

function renderStages(body, foot, result) {
  body.replaceChildren(...result.stages.map((r) => {
    const tr = document.createElement("tr");
    if (r.where && r.name.endsWith("(norm1)")) tr.className = "block-start";
    const name = cell("td", "", "stage-name");
    const link = cell("a", stageName(r));
    link.href = r.href;  // relative: on the Chinese edition it opens the Chinese chapter
    name.append(link);
    tr.append(cell("td", String(r.stage), "count"), name, cell("td", blockName(r.where)),
      cell("td", formatShape(r.shape), "shape"), countCell(r.params), countCell(r.flops));
    return tr;
  }));
  const total = document.createElement("tr");
  total.append(cell("th", ""), cell("th", text("total")), cell("th", ""), cell("th", ""),
    cell("th", formatCount(result.params), "count"),
    cell("th", formatCount(result.flops), "count"));
  foot.replaceChildren(total);
}

function renderGroups(body, groups, total) {
  body.replaceChildren(...Object.entries(groups).map(([name, value]) => {
    const tr = document.createElement("tr");
    tr.append(cell("td", groupName(name)), countCell(value), cell("td", share(value, total), "count"));
    return tr;
  }));
}

function renderSummary(element, result, config) {
  const { T, inner, D_ff, mlp_ratio } = result.sizes;
  const patches = config.class_token ? text("withClassToken", { L: T - 1 }) : text("patchesOnly");
  let summary = text("summary", { T, patches, inner, D_ff, mlp_ratio,
    params: formatCount(result.params), flops: formatCount(result.flops) });
  if (D_ff !== config.D_ff) {
    summary += text("roundedDown", { D_ff, asked: config.D_ff, D: config.D, mlp_ratio });
  }
  element.textContent = summary;
}

function update(root) {
  const form = root.querySelector("form");
  const config = readForm(form);
  const result = compute(config);
  const alert = root.querySelector("[role=alert]");
  const output = root.querySelector(".calc-output");
  for (const element of form.elements) {  // mark the field the message is about
    if (!element.name) continue;
    const invalid = element.name === result.field;
    element.setAttribute("aria-invalid", String(invalid));
    if (invalid) element.setAttribute("aria-describedby", alert.id);
    else element.removeAttribute("aria-describedby");
  }
  if (result.error) {  // ViTConfig's message as Python prints it; the calculator's own, translated
    alert.textContent = result.key ? text(result.key, result.values) : result.error;
    output.hidden = true;
    return;
  }
  alert.textContent = "";
  output.hidden = false;
  renderSummary(root.querySelector(".calc-summary"), result, config);
  renderStages(root.querySelector("#calc-stages tbody"), root.querySelector("#calc-stages tfoot"),
    result);
  renderGroups(root.querySelector("#calc-params tbody"), result.groups.params, result.params);
  renderGroups(root.querySelector("#calc-flops tbody"), result.groups.flops, result.flops);
}

function start() {
  const root = document.getElementById("calculator");
  if (!root) return;
  translatePage(root);
  const form = root.querySelector("form");
  form.addEventListener("input", () => update(root));
  form.addEventListener("change", () => update(root));
  form.addEventListener("submit", (event) => event.preventDefault());
  form.addEventListener("reset", () => setTimeout(() => update(root)));
  update(root);
}

if (typeof window !== "undefined") {
  window.shapeCalculator = { compute, SEED };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}
