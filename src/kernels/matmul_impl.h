// The kernel of matmul.h, written once. The including file defines, in its own namespace,
// `struct V`: 16 float lanes as one type F, with zero(), load(p), store(p, v), bcast(p) (*p in
// every lane), fma(a, b, c) (fused, one rounding), mul(a, b), and the decoders of 16 columns from
// the stored bytes: load_n(p, n) / store_n(p, v, n) (the first n < 16 lanes; the rest read as
// zero, never touched), bf16(p), f32(p), fp8x2(p, a, b) (32 columns, each the value / 256: e4m3
// bits shifted into an f16), fp4_table(s) (the FP4 values times *s, in a register table of
// type T) and fp4(p, t, lo, hi) (16 bytes = 32 columns looked up in t: the even ones in lo, the
// odd ones in hi), e8m0(p) (16 scales); hsum(v), the lanes added as the tree of linear.h; and
// kPrefillInputs, the inputs of a prefill register tile (what its register file holds). Nothing
// from the standard library is used here: this code is compiled with ISA flags, and a template
// instantiated in it must not be picked by the linker for other code.

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

// dst[c] for c < nsub: what the decoded weights of row r are multiplied by in each block of
// columns, as linear.h defines it: the weight scale (FP4), or the weight scale times 256 (FP8,
// whose decoder yields the value / 256).
inline void weight_scales(const MatmulJob& job, int64_t r, int64_t nsub, float* dst) {
  const bool fp8 = job.kind == MatmulJob::Kind::Fp8;
  const int64_t srow = fp8 ? r / 128 : r;
  if (!job.ws_e8m0) {
    __builtin_memcpy(dst, job.ws + 4 * srow * job.ws_cols, static_cast<size_t>(4 * nsub));
  } else {
    const uint8_t* p = job.ws + srow * job.ws_cols;
    int64_t c = 0;
    for (; c + kLanes <= nsub; c += kLanes) V::store(dst + c, V::e8m0(p + c));
    for (; c < nsub; ++c) dst[c] = e8m0_scalar(p[c]);
  }
  if (fp8)
    for (int64_t c = 0; c < nsub; ++c) dst[c] *= 256.0f;
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
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) xr[i] = job.x + (i0 + i) * job.k + c0;
}

// The same bytes of the rows one group further on, into L2 (decode streams a group of rows side by
// side; short rows, 2 KB for Flash's FP4 experts, leave the hardware prefetcher too little time to
// ramp up, so a software stream a group ahead keeps the memory busy). Past the end of the weights
// it is dropped: a prefetch never faults.
inline void prefetch_rows_ahead(const uint8_t* p, int64_t rb) {
  __builtin_prefetch(p + kGroupRows * rb, 0, 2);
}

