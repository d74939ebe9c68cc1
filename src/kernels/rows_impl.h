// The row-tile kernel of rows.h, written once. The including file defines, in its own namespace,
// `struct V` with: W (lanes), F (vector type), zero(), load(p), store(p, v), set1(f), add(a, b),
// mul(a, b), lo(a, b) / hi(a, b) (full-width interleave of the first / second halves), bf16(p)
// (W BF16 values at p as floats). Nothing
// from the standard library is used here: this code is compiled with ISA flags, and a template
// instantiated in it must not be picked by the linker for other code.

inline int64_t imin(int64_t a, int64_t b) {
  return a < b ? a : b;
}

// Transposes W vectors (rows) in place into W vectors (columns), by log2(W) perfect shuffles.
// Fully unrolled, so the arrays live in registers (not on the stack).
inline void transpose_regs(V::F* r) {
  V::F t[V::W];
#pragma GCC unroll 4
  for (int round = 1; round < V::W; round *= 2) {
#pragma GCC unroll 8
    for (int i = 0; i < V::W / 2; ++i) {
      t[2 * i] = V::lo(r[i], r[i + V::W / 2]);
      t[2 * i + 1] = V::hi(r[i], r[i + V::W / 2]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < V::W; ++i) r[i] = t[i];
  }
}

// dst[c][r] = src[r][c] for a W x W block (strides in floats).
inline void transpose_block(const float* src, int64_t ss, float* dst, int64_t ds) {
  V::F r[V::W];
#pragma GCC unroll 16
  for (int i = 0; i < V::W; ++i) r[i] = V::load(src + i * ss);
  transpose_regs(r);
#pragma GCC unroll 16
  for (int i = 0; i < V::W; ++i) V::store(dst + i * ds, r[i]);
}

// BF16 rows r0.. (W of them, those >= n1 as zeros), columns c..c+W (those >= k as zeros), decoded
// and transposed straight into dst (stride ds): no tile buffer, no per-row calls.
inline void bf16_block(const RowJob& job, int64_t r0, int64_t c, float* dst, int64_t ds) {
  V::F r[V::W];
  const bool full_cols = c + V::W <= job.k;
#pragma GCC unroll 16
  for (int i = 0; i < V::W; ++i) {
    const int64_t row = r0 + i;
    const uint8_t* p = job.bf16 + 2 * (row * job.k + c);
    if (row < job.n1 && full_cols) {
      r[i] = V::bf16(p);
    } else {
      float tmp[V::W];
      for (int j = 0; j < V::W; ++j) {
        uint32_t bits = 0;
        if (row < job.n1 && c + j < job.k)
          bits = static_cast<uint32_t>(p[2 * j] | (p[2 * j + 1] << 8)) << 16;
        __builtin_memcpy(&tmp[j], &bits, 4);
      }
      r[i] = V::load(tmp);
    }
  }
  transpose_regs(r);
#pragma GCC unroll 16
  for (int i = 0; i < V::W; ++i) V::store(dst + i * ds, r[i]);
}

constexpr int kVecs = 4;  // vectors of rows per tile: independent add chains
constexpr int64_t kTile = kVecs * V::W;
constexpr int64_t kChunk = 512;  // columns decoded at a time (measured: 128 and 1024 are slower)

inline void run_rows(const RowJob& job) {
  const int64_t k = job.k;
  const bool blocks = job.kind == RowJob::Kind::Fp8 || job.kind == RowJob::Kind::Fp4;
  const int64_t sub = job.kind == RowJob::Kind::Fp4 ? 32 : 128;
  const int64_t nsub = blocks ? k / sub : 0;
  float* tile = job.scratch;              // [kTile][kChunk]
  float* tt = tile + kTile * kChunk;      // [kChunk][kTile]
  float* ws = tt + kChunk * kTile;        // [nsub][kTile]
  float* accs = ws + (nsub + 1) * kTile;  // [m][kTile]: running sums across chunks
  for (int64_t t0 = job.n0; t0 < job.n1; t0 += kTile) {
    const int64_t rows = imin(kTile, job.n1 - t0);
    if (job.xs) {
      for (int64_t i = 0; i < nsub * kTile; ++i) ws[i] = 0;
      job.scales(job.ctx, t0, rows, nsub, kTile, ws);
    }
    for (int64_t i = 0; i < job.m * kTile; ++i) accs[i] = 0;
    for (int64_t c0 = 0; c0 < k; c0 += kChunk) {
      const int64_t kw = imin(kChunk, k - c0), kwp = (kw + V::W - 1) / V::W * V::W;
      if (job.bf16) {
        for (int64_t rb = 0; rb < kTile; rb += V::W)
          for (int64_t cb = 0; cb < kwp; cb += V::W)
            bf16_block(job, t0 + rb, c0 + cb, tt + cb * kTile + rb, kTile);
      } else {
        for (int64_t l = 0; l < kTile; ++l) {
          float* dst = tile + l * kChunk;
          int64_t j = 0;
          if (l < rows) {
            job.decode_row(job.ctx, t0 + l, c0, kw, dst);
            j = kw;
          }
          for (; j < kwp; ++j) dst[j] = 0;
        }
        for (int64_t rb = 0; rb < kTile; rb += V::W)
          for (int64_t cb = 0; cb < kwp; cb += V::W)
            transpose_block(tile + rb * kChunk + cb, kChunk, tt + cb * kTile + rb, kTile);
      }

      for (int64_t i = 0; i < job.m; ++i) {
        const float* xi = job.x + i * k + c0;
        float* acc_i = accs + i * kTile;
        V::F acc[kVecs];
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) acc[v] = V::load(acc_i + v * V::W);
        if (!blocks) {  // dense: acc += x[j] * w[j], j = 0..k
          for (int64_t j = 0; j < kw; ++j) {
            const V::F xb = V::set1(xi[j]);
            const float* col = tt + j * kTile;
#pragma GCC unroll 4
            for (int v = 0; v < kVecs; ++v)
              acc[v] = V::add(acc[v], V::mul(xb, V::load(col + v * V::W)));
          }
        } else {
          for (int64_t cs = 0; cs < kw; cs += sub) {
            const int64_t c = (c0 + cs) / sub;  // block index in the row
            V::F part[kVecs];
#pragma GCC unroll 4
            for (int v = 0; v < kVecs; ++v) part[v] = V::zero();
            for (int64_t j = cs; j < cs + sub; ++j) {
              const V::F xb = V::set1(xi[j]);
              const float* col = tt + j * kTile;
#pragma GCC unroll 4
              for (int v = 0; v < kVecs; ++v)
                part[v] = V::add(part[v], V::mul(xb, V::load(col + v * V::W)));
            }
            if (job.xs) {  // acc += part * (x_scale * w_scale)
              const V::F xsb = V::set1(job.xs[i * (k / 128) + (c * sub) / 128]);
#pragma GCC unroll 4
              for (int v = 0; v < kVecs; ++v)
                acc[v] = V::add(acc[v],
                                V::mul(part[v], V::mul(xsb, V::load(ws + c * kTile + v * V::W))));
            } else {
#pragma GCC unroll 4
              for (int v = 0; v < kVecs; ++v) acc[v] = V::add(acc[v], part[v]);
            }
          }
        }
#pragma GCC unroll 4
        for (int v = 0; v < kVecs; ++v) V::store(acc_i + v * V::W, acc[v]);
      }
    }
    for (int64_t i = 0; i < job.m; ++i)
      for (int64_t l = 0; l < rows; ++l)
        job.y[i * job.ldy + (t0 + l - job.n0)] = accs[i * kTile + l];
  }
}
