/**
 * Report figures as PNG: image grids (originals vs reconstructions), bar
 * charts (codebook usage histograms) and line charts (loss curves).
 * Everything is drawn on an RgbCanvas with the built-in bitmap font.
 */
import { InvalidArgumentError } from '@vqkit/core';
import { validateRawImage, type RawImage } from '../io.js';
import { AXIS_COLOR, drawAxes, linearScale, logScale, type PlotArea, type Scale } from './axes.js';
import { RgbCanvas, SERIES_COLORS, WHITE, type Rgb } from './canvas.js';
import { GLYPH_HEIGHT, textWidth } from './font.js';

export interface ImageGridOptions {
  /** A label per row, drawn to the left (e.g. 'original', 'reconstruction'). */
  rowLabels?: string[];
  /** A label per column, drawn above. */
  columnLabels?: string[];
  /** Title above the grid. */
  title?: string;
  /** Integer nearest-neighbour enlargement. Default: the smallest making cells at least 64 px. */
  scale?: number;
  /** Gap between cells in pixels. Default 4. */
  gap?: number;
  /** Background colour. Default white. */
  background?: Rgb;
}

/**
 * Renders rows of images into one canvas. Images may be gray or RGB, 8-bit
 * or Float32 in [0, 1], and of different sizes (each cell is the largest
 * size; smaller images are centred).
 */
export function renderImageGrid(rows: RawImage[][], options: ImageGridOptions = {}): RgbCanvas {
  if (rows.length === 0 || rows.every((r) => r.length === 0)) throw new InvalidArgumentError('imageGrid needs at least one image');
  rows.forEach((row, r) => row.forEach((img, c) => validateRawImage(img, `imageGrid row ${r} column ${c}`)));
  const all = rows.flat();
  const maxW = Math.max(...all.map((i) => i.width));
  const maxH = Math.max(...all.map((i) => i.height));
  const scale = options.scale ?? Math.max(1, Math.ceil(64 / Math.max(maxW, maxH)));
  if (!Number.isInteger(scale) || scale < 1) throw new InvalidArgumentError(`scale must be a positive integer, got ${scale}`);
  const gap = options.gap ?? 4;
  const cellW = maxW * scale;
  const cellH = maxH * scale;
  const cols = Math.max(...rows.map((r) => r.length));
  const rowLabelWidth = options.rowLabels?.length ? Math.max(...options.rowLabels.map((l) => textWidth(l))) + 2 * gap : 0;
  const titleHeight = options.title ? 2 * GLYPH_HEIGHT + 2 * gap : 0;
  const colLabelHeight = options.columnLabels?.length ? GLYPH_HEIGHT + gap : 0;
  const width = Math.max(rowLabelWidth + gap + cols * (cellW + gap), options.title ? textWidth(options.title, 2) + 2 * gap : 0);
  const height = titleHeight + colLabelHeight + gap + rows.length * (cellH + gap);
  const canvas = new RgbCanvas(width, height, options.background ?? WHITE);
  if (options.title) canvas.text(options.title, width / 2, gap, { align: 'center', scale: 2 });
  const gridTop = titleHeight + colLabelHeight + gap;
  const gridLeft = rowLabelWidth + gap;
  options.columnLabels?.forEach((label, c) => {
    if (c < cols) canvas.text(label, gridLeft + c * (cellW + gap) + cellW / 2, titleHeight + gap, { align: 'center' });
  });
  rows.forEach((row, r) => {
    const top = gridTop + r * (cellH + gap);
    const label = options.rowLabels?.[r];
    if (label) canvas.text(label, rowLabelWidth - gap, top + cellH / 2, { align: 'right', baseline: 'middle' });
    row.forEach((img, c) => {
      const left = gridLeft + c * (cellW + gap);
      canvas.drawImage(img, left + Math.floor((cellW - img.width * scale) / 2), top + Math.floor((cellH - img.height * scale) / 2), scale);
    });
  });
  return canvas;
}

/** {@link renderImageGrid} encoded as PNG. */
export function imageGrid(rows: RawImage[][], options: ImageGridOptions = {}): Promise<Buffer> {
  return renderImageGrid(rows, options).toPng();
}

/** Common chart options. */
export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic y axis (non-positive values are not drawn). Default false. */
  logY?: boolean;
  /** Figure size in pixels. Default 640×400. */
  width?: number;
  height?: number;
}

export interface BarChartOptions extends ChartOptions {
  /** Sort bars in descending order (rank plot) instead of by index. Default false. */
  sorted?: boolean;
  /** Bar colour. Default the first series colour. */
  color?: Rgb;
}

function plotArea(width: number, height: number, options: ChartOptions): PlotArea {
  const left = options.yLabel ? 78 : 62;
  const top = options.title ? 36 : 16;
  const bottom = options.xLabel ? 44 : 28;
  const right = 20;
  if (width - left - right < 40 || height - top - bottom < 40) {
    throw new InvalidArgumentError(`figure ${width}x${height} is too small for axes and labels`);
  }
  return { left, top, width: width - left - right, height: height - top - bottom };
}