// A tile of R rows (from r0) x M inputs (from i0): one accumulator per output over the whole row,
// each weight vector decoded (and scaled: ws holds the rows' block factors, [R][nsub]) once for
// the M inputs.
template <int R, int M, MatmulJob::Kind K>
inline void tile(const MatmulJob& job, int64_t r0, int64_t i0, const float* ws) {
  const int64_t k = job.k;
  const uint8_t* wr[R];
  tile_rows<R>(job, r0, wr);
  const float* xr[M];
  tile_inputs<M>(job, i0, 0, xr);
  V::F acc[R][M];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) acc[r][i] = V::zero();
  if constexpr (K == MatmulJob::Kind::Fp8) {
    const int64_t nsub = k / 128;
    for (int64_t c = 0; c < nsub; ++c) {
      V::F s[R];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        s[r] = V::bcast(ws + r * nsub + c);
        prefetch_rows_ahead(wr[r] + c * 128, k);
        prefetch_rows_ahead(wr[r] + c * 128 + 64, k);
      }
      for (int64_t col = c * 128; col < c * 128 + 128; col += 2 * kLanes) {
        V::F xa[M], xb[M];
#pragma GCC unroll 4
        for (int i = 0; i < M; ++i) {
          xa[i] = V::load(xr[i] + col);
          xb[i] = V::load(xr[i] + col + kLanes);
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          V::F wa, wb;
          V::fp8x2(wr[r] + col, wa, wb);
          wa = V::mul(wa, s[r]);
          wb = V::mul(wb, s[r]);
#pragma GCC unroll 4
          for (int i = 0; i < M; ++i) acc[r][i] = V::fma(xb[i], wb, V::fma(xa[i], wa, acc[r][i]));
        }
      }
    }
  } else if constexpr (K == MatmulJob::Kind::Fp4) {
    const int64_t nsub = k / 32;
    for (int64_t c = 0; c < nsub; ++c) {
      const int64_t col = c * 32;
      V::F xe[M], xo[M];
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i) {
        xe[i] = V::load(xr[i] + col);
        xo[i] = V::load(xr[i] + col + kLanes);
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        if (c % 4 == 0) prefetch_rows_ahead(wr[r] + col / 2, k / 2);
        V::F lo, hi;
        V::fp4(wr[r] + col / 2, V::fp4_table(ws + r * nsub + c), lo, hi);
#pragma GCC unroll 4
        for (int i = 0; i < M; ++i) acc[r][i] = V::fma(xo[i], hi, V::fma(xe[i], lo, acc[r][i]));
      }
    }
  } else {
    constexpr bool kBf16 = K == MatmulJob::Kind::Bf16;
    constexpr int64_t kBytes = kBf16 ? 2 : 4;  // per weight
    const int64_t kv = k / kLanes * kLanes;
    for (int64_t col = 0; col < kv; col += kLanes) {
      V::F xv[M];
#pragma GCC unroll 4
      for (int i = 0; i < M; ++i) xv[i] = V::load(xr[i] + col);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const int64_t at = kBytes * col;  // one prefetch per 64-byte line
        if (at % 64 == 0) prefetch_rows_ahead(wr[r] + at, kBytes * k);
        const V::F w = kBf16 ? V::bf16(wr[r] + at) : V::f32(wr[r] + at);
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
          if (kBf16) {
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
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < M; ++i) job.y[(i0 + i) * job.ldy + (r0 + r - job.n0)] = V::hsum(acc[r][i]);
}

// Inputs i0..i1 against rows r0..r0+rows (rows <= kGroupRows), whose block factors are in ws.
template <MatmulJob::Kind K>
inline void row_group(const MatmulJob& job, int64_t r0, int64_t rows, int64_t i0, int64_t i1,
                      const float* ws) {
  const int64_t nsub = quantised(job) ? job.k / block_cols(job) : 0;
  int64_t i = i0;
  if (rows == kGroupRows) {
    for (; i + 4 <= i1; i += 4)
      for (int64_t r = 0; r < rows; r += 2) tile<2, 4, K>(job, r0 + r, i, ws + r * nsub);
    for (; i + 2 <= i1; i += 2)
      for (int64_t r = 0; r < rows; r += 4) tile<4, 2, K>(job, r0 + r, i, ws + r * nsub);
    for (; i < i1; ++i) tile<8, 1, K>(job, r0, i, ws);
    return;
  }
  for (; i + 4 <= i1; i += 4)
    for (int64_t r = 0; r < rows; ++r) tile<1, 4, K>(job, r0 + r, i, ws + r * nsub);
  for (; i < i1; ++i)
    for (int64_t r = 0; r < rows; ++r) tile<1, 1, K>(job, r0 + r, i, ws + r * nsub);
}

inline void row_group_any(const MatmulJob& job, int64_t r0, int64_t rows, int64_t i0, int64_t i1,
                          const float* ws) {
  switch (job.kind) {
    case MatmulJob::Kind::Fp8:
      return row_group<MatmulJob::Kind::Fp8>(job, r0, rows, i0, i1, ws);
    case MatmulJob::Kind::Fp4:
      return row_group<MatmulJob::Kind::Fp4>(job, r0, rows, i0, i1, ws);
    case MatmulJob::Kind::Bf16:
      return row_group<MatmulJob::Kind::Bf16>(job, r0, rows, i0, i1, ws);
    case MatmulJob::Kind::F32:
      return row_group<MatmulJob::Kind::F32>(job, r0, rows, i0, i1, ws);
  }
}

// ---- prefill (6+ inputs): 4 rows x up to 1024 columns decoded (and scaled) once into L1, then
// register tiles of 4 rows x kPrefillInputs inputs that keep each output's accumulator in
// registers across the chunk.

constexpr int64_t kPR = 4;            // rows per group
constexpr int64_t kChunkCols = 1024;  // columns decoded at a time: 4 x 1024 floats = 16 KB

// Columns [c0, c0 + cw) of rows r0..r0+4 as the floats the tiles multiply, in lane order, into
// wbuf[r * cw + j]: FP8 and FP4 scaled by their block factors (ws, [4][nsub]), FP4 as lo then hi
// per 32 columns, dense as stored.
inline void decode_chunk(const MatmulJob& job, int64_t r0, int64_t c0, int64_t cw, const float* ws,
                         float* wbuf) {
  const int64_t rb = row_bytes(job);
  const int64_t nsub = quantised(job) ? job.k / block_cols(job) : 0;
  // The next chunk's bytes into L2 while this one is decoded and multiplied: the rest of these
  // rows, or the next 4 rows (the experts of a prefill are read from memory once, and a chunk is
  // too short for the hardware prefetcher to ramp up). Past the end of the weights it is dropped.
  {
    const int64_t nc0 = c0 + cw < job.k ? c0 + cw : 0, nr0 = c0 + cw < job.k ? r0 : r0 + kPR;
    const int64_t b0 = nc0 * rb / job.k, nb = imin(kChunkCols, job.k - nc0) * rb / job.k;
    for (int64_t r = 0; r < kPR; ++r)
      for (int64_t b = 0; b < nb; b += 64)
        __builtin_prefetch(job.w + (nr0 + r) * rb + b0 + b, 0, 2);
  }
  for (int64_t r = 0; r < kPR; ++r) {
    const uint8_t* row = job.w + (r0 + r) * rb;
    const float* s = ws + r * nsub;
    float* d = wbuf + r * cw;
    switch (job.kind) {
      case MatmulJob::Kind::Fp8:
        for (int64_t v = 0; v < cw; v += 128) {
          const V::F sv = V::bcast(s + (c0 + v) / 128);
#pragma GCC unroll 4
          for (int64_t u = v; u < v + 128; u += 2 * kLanes) {
            V::F a, b;
            V::fp8x2(row + c0 + u, a, b);
            V::store(d + u, V::mul(a, sv));
            V::store(d + u + kLanes, V::mul(b, sv));
          }
        }
        break;
      case MatmulJob::Kind::Fp4:
        for (int64_t v = 0; v < cw; v += 2 * kLanes) {
          V::F lo, hi;
          V::fp4(row + (c0 + v) / 2, V::fp4_table(s + (c0 + v) / 32), lo, hi);
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
// between chunks. The 4 weight vectors are loaded first, then each input once for its 4 products,
// so the tile needs 4 * M accumulators + 5 registers.
template <int M>
inline void chunk_tile(const float* wbuf, int64_t cw, const float* const* xr, const Prefetch& xnext,
                       bool first, float* accm, int64_t acc_stride) {
  V::F acc[kPR][M];
#pragma GCC unroll 4
  for (int r = 0; r < kPR; ++r)
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i)
      acc[r][i] = first ? V::zero() : V::load(accm + r * acc_stride + i * kLanes);
  for (int64_t v = 0; v < cw; v += kLanes) {
    V::F w[kPR];
#pragma GCC unroll 4
    for (int r = 0; r < kPR; ++r) w[r] = V::load(wbuf + r * cw + v);
    prefetch_next(xnext, v);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const V::F x = V::load(xr[i] + v);
#pragma GCC unroll 4
      for (int r = 0; r < kPR; ++r) acc[r][i] = V::fma(x, w[r], acc[r][i]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < kPR; ++r)
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) V::store(accm + r * acc_stride + i * kLanes, acc[r][i]);
}

template <int M>
inline void chunk_group(const MatmulJob& job, const float* wbuf, int64_t c0, int64_t cw, int64_t i,
                        int64_t i1, float* accm, int64_t acc_stride) {
  const bool first = c0 == 0;  // the accumulators start at zero, not from accm
  const float* xr[M];
  tile_inputs<M>(job, i, c0, xr);
  Prefetch next;  // the inputs of the next group of this chunk
  if (i + M < i1)
    next = {job.x + (i + M) * job.k + c0, job.k, static_cast<int>(imin(M, i1 - i - M))};
  chunk_tile<M>(wbuf, cw, xr, next, first, accm, acc_stride);
}

// Rows r0..r0+4 x inputs i0..i1 (at most kInputBlock of them); ws holds the 4 rows' block factors.
inline void prefill_group(const MatmulJob& job, int64_t r0, int64_t i0, int64_t i1, const float* ws,
                          float* wbuf, float* accm) {
  constexpr int kM = V::kPrefillInputs;
  const int64_t k = job.k;
  const int64_t acc_stride = kInputBlock * kLanes;  // accm[r][i][lane]
  for (int64_t c0 = 0; c0 < k; c0 += kChunkCols) {
    const int64_t cw = imin(kChunkCols, k - c0);
    decode_chunk(job, r0, c0, cw, ws, wbuf);
    auto at = [&](int64_t ii) { return accm + (ii - i0) * kLanes; };
    int64_t i = i0;
    for (; i + kM <= i1; i += kM) chunk_group<kM>(job, wbuf, c0, cw, i, i1, at(i), acc_stride);
    if (kM > 4 && i + 4 <= i1) {
      chunk_group<4>(job, wbuf, c0, cw, i, i1, at(i), acc_stride);
      i += 4;
    }
    if (kM > 2 && i + 2 <= i1) {
      chunk_group<2>(job, wbuf, c0, cw, i, i1, at(i), acc_stride);
      i += 2;
    }
    for (; i < i1; ++i) chunk_group<1>(job, wbuf, c0, cw, i, i1, at(i), acc_stride);
  }
  for (int64_t r = 0; r < kPR; ++r)
    for (int64_t i = i0; i < i1; ++i)
      job.y[i * job.ldy + (r0 + r - job.n0)] =
          V::hsum(V::load(accm + r * acc_stride + (i - i0) * kLanes));
}

inline void run_matmul(const MatmulJob& job) {
  static_assert(kInputBlock % V::kPrefillInputs == 0, "input blocks hold whole tiles");
  const int64_t nsub = quantised(job) ? job.k / block_cols(job) : 0;
  // Scratch, each part on a 64-byte boundary: unaligned vectors would split cache lines.
  const int64_t cap = job.k / 32 + 1;  // blocks per row, at most (matmul_scratch_floats)
  auto align = [](float* p) {
    return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63});
  };
  float* ws = align(job.scratch);                // [kGroupRows][nsub]
  float* wbuf = align(ws + kGroupRows * cap);    // [kPR][kChunkCols]
  float* accm = align(wbuf + kPR * kChunkCols);  // [kPR][kInputBlock][16]
  // Prefill: 6 or more inputs (a whole tile; fewer use the register path), and (dense) whole
  // vectors per row.
  const bool blocked = job.m >= 6 && (quantised(job) || job.k % kLanes == 0);
  for (int64_t i0 = 0; i0 < job.m; i0 += kInputBlock) {
    const int64_t i1 = imin(job.m, i0 + kInputBlock);
    int64_t r0 = job.n0;
    if (blocked)
      for (; r0 + kPR <= job.n1; r0 += kPR) {
        if (nsub)
          for (int64_t r = 0; r < kPR; ++r) weight_scales(job, r0 + r, nsub, ws + r * nsub);
        prefill_group(job, r0, i0, i1, ws, wbuf, accm);
      }
    for (; r0 < job.n1; r0 += kGroupRows) {
      const int64_t rows = imin(kGroupRows, job.n1 - r0);
      if (nsub)
        for (int64_t r = 0; r < rows; ++r) weight_scales(job, r0 + r, nsub, ws + r * nsub);
      row_group_any(job, r0, rows, i0, i1, ws);
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
