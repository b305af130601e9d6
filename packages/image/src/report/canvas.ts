/**
 * A minimal RGB raster for report figures: rectangles, lines, 5×7 bitmap
 * text, image blits, PNG output via sharp. No native canvas dependency.
 */
import sharp from 'sharp';
import { InvalidArgumentError } from '@vqkit/core';
import type { RawImage } from '../io.js';
import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyph, glyphRowOffset, textWidth } from './font.js';

/** An sRGB colour, components 0..255. */
export type Rgb = readonly [number, number, number];

export const WHITE: Rgb = [255, 255, 255];
export const BLACK: Rgb = [0, 0, 0];

/** Colour cycle for data series (Tableau 10, readable on white). */
export const SERIES_COLORS: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

export interface TextOptions {
  color?: Rgb;
  /** Integer pixel scale of the 5×7 font. Default 1. */
  scale?: number;
  /** Horizontal anchor at x. Default 'left'. */
  align?: 'left' | 'center' | 'right';
  /** Vertical anchor at y. Default 'top'. */
  baseline?: 'top' | 'middle' | 'bottom';
  /** Draw rotated 90° counter-clockwise (reads bottom to top, for y-axis labels). Default false. */
  vertical?: boolean;
}

export class RgbCanvas {
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = WHITE,
  ) {
    if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
      throw new InvalidArgumentError(`canvas size must be positive integers, got ${width}x${height}`);
    }
    this.data = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  /** Sets one pixel (ignored outside the canvas). */
  setPixel(x: number, y: number, color: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 3;
    this.data[o] = color[0];
    this.data[o + 1] = color[1];
    this.data[o + 2] = color[2];
  }

  /** Reads one pixel. */
  getPixel(x: number, y: number): [number, number, number] {
    const o = (y * this.width + x) * 3;
    return [this.data[o]!, this.data[o + 1]!, this.data[o + 2]!];
  }

  /** Fills the rectangle [x, x+w) × [y, y+h), clipped to the canvas. */
  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) {
      for (let xx = x0; xx < x1; xx++) {
        const o = (yy * this.width + xx) * 3;
        this.data[o] = color[0];
        this.data[o + 1] = color[1];
        this.data[o + 2] = color[2];
      }
    }
  }

  /** Draws a 1-px rectangle outline. */
  strokeRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    this.fillRect(x, y, w, 1, color);
    this.fillRect(x, y + h - 1, w, 1, color);
    this.fillRect(x, y, 1, h, color);
    this.fillRect(x + w - 1, y, 1, h, color);
  }

  /** Draws a line (Bresenham) of the given thickness in pixels. */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1): void {
    let ax = Math.round(x0);
    let ay = Math.round(y0);
    const bx = Math.round(x1);
    const by = Math.round(y1);
    const dx = Math.abs(bx - ax);
    const dy = -Math.abs(by - ay);
    const sx = ax < bx ? 1 : -1;
    const sy = ay < by ? 1 : -1;
    let err = dx + dy;
    const lo = -Math.floor((thickness - 1) / 2);
    const hi = lo + thickness - 1;
    for (;;) {
      if (thickness <= 1) this.setPixel(ax, ay, color);
      else for (let oy = lo; oy <= hi; oy++) for (let ox = lo; ox <= hi; ox++) this.setPixel(ax + ox, ay + oy, color);
      if (ax === bx && ay === by) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        ax += sx;
      }
      if (e2 <= dx) {
        err += dx;
        ay += sy;
      }
    }
  }

  /** Draws text in the built-in 5×7 font. Returns the drawn width along the text direction. */
  text(value: string, x: number, y: number, options: TextOptions = {}): number {
    const scale = Math.max(1, Math.round(options.scale ?? 1));
    const color = options.color ?? BLACK;
    const along = textWidth(value, scale);
    const across = GLYPH_HEIGHT * scale;
    const align = options.align ?? 'left';
    const baseline = options.baseline ?? 'top';
    const alongShift = align === 'left' ? 0 : align === 'center' ? -Math.floor(along / 2) : -along;
    const acrossShift = baseline === 'top' ? 0 : baseline === 'middle' ? -Math.floor(across / 2) : -across;
    const chars = [...value];
    for (let i = 0; i < chars.length; i++) {
      const bitmap = glyph(chars[i]!);
      const rowOffset = glyphRowOffset(chars[i]!);
      for (let r = 0; r < GLYPH_HEIGHT; r++) {
        for (let c = 0; c < GLYPH_WIDTH; c++) {
          if (!bitmap[r * GLYPH_WIDTH + c]) continue;
          // Position of this font pixel along and across the text direction.
          const a = alongShift + (i * GLYPH_ADVANCE + c) * scale;
          const b = acrossShift + (r + rowOffset) * scale;
          if (options.vertical) {
            // Rotated 90° counter-clockwise: text runs upward from (x, y).
            this.fillRect(x + b, y - a - scale, scale, scale, color);
          } else {
            this.fillRect(x + a, y + b, scale, scale, color);
          }
        }
      }
    }
    return along;
  }

  /**
   * Copies an image (gray or RGB, optionally with alpha which is ignored;
   * Float32 in [0, 1] or 8-bit) with its top-left at (x, y), enlarged by an
   * integer `scale` with nearest-neighbour sampling so pixels stay crisp.
   */
  drawImage(image: RawImage, x: number, y: number, scale = 1): void {
    const { width, height, channels, data } = image;
    const toByte = data instanceof Float32Array ? (v: number) => Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255) : (v: number) => v;
    const colour = channels >= 3;
    for (let sy = 0; sy < height; sy++) {
      for (let sx = 0; sx < width; sx++) {
        const o = (sy * width + sx) * channels;
        const r = toByte(data[o]!);
        const g = colour ? toByte(data[o + 1]!) : r;
        const b = colour ? toByte(data[o + 2]!) : r;
        this.fillRect(x + sx * scale, y + sy * scale, scale, scale, [r, g, b]);
      }
    }
  }

  /** Copies another canvas with its top-left at (x, y). */
  drawCanvas(source: RgbCanvas, x: number, y: number): void {
    this.drawImage({ data: source.data, width: source.width, height: source.height, channels: 3 }, x, y);
  }

  /** The canvas as a raw RGB image (shares memory). */
  toImage(): RawImage {
    return { data: this.data, width: this.width, height: this.height, channels: 3 };
  }

  /** Encodes the canvas as PNG. */
  toPng(): Promise<Buffer> {
    return sharp(this.data, { raw: { width: this.width, height: this.height, channels: 3 } }).png().toBuffer();
  }
}
