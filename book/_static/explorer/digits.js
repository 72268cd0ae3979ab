// A drawing brought to scikit-learn's digits as they were made (chapter 16): scaled to fill a
// 32 x 32 bitmap's height and centred, inked with a round pen, counted in 4 x 4 blocks.
// The same arithmetic as vit_lib.explorer.ink_bitmap and strokes_to_digit, operation for
// operation, so that the 8 x 8 counts are the same numbers (the site tests compare them).

// Squared distance from the point (px, py) to the segment a-b (`_squared_distance` in Python).
function squaredDistance(px, py, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const length = dx * dx + dy * dy;
  const t = length === 0 ? 0 : Math.max(0, Math.min(1, ((px - a[0]) * dx + (py - a[1]) * dy) / length));
  const ex = px - (a[0] + t * dx);
  const ey = py - (a[1] + t * dy);
  return ex * ex + ey * ey;
}

// Strokes (arrays of [x, y] points, y down, any scale) -> a size x size array of 0s and 1s.
// `pen` = {size, block, width, radius}, the constants of vit_lib.explorer (digits.json).
export function inkBitmap(strokes, pen) {
  const points = strokes.flat();
  if (points.length === 0) throw new Error("no strokes: there is nothing to read (draw a digit first)");
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [xMin, xMax, yMin, yMax] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const height = Math.max(yMax - yMin, 1e-9);
  const width = Math.max(xMax - xMin, 1e-9);
  const scale = Math.min((pen.size - 2 * pen.radius) / height, (pen.width - 2 * pen.radius) / width);
  const cx = (xMin + xMax) / 2;
  const cy = (yMin + yMax) / 2;
  const segments = [];
  for (const stroke of strokes) {
    let path = stroke.map(([x, y]) => [pen.size / 2 + (x - cx) * scale, pen.size / 2 + (y - cy) * scale]);
    if (path.length === 1) path = [path[0], path[0]]; // a dot: a segment of length 0
    for (let i = 0; i + 1 < path.length; i++) segments.push([path[i], path[i + 1]]);
  }
  const r2 = pen.radius ** 2;
  const bitmap = [];
  for (let row = 0; row < pen.size; row++) {
    const line = [];
    for (let col = 0; col < pen.size; col++) {
      line.push(segments.some(([a, b]) => squaredDistance(col + 0.5, row + 0.5, a, b) <= r2) ? 1 : 0);
    }
    bitmap.push(line);
  }
  return bitmap;
}

// Strokes -> the (size / block) x (size / block) digit of ink counts, 0..block * block.
export function strokesToDigit(strokes, pen) {
  const bitmap = inkBitmap(strokes, pen);
  const cells = pen.size / pen.block;
  const digit = Array.from({ length: cells }, () => new Array(cells).fill(0));
  bitmap.forEach((line, row) => line.forEach((on, col) => {
    digit[Math.floor(row / pen.block)][Math.floor(col / pen.block)] += on;
  }));
  return digit;
}
