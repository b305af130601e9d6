/**
 * im2col / col2im for NHWC convolutions. The column matrix has one row per
 * output pixel (batch, outRow, outCol) and one column per filter tap in the
 * filter's own memory order (filterRow, filterCol, inChannel), so an HWIO
 * filter is already the K×N right-hand matrix of the GEMM and no filter
 * transpose is ever needed.
 */

/** The geometry of one NHWC 2-D convolution (a subset of tfjs's `Conv2DInfo`). */
export interface ConvGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padInfo: { top: number; left: number };
}

/** Rows (output pixels) of the column matrix. */
export function colRows(g: ConvGeometry): number {
  return g.batchSize * g.outHeight * g.outWidth;
}

/** Columns (filter taps × input channels) of the column matrix. */
export function colCols(g: ConvGeometry): number {
  return g.filterHeight * g.filterWidth * g.inChannels;
}

/**
 * True when the convolution is a plain GEMM on the input as is: a 1×1 filter,
 * stride 1 and no padding (dilation is irrelevant for a single tap).
 */
export function isPointwise(g: ConvGeometry): boolean {
  return (
    g.filterHeight === 1 &&
    g.filterWidth === 1 &&
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    g.padInfo.top === 0 &&
    g.padInfo.left === 0 &&
    g.outHeight === g.inHeight &&
    g.outWidth === g.inWidth
  );
}

/**
 * The filter-column range [first, end) whose input column lies inside the
 * image for output column `inCol0` (the input column of filter column 0).
 */
function validTapRange(inCol0: number, dilation: number, taps: number, size: number): [number, number] {
  let first = 0;
  while (first < taps && inCol0 + first * dilation < 0) first++;
  let end = taps;
  while (end > first && inCol0 + (end - 1) * dilation >= size) end--;
  return [first, end];
}

/** Writes the column matrix of `x` (NHWC) into `col` (rows × cols, fully overwritten). */
export function im2col(x: Float32Array, g: ConvGeometry, col: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, filterHeight, filterWidth } = g;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = g;
  const top = g.padInfo.top;
  const left = g.padInfo.left;
  const rowLength = filterHeight * filterWidth * c;
  const tapRowLength = filterWidth * c;
  let dst = 0;
  for (let b = 0; b < batchSize; b++) {
    const imageBase = b * inHeight * inWidth * c;
    for (let oy = 0; oy < outHeight; oy++) {
      const iy0 = oy * strideHeight - top;
      for (let ox = 0; ox < outWidth; ox++) {
        const ix0 = ox * strideWidth - left;
        const [fx0, fx1] = validTapRange(ix0, dilationWidth, filterWidth, inWidth);
        for (let fy = 0; fy < filterHeight; fy++) {
          const iy = iy0 + fy * dilationHeight;
          const rowStart = dst + fy * tapRowLength;
          if (iy < 0 || iy >= inHeight || fx0 >= fx1) {
            col.fill(0, rowStart, rowStart + tapRowLength);
            continue;
          }
          if (fx0 > 0) col.fill(0, rowStart, rowStart + fx0 * c);
          const srcRow = imageBase + iy * inWidth * c;
          if (dilationWidth === 1) {
            // Consecutive taps read consecutive pixels: one contiguous run.
            const src = srcRow + (ix0 + fx0) * c;
            const len = (fx1 - fx0) * c;
            const to = rowStart + fx0 * c;
            if (len <= 16) for (let i = 0; i < len; i++) col[to + i] = x[src + i];
            else col.set(x.subarray(src, src + len), to);
          } else {
            for (let fx = fx0; fx < fx1; fx++) {
              const src = srcRow + (ix0 + fx * dilationWidth) * c;
              const to = rowStart + fx * c;
              for (let i = 0; i < c; i++) col[to + i] = x[src + i];
            }
          }
          if (fx1 < filterWidth) col.fill(0, rowStart + fx1 * c, rowStart + tapRowLength);
        }
        dst += rowLength;
      }
    }
  }
}

/**
 * Scatter-adds the column matrix back onto the image: the adjoint of
 * `im2col`. `dx` (NHWC) is fully overwritten.
 */
export function col2im(col: Float32Array, g: ConvGeometry, dx: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, filterHeight, filterWidth } = g;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = g;
  const top = g.padInfo.top;
  const left = g.padInfo.left;
  const rowLength = filterHeight * filterWidth * c;
  const tapRowLength = filterWidth * c;
  dx.fill(0);
  let src = 0;
  for (let b = 0; b < batchSize; b++) {
    const imageBase = b * inHeight * inWidth * c;
    for (let oy = 0; oy < outHeight; oy++) {
      const iy0 = oy * strideHeight - top;
      for (let ox = 0; ox < outWidth; ox++) {
        const ix0 = ox * strideWidth - left;
        const [fx0, fx1] = validTapRange(ix0, dilationWidth, filterWidth, inWidth);
        for (let fy = 0; fy < filterHeight; fy++) {
          const iy = iy0 + fy * dilationHeight;
          if (iy < 0 || iy >= inHeight) continue;
          const rowStart = src + fy * tapRowLength;
          const dstRow = imageBase + iy * inWidth * c;
          if (dilationWidth === 1) {
            const to = dstRow + (ix0 + fx0) * c;
            const from = rowStart + fx0 * c;
            const len = (fx1 - fx0) * c;
            for (let i = 0; i < len; i++) dx[to + i] += col[from + i];
          } else {
            for (let fx = fx0; fx < fx1; fx++) {
              const to = dstRow + (ix0 + fx * dilationWidth) * c;
              const from = rowStart + fx * c;
              for (let i = 0; i < c; i++) dx[to + i] += col[from + i];
            }
          }
        }
        src += rowLength;
      }
    }
  }
}
