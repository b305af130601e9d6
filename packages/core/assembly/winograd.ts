// Winograd F(4×4, 3×3) transforms for 3×3, stride-1 convolutions (Lavin &
// Gray, "Fast Algorithms for Convolutional Neural Networks", 2015).
//
// Each 4×4 block ("tile") of output pixels is computed from a 6×6 input
// patch: with V = Bᵀ·d·B (input), U = G·g·Gᵀ (filter) and Y = Aᵀ·M·A
// (output), the convolution becomes 36 independent GEMMs over the 36
// transform points ξ, M[ξ] = V[ξ]·U[ξ], each of (tiles × inC)·(inC × outC).
// That is 36 multiply-adds per tile and channel pair instead of 16·9 = 144:
// 4× fewer (3× on a 7×7 map, whose 2×2 tiles cover 8×8 pixels).
//
// The gradients reuse the same transforms: the input gradient is the
// convolution of dy with the rotated filter; the filter gradient is
// dU[ξ] = V[ξ]ᵀ·dM[ξ] with dM = A·dy·Aᵀ, and dW = Gᵀ·dU·G (the adjoints of
// the output and filter transforms).
//
// Layouts (all vectorised over the channel axis, which is innermost):
//   image  NHWC, channels a multiple of 4;
//   V, M   [36][tiles][channels]: point ξ = 6·row + column, tile t =
//          (image, tileRow, tileCol) row-major; each point is a row-major
//          tiles × channels matrix, i.e. directly a GEMM operand;
//   U      [36][inC][outC];  filter HWIO [3][3][inC][outC].
// Every routine handles one range of tiles (or of input channels for the
// filter transforms), so threads split a transform into disjoint parts.

/** The convolution geometry words (the im2col geometry block of gemm.ts). */
@unmanaged class WinogradGeometry {
  batch: i32; inH: i32; inW: i32; channels: i32; outH: i32; outW: i32; filterH: i32; filterW: i32;
  strideH: i32; strideW: i32; dilationH: i32; dilationW: i32; padTop: i32; padLeft: i32;
}

@inline function tilesOf(size: i32): i32 {
  return (size + 3) >> 2;
}

/** Number of tiles of a geometry (4×4 output blocks over all images). */
export function winogradTiles(geometry: usize): i32 {
  const g = changetype<WinogradGeometry>(geometry);
  return g.batch * tilesOf(g.outH) * tilesOf(g.outW);
}

/** 6 vectors at src + k·srcStep → Bᵀ·d at dst + i·dstStep. */
@inline function inputRows(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const d0 = v128.load(src);
  const d1 = v128.load(src + srcStep);
  const d2 = v128.load(src + 2 * srcStep);
  const d3 = v128.load(src + 3 * srcStep);
  const d4 = v128.load(src + 4 * srcStep);
  const d5 = v128.load(src + 5 * srcStep);
  const four = f32x4.splat(4);
  const five = f32x4.splat(5);
  const two = f32x4.splat(2);
  // r0 = 4d0 − 5d2 + d4
  v128.store(dst, f32x4.add(f32x4.sub(f32x4.mul(four, d0), f32x4.mul(five, d2)), d4));
  // r1 = (d3 + d4) − 4(d1 + d2);  r2 = (d4 − d3) + 4(d1 − d2)
  v128.store(dst + dstStep, f32x4.sub(f32x4.add(d3, d4), f32x4.mul(four, f32x4.add(d1, d2))));
  v128.store(dst + 2 * dstStep, f32x4.add(f32x4.sub(d4, d3), f32x4.mul(four, f32x4.sub(d1, d2))));
  // r3 = (d4 − d2) + 2(d3 − d1);  r4 = (d4 − d2) − 2(d3 − d1)
  const e = f32x4.sub(d4, d2);
  const f = f32x4.mul(two, f32x4.sub(d3, d1));
  v128.store(dst + 3 * dstStep, f32x4.add(e, f));
  v128.store(dst + 4 * dstStep, f32x4.sub(e, f));
  // r5 = 4d1 − 5d3 + d5
  v128.store(dst + 5 * dstStep, f32x4.add(f32x4.sub(f32x4.mul(four, d1), f32x4.mul(five, d3)), d5));
}