function checkFigureSize(options: ChartOptions): [number, number] {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  if (!Number.isInteger(width) || !Number.isInteger(height)) throw new InvalidArgumentError(`figure size must be integers, got ${width}x${height}`);
  return [width, height];
}

/**
 * Renders a bar chart of `values` (e.g. how often each codebook entry was
 * used) with bar i at x = i. With many bars, each pixel column shows the
 * largest bar falling into it, so spikes never disappear.
 */
export function renderBarChart(values: ArrayLike<number>, options: BarChartOptions = {}): RgbCanvas {
  const n = values.length;
  if (n === 0) throw new InvalidArgumentError('barChart needs at least one value');
  const bars = Array.from(values, (v) => (Number.isFinite(v) ? v : 0));
  if (options.sorted) bars.sort((a, b) => b - a);
  const [width, height] = checkFigureSize(options);
  const area = plotArea(width, height, options);
  const canvas = new RgbCanvas(width, height);
  const maxV = Math.max(...bars);
  const bottom = area.top + area.height;
  let y: Scale;
  if (options.logY) {
    const positive = bars.filter((v) => v > 0);
    y = logScale(positive.length ? Math.min(...positive) : 1, positive.length ? Math.max(...positive) : 10, bottom, area.top);
  } else {
    y = linearScale(Math.min(0, ...bars), Math.max(maxV, 0), bottom, area.top);
  }
  // x domain: bar i occupies [i, i+1); ticks at bar indices.
  const x = linearScale(0, n, area.left, area.left + area.width, 8, false);
  x.ticks.splice(0, x.ticks.length, ...x.ticks.filter((t) => Number.isInteger(t) && t < n));
  drawAxes(canvas, area, x, y, options);
  const color = options.color ?? SERIES_COLORS[0]!;
  const baseline = options.logY ? bottom : Math.round(y.map(0));
  const barWidth = area.width / n;
  const gap = barWidth >= 4 ? 1 : 0;
  if (barWidth >= 1) {
    for (let i = 0; i < n; i++) {
      const v = bars[i]!;
      if (options.logY && v <= 0) continue;
      const x0 = Math.round(area.left + 1 + i * barWidth);
      const x1 = Math.round(area.left + 1 + (i + 1) * barWidth) - gap;
      const top = Math.round(y.map(v));
      canvas.fillRect(x0, Math.min(top, baseline), Math.max(1, x1 - x0), Math.abs(baseline - top), color);
    }
  } else {
    // More bars than pixels: one column per pixel, showing the column maximum.
    for (let px = 0; px < area.width; px++) {
      const i0 = Math.floor((px / area.width) * n);
      const i1 = Math.max(i0 + 1, Math.floor(((px + 1) / area.width) * n));
      let v = -Infinity;
      for (let i = i0; i < i1; i++) v = Math.max(v, bars[i]!);
      if (options.logY && v <= 0) continue;
      const top = Math.round(y.map(v));
      canvas.fillRect(area.left + 1 + px, Math.min(top, baseline), 1, Math.abs(baseline - top), color);
    }
  }
  // Redraw the x axis over the bars' feet.
  canvas.fillRect(area.left, bottom, area.width + 1, 1, AXIS_COLOR);
  return canvas;
}

/** {@link renderBarChart} encoded as PNG. */
export function barChart(values: ArrayLike<number>, options: BarChartOptions = {}): Promise<Buffer> {
  return renderBarChart(values, options).toPng();
}

/** One line of a line chart. */
export interface LineSeries {
  /** Legend entry. */
  name?: string;
  /** y values. */
  y: ArrayLike<number>;
  /** x values (same length as y). Default 0, 1, 2, ... */
  x?: ArrayLike<number>;
  color?: Rgb;
  /** Line thickness in pixels. Default 2. */
  thickness?: number;
}

export interface LineChartOptions extends ChartOptions {
  /** Fix the y range instead of fitting the data. */
  yMin?: number;
  yMax?: number;
}

/**
 * Renders one or more series as lines (e.g. training and validation loss
 * per step). Non-finite points, and non-positive ones on a log axis, break
 * the line instead of distorting the scale.
 */
