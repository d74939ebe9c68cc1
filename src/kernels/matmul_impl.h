// The kernel of matmul.h, written once. The including file defines, in its own namespace,
// `struct V`: 16 float lanes as one type F, with zero(), load(p), store(p, v), bcast(p) (*p in
// every lane), fma(a, b, c) (fused, one rounding), mul(a, b), and the decoders of 16 columns from
// the stored bytes: load_n(p, n) / store_n(p, v, n) (the first n < 16 lanes; the rest read as
// zero, never touched), bf16(p), f32(p), fp8(p) (the value / 256: e4m3 bits shifted into an f16),
// fp4(p, lo, hi) (16 bytes = 32 columns: the even ones in lo, the odd ones in hi), e8m0(p)
// (16 scales); and hsum(v), the lanes added as the tree of linear.h. Nothing from the standard
// library is used here: this code is compiled with ISA flags, and a template instantiated in it
// must not be picked by the linker for other code.

constexpr int64_t kLanes = 16;
constexpr int64_t kGroupRows = 8;    // rows whose weight scales are decoded together
constexpr int64_t kInputBlock = 24;  // inputs kept in L2 while the weights stream past them

inline int64_t imin(int64_t a, int64_t b) {
  return a < b ? a : b;
}

inline bool quantised(const MatmulJob& job) {
  return job.kind == MatmulJob::Kind::Fp8 || job.kind == MatmulJob::Kind::Fp4;
}

inline int64_t block_cols(const MatmulJob& job) {
  return job.kind == MatmulJob::Kind::Fp4 ? 32 : 128;
}

inline int64_t row_bytes(const MatmulJob& job) {
  switch (job.kind) {
    case MatmulJob::Kind::Bf16:
      return 2 * job.k;
    case MatmulJob::Kind::F32:
      return 4 * job.k;
    case MatmulJob::Kind::Fp8:
      return job.k;
    case MatmulJob::Kind::Fp4:
      return job.k / 2;
  }
  return 0;
}

inline float e8m0_scalar(uint8_t e) {
  const uint32_t bits = e == 0 ? 0x00400000u : e == 255 ? 0x7FC00000u : uint32_t{e} << 23;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}

// dst[c] for c < nsub: the weight scale of row r for each block of columns.
inline void weight_scales(const MatmulJob& job, int64_t r, int64_t nsub, float* dst) {
  const int64_t srow = job.kind == MatmulJob::Kind::Fp4 ? r : r / 128;
  if (!job.ws_e8m0) {
    __builtin_memcpy(dst, job.ws + 4 * srow * job.ws_cols, static_cast<size_t>(4 * nsub));
    return;
  }
  const uint8_t* p = job.ws + srow * job.ws_cols;
  int64_t c = 0;
  for (; c + kLanes <= nsub; c += kLanes) V::store(dst + c, V::e8m0(p + c));
  for (; c < nsub; ++c) dst[c] = e8m0_scalar(p[c]);
}

// d[c] = a[c] * b[c] for c < n: a weight scale times an input scale, as the reference multiplies
// them (n < 16 in masked vectors).
inline void scale_products(const float* a, const float* b, float* d, int64_t n) {
  int64_t c = 0;
  for (; c + kLanes <= n; c += kLanes) V::store(d + c, V::mul(V::load(a + c), V::load(b + c)));
  if (c < n) V::store_n(d + c, V::mul(V::load_n(a + c, n - c), V::load_n(b + c, n - c)), n - c);
}

// The stored rows r0.. and the input rows i0.. (from column c0) a tile works on.
template <int R>
inline void tile_rows(const MatmulJob& job, int64_t r0, const uint8_t** wr) {
  const int64_t rb = row_bytes(job);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) wr[r] = job.w + (r0 + r) * rb;
}
template <int M>
inline void tile_inputs(const MatmulJob& job, int64_t i0, int64_t c0, const float** xr) {
#pragma GCC unroll 4
  for (int i = 0; i < M; ++i) xr[i] = job.x + (i0 + i) * job.k + c0;
}