/** 6 vectors m at src + k·srcStep → Aᵀ·m (4 vectors) at dst + i·dstStep. */
@inline function outputRows(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const m0 = v128.load(src);
  const m1 = v128.load(src + srcStep);
  const m2 = v128.load(src + 2 * srcStep);
  const m3 = v128.load(src + 3 * srcStep);
  const m4 = v128.load(src + 4 * srcStep);
  const m5 = v128.load(src + 5 * srcStep);
  const a = f32x4.add(m1, m2);
  const b = f32x4.sub(m1, m2);
  const c = f32x4.add(m3, m4);
  const d = f32x4.sub(m3, m4);
  v128.store(dst, f32x4.add(f32x4.add(m0, a), c));
  v128.store(dst + dstStep, f32x4.add(b, f32x4.mul(f32x4.splat(2), d)));
  v128.store(dst + 2 * dstStep, f32x4.add(a, f32x4.mul(f32x4.splat(4), c)));
  v128.store(dst + 3 * dstStep, f32x4.add(f32x4.add(b, f32x4.mul(f32x4.splat(8), d)), m5));
}

/** 4 vectors g at src + k·srcStep → A·g (6 vectors) at dst + i·dstStep (the adjoint of outputRows). */
@inline function outputAdjointRows(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const g0 = v128.load(src);
  const g1 = v128.load(src + srcStep);
  const g2 = v128.load(src + 2 * srcStep);
  const g3 = v128.load(src + 3 * srcStep);
  const e = f32x4.add(g0, g2);
  const f = f32x4.add(g1, g3);
  const e4 = f32x4.add(g0, f32x4.mul(f32x4.splat(4), g2));
  const f8 = f32x4.add(f32x4.mul(f32x4.splat(2), g1), f32x4.mul(f32x4.splat(8), g3));
  v128.store(dst, g0);
  v128.store(dst + dstStep, f32x4.add(e, f));
  v128.store(dst + 2 * dstStep, f32x4.sub(e, f));
  v128.store(dst + 3 * dstStep, f32x4.add(e4, f8));
  v128.store(dst + 4 * dstStep, f32x4.sub(e4, f8));
  v128.store(dst + 5 * dstStep, g3);
}

/** 3 vectors w at src + k·srcStep (k reversed when `flip`) → G·w (6 vectors) at dst + i·dstStep. */
@inline function filterRows(src: usize, srcStep: usize, flip: bool, dst: usize, dstStep: usize): void {
  let w0 = v128.load(src);
  const w1 = v128.load(src + srcStep);
  let w2 = v128.load(src + 2 * srcStep);
  if (flip) {
    const t = w0;
    w0 = w2;
    w2 = t;
  }
  const sum02 = f32x4.add(w0, w2);
  const quarter02 = f32x4.add(w0, f32x4.mul(f32x4.splat(4), w2));
  const sixth = f32x4.splat(<f32>(-1.0 / 6.0));
  const twentyFourth = f32x4.splat(<f32>(1.0 / 24.0));
  const twoW1 = f32x4.mul(f32x4.splat(2), w1);
  v128.store(dst, f32x4.mul(f32x4.splat(0.25), w0));
  v128.store(dst + dstStep, f32x4.mul(sixth, f32x4.add(sum02, w1)));
  v128.store(dst + 2 * dstStep, f32x4.mul(sixth, f32x4.sub(sum02, w1)));
  v128.store(dst + 3 * dstStep, f32x4.mul(twentyFourth, f32x4.add(quarter02, twoW1)));
  v128.store(dst + 4 * dstStep, f32x4.mul(twentyFourth, f32x4.sub(quarter02, twoW1)));
  v128.store(dst + 5 * dstStep, w2);
}