export function renderLineChart(series: LineSeries | LineSeries[], options: LineChartOptions = {}): RgbCanvas {
  const list = Array.isArray(series) ? series : [series];
  if (list.length === 0) throw new InvalidArgumentError('lineChart needs at least one series');
  const points = list.map((s, k) => {
    if (s.x !== undefined && s.x.length !== s.y.length) {
      throw new InvalidArgumentError(`series ${s.name ?? k}: x has ${s.x.length} values but y has ${s.y.length}`);
    }
    const out: [number, number][] = [];
    for (let i = 0; i < s.y.length; i++) out.push([s.x ? s.x[i]! : i, s.y[i]!]);
    return out;
  });
  const usable = (p: [number, number]) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!options.logY || p[1] > 0);
  const flat = points.flat().filter(usable);
  if (flat.length === 0) throw new InvalidArgumentError('lineChart: no finite points to draw');
  const [width, height] = checkFigureSize(options);
  const area = plotArea(width, height, options);
  const canvas = new RgbCanvas(width, height);
  const xs = flat.map((p) => p[0]);
  const ys = flat.map((p) => p[1]);
  const bottom = area.top + area.height;
  const yMin = options.yMin ?? Math.min(...ys);
  const yMax = options.yMax ?? Math.max(...ys);
  const x = linearScale(Math.min(...xs), Math.max(...xs), area.left, area.left + area.width, 8, false);
  const y = options.logY ? logScale(yMin, yMax, bottom, area.top) : linearScale(yMin, yMax, bottom, area.top);
  drawAxes(canvas, area, x, y, options);
  const clipY = (v: number) => Math.min(bottom, Math.max(area.top, v));
  list.forEach((s, k) => {
    const color = s.color ?? SERIES_COLORS[k % SERIES_COLORS.length]!;
    let prev: [number, number] | undefined;
    for (const p of points[k]!) {
      if (!usable(p)) {
        prev = undefined;
        continue;
      }
      const cur: [number, number] = [x.map(p[0]), clipY(y.map(p[1]))];
      if (prev) canvas.line(prev[0], prev[1], cur[0], cur[1], color, s.thickness ?? 2);
      // A point without a drawn neighbour gets a visible marker.
      else canvas.fillRect(cur[0] - 2, cur[1] - 2, 4, 4, color);
      prev = cur;
    }
  });
  // Legend, top right inside the plot.
  const named = list.map((s, k) => ({ name: s.name, color: s.color ?? SERIES_COLORS[k % SERIES_COLORS.length]! })).filter((s) => s.name);
  if (named.length > 0) {
    const lineH = GLYPH_HEIGHT + 6;
    const boxW = Math.max(...named.map((s) => textWidth(s.name!))) + 34;
    const boxH = named.length * lineH + 6;
    const bx = area.left + area.width - boxW - 6;
    const by = area.top + 6;
    canvas.fillRect(bx, by, boxW, boxH, WHITE);
    canvas.strokeRect(bx, by, boxW, boxH, [190, 190, 190]);
    named.forEach((s, i) => {
      const cy = by + 6 + i * lineH + Math.floor(GLYPH_HEIGHT / 2);
      canvas.fillRect(bx + 6, cy - 1, 18, 3, s.color);
      canvas.text(s.name!, bx + 28, cy, { baseline: 'middle' });
    });
  }
  return canvas;
}

/** {@link renderLineChart} encoded as PNG. */
export function lineChart(series: LineSeries | LineSeries[], options: LineChartOptions = {}): Promise<Buffer> {
  return renderLineChart(series, options).toPng();
}

/** Stacks canvases vertically (left-aligned, white background), e.g. unsorted and sorted usage histograms. */
export function stackVertically(canvases: RgbCanvas[], gap = 8): RgbCanvas {
  if (canvases.length === 0) throw new InvalidArgumentError('stackVertically needs at least one canvas');
  const width = Math.max(...canvases.map((c) => c.width));
  const height = canvases.reduce((s, c) => s + c.height, 0) + gap * (canvases.length - 1);
  const out = new RgbCanvas(width, height);
  let y = 0;
  for (const c of canvases) {
    out.drawCanvas(c, 0, y);
    y += c.height + gap;
  }
  return out;
}

/**
 * A two-panel codebook usage figure: usage per code index (top) and sorted
 * by frequency (bottom), with the used fraction and perplexity in the title.
 */
export function codebookUsageChart(histogram: ArrayLike<number>, options: { title?: string; width?: number; height?: number } = {}): Promise<Buffer> {
  const counts = Array.from(histogram);
  const total = counts.reduce((s, v) => s + v, 0);
  const used = counts.filter((v) => v > 0).length;
  let entropy = 0;
  for (const c of counts) if (c > 0) entropy -= (c / total) * Math.log(c / total);
  const summary = `${used}/${counts.length} codes used, perplexity ${Math.exp(entropy).toFixed(1)}`;
  const panel = { width: options.width ?? 640, height: Math.round((options.height ?? 640) / 2) };
  const top = renderBarChart(counts, { ...panel, title: options.title ? `${options.title}: ${summary}` : summary, xLabel: 'code index', yLabel: 'count' });
  const bottom = renderBarChart(counts, { ...panel, sorted: true, xLabel: 'rank', yLabel: 'count' });
  return stackVertically([top, bottom]).toPng();
}