// A tile of R rows (from r0) x M inputs (from i0) of an FP8 / FP4 layer. ws holds each row's
// weight scales ([R][nsub]); comb is scratch for the products with the input scales.
template <int R, int M>
inline void quant_tile(const MatmulJob& job, int64_t r0, int64_t i0, const float* ws, float* comb) {
  const int64_t nsub = job.k / block_cols(job);
  // comb[(r * M + i) * nsub + c]: the scale of block c for output (r, i).
  for (int r = 0; r < R; ++r)
    for (int i = 0; i < M; ++i)
      scale_products(ws + r * nsub, job.xs + (i0 + i) * nsub, comb + (r * M + i) * nsub, nsub);
  const uint8_t* wr[R];
  tile_rows<R>(job, r0, wr);
  const float* xr[M];
  tile_inputs<M>(job, i0, 0, xr);

  V::F acc[R][M];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) acc[r][i] = V::zero();
  for (int64_t c = 0; c < nsub; ++c) {
    V::F part[R][M];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i) part[r][i] = V::zero();
    if (job.kind == MatmulJob::Kind::Fp8) {
      for (int64_t col = c * 128; col < c * 128 + 128; col += kLanes) {
        V::F xv[M];
#pragma GCC unroll 4
        for (int i = 0; i < M; ++i) xv[i] = V::load(xr[i] + col);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const V::F w = V::fp8(wr[r] + col);
#pragma GCC unroll 4
          for (int i = 0; i < M; ++i) part[r][i] = V::fma(xv[i], w, part[r][i]);
        }
      }
    } else {
      const int64_t col = c * 32;
      V::F xe[M], xo[M];
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i) {
        xe[i] = V::load(xr[i] + col);
        xo[i] = V::load(xr[i] + col + kLanes);
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        V::F lo, hi;
        V::fp4(wr[r] + col / 2, lo, hi);
#pragma GCC unroll 4
        for (int i = 0; i < M; ++i) part[r][i] = V::fma(xo[i], hi, V::fma(xe[i], lo, part[r][i]));
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i)
        acc[r][i] = V::fma(part[r][i], V::bcast(comb + (r * M + i) * nsub + c), acc[r][i]);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) job.y[(i0 + i) * job.ldy + (r0 + r - job.n0)] = V::hsum(acc[r][i]);
}

