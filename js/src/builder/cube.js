// The data-cube glyph of the seeds' drawings: its face follows height × width,
// its depth follows the channels. Sizes are logarithmic so 192×192×3 and
// 6×6×256 both stay readable in a 40-layer stack.

const SVG = "http://www.w3.org/2000/svg";

function scale(value, lo, hi, outLo, outHi) {
  const t = Math.min(1, Math.max(0, (Math.log2(Math.max(1, value)) - lo) / (hi - lo)));
  return outLo + t * (outHi - outLo);
}

export function cube(shape) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "convlab-cube");
  svg.setAttribute("viewBox", "0 0 40 30");
  svg.setAttribute("aria-hidden", "true");
  if (!shape) return svg;
  let height = 1;
  let width = 1;
  let depth = shape[shape.length - 1];
  if (shape.length >= 3) [height, width] = shape;
  else if (shape.length === 1) depth = shape[0];
  const face = shape.length >= 3 ? scale(height * width, 0, 16, 4, 22) : 3;
  const faceH = shape.length >= 3 ? scale(height, 0, 8, 4, 22) : 3;
  const faceW = shape.length >= 3 ? scale(width, 0, 8, 4, 22) : face;
  const d = scale(depth, 0, 11, 2, 12);
  const x = 4;
  const y = 26 - faceH;
  const points = (pts) => pts.map((p) => p.join(",")).join(" ");
  const polygon = (pts, cls) => {
    const node = document.createElementNS(SVG, "polygon");
    node.setAttribute("points", points(pts));
    node.setAttribute("class", cls);
    return node;
  };
  svg.append(
    polygon([[x, y], [x + d, y - d * 0.6], [x + d + faceW, y - d * 0.6], [x + faceW, y]], "top"),
    polygon([[x + faceW, y], [x + faceW + d, y - d * 0.6], [x + faceW + d, y + faceH - d * 0.6], [x + faceW, y + faceH]], "side"),
    polygon([[x, y], [x + faceW, y], [x + faceW, y + faceH], [x, y + faceH]], "front"),
  );
  return svg;
}