/** 6 vectors u at src + k·srcStep → Gᵀ·u (3 vectors) at dst + i·dstStep (the adjoint of filterRows without flip). */
@inline function filterAdjointRows(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const u0 = v128.load(src);
  const u1 = v128.load(src + srcStep);
  const u2 = v128.load(src + 2 * srcStep);
  const u3 = v128.load(src + 3 * srcStep);
  const u4 = v128.load(src + 4 * srcStep);
  const u5 = v128.load(src + 5 * srcStep);
  const s12 = f32x4.add(u1, u2);
  const d12 = f32x4.sub(u2, u1);
  const s34 = f32x4.add(u3, u4);
  const d34 = f32x4.sub(u3, u4);
  const sixth = f32x4.splat(<f32>(1.0 / 6.0));
  // r0 = u0/4 − (u1 + u2)/6 + (u3 + u4)/24
  v128.store(dst, f32x4.add(f32x4.sub(f32x4.mul(f32x4.splat(0.25), u0), f32x4.mul(sixth, s12)), f32x4.mul(f32x4.splat(<f32>(1.0 / 24.0)), s34)));
  // r1 = (u2 − u1)/6 + (u3 − u4)/12
  v128.store(dst + dstStep, f32x4.add(f32x4.mul(sixth, d12), f32x4.mul(f32x4.splat(<f32>(1.0 / 12.0)), d34)));
  // r2 = (u3 + u4 − u1 − u2)/6 + u5
  v128.store(dst + 2 * dstStep, f32x4.add(f32x4.mul(sixth, f32x4.sub(s34, s12)), u5));
}

/**
 * Copies the `size`×`size` pixel block at (y0, x0) of image `b` into `patch`
 * ([size][size][channels]), zeros where it lies outside the image.
 */
function loadPatch(image: usize, g: WinogradGeometry, height: i32, width: i32, b: i32, y0: i32, x0: i32, size: i32, patch: usize): void {
  const pixelBytes = <usize>g.channels << 2;
  const rowBytes = <usize>size * pixelBytes;
  const x1 = max(x0, 0);
  const x2 = min(x0 + size, width);
  for (let i = 0; i < size; i++) {
    const dst = patch + <usize>i * rowBytes;
    const y = y0 + i;
    if (y < 0 || y >= height || x1 >= x2) {
      memory.fill(dst, 0, rowBytes);
      continue;
    }
    const before = <usize>(x1 - x0) * pixelBytes;
    if (before > 0) memory.fill(dst, 0, before);
    const bytes = <usize>(x2 - x1) * pixelBytes;
    memory.copy(dst + before, image + ((<usize>(b * height + y) * width + x1) * pixelBytes), bytes);
    const after = rowBytes - before - bytes;
    if (after > 0) memory.fill(dst + before + bytes, 0, after);
  }
}

/**
 * Input transform of tiles [t0, t1): V[ξ][t][c] = (Bᵀ·d·B)[ξ] of the 6×6
 * patch at (4·tileRow − padTop, 4·tileCol − padLeft). `scratch` holds
 * 36·channels + 36·4 floats.
 */