// A tile of a BF16 / F32 layer: one accumulator per output over the whole row.
template <int R, int M, bool Bf16>
inline void dense_tile(const MatmulJob& job, int64_t r0, int64_t i0) {
  const int64_t k = job.k, kv = k / kLanes * kLanes;
  const uint8_t* wr[R];
  tile_rows<R>(job, r0, wr);
  const float* xr[M];
  tile_inputs<M>(job, i0, 0, xr);
  V::F acc[R][M];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) acc[r][i] = V::zero();
  for (int64_t col = 0; col < kv; col += kLanes) {
    V::F xv[M];
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) xv[i] = V::load(xr[i] + col);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V::F w = Bf16 ? V::bf16(wr[r] + 2 * col) : V::f32(wr[r] + 4 * col);
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i) acc[r][i] = V::fma(xv[i], w, acc[r][i]);
    }
  }
  if (kv < k) {  // the last k % 16 columns, zero-padded: lanes past the end add nothing
    float xt[M][kLanes], wt[kLanes];
    V::F xv[M];
    for (int i = 0; i < M; ++i) {
      for (int64_t j = 0; j < kLanes; ++j) xt[i][j] = kv + j < k ? xr[i][kv + j] : 0.0f;
      xv[i] = V::load(xt[i]);
    }
    for (int r = 0; r < R; ++r) {
      for (int64_t j = 0; j < kLanes; ++j) {
        wt[j] = 0.0f;
        if (kv + j >= k) continue;
        uint32_t bits = 0;
        if (Bf16) {
          const uint8_t* p = wr[r] + 2 * (kv + j);
          bits = static_cast<uint32_t>(p[0] | (p[1] << 8)) << 16;
        } else {
          __builtin_memcpy(&bits, wr[r] + 4 * (kv + j), 4);
        }
        __builtin_memcpy(&wt[j], &bits, 4);
      }
      const V::F w = V::load(wt);
      for (int i = 0; i < M; ++i) acc[r][i] = V::fma(xv[i], w, acc[r][i]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) job.y[(i0 + i) * job.ldy + (r0 + r - job.n0)] = V::hsum(acc[r][i]);
}

template <int R, int M>
inline void tile(const MatmulJob& job, int64_t r0, int64_t i0, const float* ws, float* comb) {
  switch (job.kind) {
    case MatmulJob::Kind::Fp8:
    case MatmulJob::Kind::Fp4:
      return quant_tile<R, M>(job, r0, i0, ws, comb);
    case MatmulJob::Kind::Bf16:
      return dense_tile<R, M, true>(job, r0, i0);
    case MatmulJob::Kind::F32:
      return dense_tile<R, M, false>(job, r0, i0);
  }
}

// Inputs i0..i1 against rows r0..r0+rows (rows <= kGroupRows), whose scales are in ws.
inline void row_group(const MatmulJob& job, int64_t r0, int64_t rows, int64_t i0, int64_t i1,
                      const float* ws, float* comb) {
  const int64_t nsub = quantised(job) ? job.k / block_cols(job) : 0;
  int64_t i = i0;
  if (rows == kGroupRows) {
    for (; i + 4 <= i1; i += 4)
      for (int64_t r = 0; r < rows; r += 2) tile<2, 4>(job, r0 + r, i, ws + r * nsub, comb);
    for (; i + 2 <= i1; i += 2)
      for (int64_t r = 0; r < rows; r += 4) tile<4, 2>(job, r0 + r, i, ws + r * nsub, comb);
    for (; i < i1; ++i) tile<8, 1>(job, r0, i, ws, comb);
    return;
  }
  for (; i + 4 <= i1; i += 4)
    for (int64_t r = 0; r < rows; ++r) tile<1, 4>(job, r0 + r, i, ws + r * nsub, comb);
  for (; i < i1; ++i)
    for (int64_t r = 0; r < rows; ++r) tile<1, 1>(job, r0 + r, i, ws + r * nsub, comb);
}

// ---- prefill (16+ inputs): 4 rows x up to 1024 columns decoded once into L1, then register tiles
// that keep each output's accumulator (and a quantised block's part) in registers across the chunk.

constexpr int64_t kPR = 4;            // rows per group
constexpr int64_t kChunkCols = 1024;  // columns decoded at a time: 4 x 1024 floats = 16 KB

// Columns [c0, c0 + cw) of rows r0..r0+4 as floats in lane order, into wbuf[r * cw + j]: FP8 as
// the decoder yields them (value / 256), FP4 as lo then hi per 32 columns, dense as stored.
inline void decode_chunk(const MatmulJob& job, int64_t r0, int64_t c0, int64_t cw, float* wbuf) {
  const int64_t rb = row_bytes(job);
  for (int64_t r = 0; r < kPR; ++r) {
    const uint8_t* row = job.w + (r0 + r) * rb;
    float* d = wbuf + r * cw;
    switch (job.kind) {
      case MatmulJob::Kind::Fp8:
        for (int64_t v = 0; v < cw; v += kLanes) V::store(d + v, V::fp8(row + c0 + v));
        break;
      case MatmulJob::Kind::Fp4:
        for (int64_t v = 0; v < cw; v += 2 * kLanes) {
          V::F lo, hi;
          V::fp4(row + (c0 + v) / 2, lo, hi);
          V::store(d + v, lo);
          V::store(d + v + kLanes, hi);
        }
        break;
      case MatmulJob::Kind::Bf16:
        for (int64_t v = 0; v < cw; v += kLanes) V::store(d + v, V::bf16(row + 2 * (c0 + v)));
        break;
      case MatmulJob::Kind::F32:
        for (int64_t v = 0; v < cw; v += kLanes) V::store(d + v, V::f32(row + 4 * (c0 + v)));
        break;
    }
  }
}

// The next tile's inputs: `rows` rows from xnext, `stride` floats apart. One line of each per 16
// columns, so they arrive in L1 while this tile computes.
struct Prefetch {
  const float* x = nullptr;
  int64_t stride = 0;
  int rows = 0;
};
inline void prefetch_next(const Prefetch& p, int64_t v) {
  for (int i = 0; i < p.rows; ++i) __builtin_prefetch(p.x + i * p.stride + v);
}

// 4 rows x M inputs over one chunk. accm[r * acc_stride + i * 16] holds the lanes' running sums
// between chunks. Quantised: comb[(r * M + i) * nb + b] is the scale of block b of the chunk.
template <int M, bool Dense>
inline void chunk_tile(const float* wbuf, int64_t cw, int64_t bw, const float* const* xr,
                       const Prefetch& xnext, float* accm, int64_t acc_stride, const float* comb,
                       int64_t nb) {
  V::F acc[kPR][M];
#pragma GCC unroll 4
  for (int r = 0; r < kPR; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) acc[r][i] = V::load(accm + r * acc_stride + i * kLanes);
  if (Dense) {
    for (int64_t v = 0; v < cw; v += kLanes) {
      V::F x[M];
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i) x[i] = V::load(xr[i] + v);
      prefetch_next(xnext, v);
#pragma GCC unroll 4
      for (int r = 0; r < kPR; ++r) {
        const V::F w = V::load(wbuf + r * cw + v);
#pragma GCC unroll 4
        for (int i = 0; i < M; ++i) acc[r][i] = V::fma(x[i], w, acc[r][i]);
      }
    }
  } else {
    for (int64_t b = 0; b < nb; ++b) {
      V::F p[kPR][M];
#pragma GCC unroll 4
      for (int r = 0; r < kPR; ++r)
#pragma GCC unroll 4
        for (int i = 0; i < M; ++i) p[r][i] = V::zero();
      for (int64_t v = b * bw; v < b * bw + bw; v += kLanes) {
        V::F x[M];
#pragma GCC unroll 4
        for (int i = 0; i < M; ++i) x[i] = V::load(xr[i] + v);
        prefetch_next(xnext, v);
#pragma GCC unroll 4
        for (int r = 0; r < kPR; ++r) {
          const V::F w = V::load(wbuf + r * cw + v);
#pragma GCC unroll 4
          for (int i = 0; i < M; ++i) p[r][i] = V::fma(x[i], w, p[r][i]);
        }
      }
#pragma GCC unroll 4
      for (int r = 0; r < kPR; ++r)
#pragma GCC unroll 4
        for (int i = 0; i < M; ++i)
          acc[r][i] = V::fma(p[r][i], V::bcast(comb + (r * M + i) * nb + b), acc[r][i]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < kPR; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) V::store(accm + r * acc_stride + i * kLanes, acc[r][i]);
}

template <int M>
inline void chunk_group(const MatmulJob& job, const float* wbuf, int64_t c0, int64_t cw, int64_t i,
                        int64_t i1, float* accm, int64_t acc_stride, const float* ws, float* comb) {
  const float* xr[M];
  tile_inputs<M>(job, i, c0, xr);
  Prefetch next;  // the inputs of the next group of this chunk
  if (i + M < i1)
    next = {job.x + (i + M) * job.k + c0, job.k, static_cast<int>(imin(4, i1 - i - M))};
  if (!quantised(job))
    return chunk_tile<M, true>(wbuf, cw, 0, xr, next, accm, acc_stride, nullptr, 0);
  // The scales of the chunk's blocks, comb[(r * M + j) * nb + b].
  const int64_t bw = block_cols(job), nsub = job.k / bw, b0 = c0 / bw, nb = cw / bw;
  for (int r = 0; r < kPR; ++r)
    for (int j = 0; j < M; ++j)
      scale_products(ws + r * nsub + b0, job.xs + (i + j) * nsub + b0, comb + (r * M + j) * nb, nb);
  chunk_tile<M, false>(wbuf, cw, bw, xr, next, accm, acc_stride, comb, nb);
}

// Rows r0..r0+4 x inputs i0..i1 (at most kInputBlock of them). Quantised tiles hold a part and
// an accumulator per output, so they take 3 inputs at a time; dense ones take 4.
inline void prefill_group(const MatmulJob& job, int64_t r0, int64_t i0, int64_t i1, float* ws,
                          float* wbuf, float* accm, float* comb) {
  const bool quant = quantised(job);
  const int64_t k = job.k, nsub = quant ? k / block_cols(job) : 0;
  const int64_t acc_stride = kInputBlock * kLanes;  // accm[r][i][lane]
  for (int64_t r = 0; r < kPR; ++r) {
    if (quant) weight_scales(job, r0 + r, nsub, ws + r * nsub);
    for (int64_t j = 0; j < acc_stride; ++j) accm[r * acc_stride + j] = 0.0f;
  }
  for (int64_t c0 = 0; c0 < k; c0 += kChunkCols) {
    const int64_t cw = imin(kChunkCols, k - c0);
    decode_chunk(job, r0, c0, cw, wbuf);
    int64_t i = i0;
    auto at = [&](int64_t ii) { return accm + (ii - i0) * kLanes; };
    if (quant) {
      for (; i + 3 <= i1; i += 3)
        chunk_group<3>(job, wbuf, c0, cw, i, i1, at(i), acc_stride, ws, comb);
    } else {
      for (; i + 4 <= i1; i += 4)
        chunk_group<4>(job, wbuf, c0, cw, i, i1, at(i), acc_stride, ws, comb);
      if (i + 3 <= i1) {
        chunk_group<3>(job, wbuf, c0, cw, i, i1, at(i), acc_stride, ws, comb);
        i += 3;
      }
    }
    if (i + 2 <= i1) {
      chunk_group<2>(job, wbuf, c0, cw, i, i1, at(i), acc_stride, ws, comb);
      i += 2;
    }
    if (i < i1) chunk_group<1>(job, wbuf, c0, cw, i, i1, at(i), acc_stride, ws, comb);
  }
  for (int64_t r = 0; r < kPR; ++r)
    for (int64_t i = i0; i < i1; ++i)
      job.y[i * job.ldy + (r0 + r - job.n0)] =
          V::hsum(V::load(accm + r * acc_stride + (i - i0) * kLanes));
}

inline void run_matmul(const MatmulJob& job) {
  const int64_t nsub = quantised(job) ? job.k / block_cols(job) : 0;
  // Scratch, each part on a 64-byte boundary: unaligned vectors would split cache lines.
  const int64_t cap = job.k / 32 + 1;  // blocks per row, at most (matmul_scratch_floats)
  auto align = [](float* p) {
    return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63});
  };
  float* ws = align(job.scratch);                // [kGroupRows][nsub]
  float* comb = align(ws + kGroupRows * cap);    // [8 outputs][nsub] or [12 outputs][chunk blocks]
  float* wbuf = align(comb + 12 * cap);          // [kPR][kChunkCols]
  float* accm = align(wbuf + kPR * kChunkCols);  // [kPR][kInputBlock][16]
  // Prefill: 16 or more inputs (fewer use the register path), and (dense) whole vectors per row.
  const bool blocked = job.m >= 16 && (quantised(job) || job.k % kLanes == 0);
  for (int64_t i0 = 0; i0 < job.m; i0 += kInputBlock) {
    const int64_t i1 = imin(job.m, i0 + kInputBlock);
    int64_t r0 = job.n0;
    if (blocked)
      for (; r0 + kPR <= job.n1; r0 += kPR) prefill_group(job, r0, i0, i1, ws, wbuf, accm, comb);
    for (; r0 < job.n1; r0 += kGroupRows) {
      const int64_t rows = imin(kGroupRows, job.n1 - r0);
      if (nsub)
        for (int64_t r = 0; r < rows; ++r) weight_scales(job, r0 + r, nsub, ws + r * nsub);
      row_group(job, r0, rows, i0, i1, ws, comb);
    }
  }
}

// ---- attention

// y[j] += w * x[j], rounded twice (a product, then a sum) as the scalar loop does.
inline void axpy_unfused(float w, const float* x, float* y, int64_t n) {
  const V::F wv = V::bcast(&w);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    V::store(y + j, V::add(V::load(y + j), V::mul(wv, V::load(x + j))));
  for (; j < n; ++j) y[j] = y[j] + w * x[j];
}
