/**
 * Axis scales and tick placement for report charts: "nice" linear ticks
 * (1, 2, 5 × 10^k steps) and decade ticks for log scales.
 */
import { GLYPH_HEIGHT, textWidth } from './font.js';
import { RgbCanvas, type Rgb } from './canvas.js';

/** A mapping from data values to pixel positions. */
export interface Scale {
  /** Data value → pixel coordinate. */
  map(value: number): number;
  /** Tick values inside the domain. */
  ticks: number[];
  /** Tick label for a tick value. */
  format(value: number): string;
  readonly log: boolean;
  readonly domain: [number, number];
}

/** The smallest "nice" step (1, 2 or 5 × 10^k) giving at most `target` intervals over `span`. */
export function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  const nice = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10;
  return nice * power;
}

/** Decimals needed to print multiples of `step` exactly (at most 6). */
function decimalsFor(step: number): number {
  for (let d = 0; d <= 6; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d;
  }
  return 6;
}

/** Compact tick label: fixed notation for moderate magnitudes, otherwise like 1e-4 or 2.5e6. */
export function formatNumber(value: number, step?: number): string {
  if (value === 0) return step !== undefined ? (0).toFixed(decimalsFor(step)) : '0';
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) {
    const exp = Math.floor(Math.log10(abs));
    const mant = value / 10 ** exp;
    const m = Math.abs(mant - Math.round(mant)) < 1e-6 ? String(Math.round(mant)) : mant.toFixed(1);
    return `${m}e${exp}`;
  }
  if (step !== undefined) return value.toFixed(decimalsFor(step));
  return Number(value.toPrecision(4)).toString();
}

/** A linear scale over [min, max] (extended to nice ticks when `nice`). */
export function linearScale(min: number, max: number, pixelFrom: number, pixelTo: number, targetTicks = 6, nice = true): Scale {
  if (!(max > min)) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = niceStep(max - min, targetTicks);
  if (nice) {
    min = Math.floor(min / step + 1e-9) * step;
    max = Math.ceil(max / step - 1e-9) * step;
  }
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  const lo = min;
  const hi = max;
  return {
    map: (v) => pixelFrom + ((v - lo) / (hi - lo)) * (pixelTo - pixelFrom),
    ticks,
    format: (v) => formatNumber(v, step),
    log: false,
    domain: [lo, hi],
  };
}

/** A log10 scale over [min, max] (both > 0), extended to whole decades. */
export function logScale(min: number, max: number, pixelFrom: number, pixelTo: number): Scale {
  let lo = Math.floor(Math.log10(min));
  let hi = Math.ceil(Math.log10(max));
  if (hi <= lo) {
    lo -= 0;
    hi = lo + 1;
  }
  const decades = hi - lo;
  const ticks: number[] = [];
  // Few decades: also label 2× and 5×, so the axis has enough ticks to read.
  const multiples = decades <= 2 ? [1, 2, 5] : [1];
  const every = Math.max(1, Math.ceil(decades / 8));
  for (let e = lo; e <= hi; e += every) for (const m of multiples) if (e < hi || m === 1) ticks.push(m * 10 ** e);
  return {
    map: (v) => pixelFrom + ((Math.log10(v) - lo) / (hi - lo)) * (pixelTo - pixelFrom),
    ticks,
    format: (v) => formatNumber(v),
    log: true,
    domain: [10 ** lo, 10 ** hi],
  };
}

export const AXIS_COLOR: Rgb = [40, 40, 40];
export const GRID_COLOR: Rgb = [228, 228, 228];

/** Plot rectangle in canvas pixels. */
export interface PlotArea {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Draws gridlines, axes, ticks, tick labels, axis labels and title. */
export function drawAxes(
  canvas: RgbCanvas,
  area: PlotArea,
  x: Scale,
  y: Scale,
  labels: { title?: string; xLabel?: string; yLabel?: string },
): void {
  const bottom = area.top + area.height;
  const right = area.left + area.width;
  let widestY = 0;
  for (const t of y.ticks) {
    const py = Math.round(y.map(t));
    if (py < area.top - 0.5 || py > bottom + 0.5) continue;
    canvas.fillRect(area.left, py, area.width, 1, GRID_COLOR);
    canvas.fillRect(area.left - 4, py, 4, 1, AXIS_COLOR);
    const label = y.format(t);
    widestY = Math.max(widestY, textWidth(label));
    canvas.text(label, area.left - 7, py, { align: 'right', baseline: 'middle', color: AXIS_COLOR });
  }
  let lastLabelEnd = -Infinity;
  for (const t of x.ticks) {
    const px = Math.round(x.map(t));
    if (px < area.left - 0.5 || px > right + 0.5) continue;
    canvas.fillRect(px, area.top, 1, area.height, GRID_COLOR);
    canvas.fillRect(px, bottom, 1, 4, AXIS_COLOR);
    const label = x.format(t);
    const w = textWidth(label);
    // Skip labels that would overlap the previous one.
    if (px - w / 2 > lastLabelEnd + 4) {
      canvas.text(label, px, bottom + 7, { align: 'center', color: AXIS_COLOR });
      lastLabelEnd = px + w / 2;
    }
  }
  canvas.fillRect(area.left, area.top, 1, area.height + 1, AXIS_COLOR);
  canvas.fillRect(area.left, bottom, area.width + 1, 1, AXIS_COLOR);
  if (labels.title) {
    // Large title when it fits, otherwise the 1× font.
    const scale = textWidth(labels.title, 2) <= canvas.width - 16 ? 2 : 1;
    const cx = Math.min(Math.max(area.left + area.width / 2, textWidth(labels.title, scale) / 2 + 8), canvas.width - textWidth(labels.title, scale) / 2 - 8);
    canvas.text(labels.title, cx, scale === 2 ? 8 : 12, { align: 'center', scale });
  }
  if (labels.xLabel) canvas.text(labels.xLabel, area.left + area.width / 2, bottom + 7 + GLYPH_HEIGHT + 8, { align: 'center' });
  if (labels.yLabel) {
    canvas.text(labels.yLabel, Math.max(2, area.left - 7 - widestY - 6 - GLYPH_HEIGHT), area.top + area.height / 2, {
      align: 'center',
      vertical: true,
    });
  }
}