export function winogradInputRange(x: usize, v: usize, geometry: usize, scratch: usize, t0: i32, t1: i32): void {
  const g = changetype<WinogradGeometry>(geometry);
  const tilesY = tilesOf(g.outH);
  const tilesX = tilesOf(g.outW);
  const tiles = g.batch * tilesY * tilesX;
  const c = g.channels;
  const pixelBytes = <usize>c << 2;
  const pointBytes = <usize>tiles * pixelBytes;
  const patch = scratch;
  const tmp = scratch + 36 * pixelBytes;
  for (let t = t0; t < t1; t++) {
    const b = t / (tilesY * tilesX);
    const r = t - b * tilesY * tilesX;
    const ty = r / tilesX;
    const tx = r - ty * tilesX;
    loadPatch(x, g, g.inH, g.inW, b, 4 * ty - g.padTop, 4 * tx - g.padLeft, 6, patch);
    const out = v + <usize>t * pixelBytes;
    for (let cb: usize = 0; cb < pixelBytes; cb += 16) {
      // Columns: tmp[i][j] = Σ_k Bᵀ[i][k]·d[k][j].
      for (let j = 0; j < 6; j++) inputRows(patch + <usize>j * pixelBytes + cb, 6 * pixelBytes, tmp + (<usize>j << 4), 96);
      // Rows: V[6i + j] = Σ_k tmp[i][k]·B[k][j].
      for (let i = 0; i < 6; i++) inputRows(tmp + <usize>i * 96, 16, out + <usize>(6 * i) * pointBytes + cb, pointBytes);
    }
  }
}

/**
 * Output transform of tiles [t0, t1): the 4×4 block Aᵀ·M·A of each tile,
 * written to the NHWC output (parts outside outH × outW are dropped).
 * `scratch` holds 24·4 + 16·4 floats.
 */
export function winogradOutputRange(m: usize, y: usize, geometry: usize, scratch: usize, t0: i32, t1: i32): void {
  const g = changetype<WinogradGeometry>(geometry);
  const tilesY = tilesOf(g.outH);
  const tilesX = tilesOf(g.outW);
  const tiles = g.batch * tilesY * tilesX;
  const pixelBytes = <usize>g.channels << 2;
  const pointBytes = <usize>tiles * pixelBytes;
  const tmp = scratch;
  const block = scratch + 24 * 16;
  for (let t = t0; t < t1; t++) {
    const b = t / (tilesY * tilesX);
    const r = t - b * tilesY * tilesX;
    const ty = r / tilesX;
    const tx = r - ty * tilesX;
    const rows = min(4, g.outH - 4 * ty);
    const cols = min(4, g.outW - 4 * tx);
    const src = m + <usize>t * pixelBytes;
    const corner = y + ((<usize>(b * g.outH + 4 * ty) * g.outW + 4 * tx) * pixelBytes);
    const rowBytes = <usize>g.outW * pixelBytes;
    for (let cb: usize = 0; cb < pixelBytes; cb += 16) {
      // Columns: tmp[i][j] = Σ_k Aᵀ[i][k]·M[k][j] (4×6).
      for (let j = 0; j < 6; j++) outputRows(src + <usize>j * pointBytes + cb, 6 * pointBytes, tmp + (<usize>j << 4), 96);
      if (rows == 4 && cols == 4) {
        for (let i = 0; i < 4; i++) outputRows(tmp + <usize>i * 96, 16, corner + <usize>i * rowBytes + cb, pixelBytes);
      } else {
        for (let i = 0; i < rows; i++) {
          outputRows(tmp + <usize>i * 96, 16, block, 16);
          const dst = corner + <usize>i * rowBytes + cb;
          for (let j = 0; j < cols; j++) v128.store(dst + <usize>j * pixelBytes, v128.load(block + (<usize>j << 4)));
        }
      }
    }
  }
}

/**
 * Adjoint of the output transform for tiles [t0, t1): dM[ξ][t][c] =
 * (A·g·Aᵀ)[ξ] of the tile's 4×4 block of `dy` (zeros outside outH × outW).
 * `scratch` holds 16·channels + 24·4 floats.
 */
export function winogradOutputAdjointRange(dy: usize, dm: usize, geometry: usize, scratch: usize, t0: i32, t1: i32): void {
  const g = changetype<WinogradGeometry>(geometry);
  const tilesY = tilesOf(g.outH);
  const tilesX = tilesOf(g.outW);
  const tiles = g.batch * tilesY * tilesX;
  const pixelBytes = <usize>g.channels << 2;
  const pointBytes = <usize>tiles * pixelBytes;
  const patch = scratch;
  const tmp = scratch + 16 * pixelBytes;
  for (let t = t0; t < t1; t++) {
    const b = t / (tilesY * tilesX);
    const r = t - b * tilesY * tilesX;
    const ty = r / tilesX;
    const tx = r - ty * tilesX;
    loadPatch(dy, g, g.outH, g.outW, b, 4 * ty, 4 * tx, 4, patch);
    const out = dm + <usize>t * pixelBytes;
    for (let cb: usize = 0; cb < pixelBytes; cb += 16) {
      // Columns: tmp[i][j] = Σ_k A[i][k]·g[k][j] (6×4).
      for (let j = 0; j < 4; j++) outputAdjointRows(patch + <usize>j * pixelBytes + cb, 4 * pixelBytes, tmp + (<usize>j << 4), 64);
      // Rows: dM[6i + j] = Σ_k tmp[i][k]·Aᵀ[k][j].
      for (let i = 0; i < 6; i++) outputAdjointRows(tmp + <usize>i * 64, 16, out + <usize>(6 * i) * pointBytes + cb, pointBytes);
    }
  }
}

/**
 * Filter transform of input channels [c0, c1): U[ξ][ci][co] = (G·w·Gᵀ)[ξ] of
 * the HWIO filter, rotated by 180° when `flip` (the input gradient's filter).
 * `scratch` holds 18·4 floats.
 */
export function winogradFilterRange(w: usize, u: usize, inC: i32, outC: i32, flip: bool, scratch: usize, c0: i32, c1: i32): void {
  const tapBytes = <usize>inC * <usize>outC << 2;
  const rowBytes = 3 * tapBytes;
  const outBytes = <usize>outC << 2;
  for (let ci = c0; ci < c1; ci++) {
    const base = <usize>ci * outBytes;
    for (let cb: usize = 0; cb < outBytes; cb += 16) {
      // Columns: tmp[i][fx] = Σ_fy G[i][fy]·w[fy][fx] (6×3).
      for (let fx = 0; fx < 3; fx++) {
        const column = flip ? 2 - fx : fx;
        filterRows(w + <usize>column * tapBytes + base + cb, rowBytes, flip, scratch + (<usize>fx << 4), 48);
      }
      // Rows: U[6i + j] = Σ_fx tmp[i][fx]·Gᵀ[fx][j] (the columns were already flipped).
      for (let i = 0; i < 6; i++) filterRows(scratch + <usize>i * 48, 16, false, u + <usize>(6 * i) * tapBytes + base + cb, tapBytes);
    }
  }
}

/**
 * Adjoint of the filter transform for input channels [c0, c1): dW[fy][fx] =
 * (Gᵀ·dU·G)[fy][fx], written as an HWIO filter. `scratch` holds 18·4 floats.
 */
export function winogradFilterAdjointRange(du: usize, dw: usize, inC: i32, outC: i32, scratch: usize, c0: i32, c1: i32): void {
  const tapBytes = <usize>inC * <usize>outC << 2;
  const outBytes = <usize>outC << 2;
  for (let ci = c0; ci < c1; ci++) {
    const base = <usize>ci * outBytes;
    for (let cb: usize = 0; cb < outBytes; cb += 16) {
      // Columns: tmp[fy][j] = Σ_k Gᵀ[fy][k]·dU[k][j] (3×6).
      for (let j = 0; j < 6; j++) filterAdjointRows(du + <usize>j * tapBytes + base + cb, 6 * tapBytes, scratch + (<usize>j << 4), 96);
      // Rows: dW[fy][fx] = Σ_k tmp[fy][k]·G[k][fx].
      for (let fy = 0; fy < 3; fy++) filterAdjointRows(scratch + <usize>fy * 96, 16, dw + <usize>(3 * fy) * tapBytes + base + cb, tapBytes);
    }
  }
}
