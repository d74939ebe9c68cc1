#include "kernels/linear.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/isa.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "numeric/formats.h"
#include "util/error.h"

namespace dsv4 {

namespace {

const std::array<float, 256>& fp8_table() {
  static const std::array<float, 256> t = [] {
    std::array<float, 256> a{};
    for (int i = 0; i < 256; ++i) a[i] = fp8_e4m3_to_f32(static_cast<uint8_t>(i));
    return a;
  }();
  return t;
}

// Both values of a packed FP4 byte (low nibble = even element).
const std::array<std::array<float, 2>, 256>& fp4_pair_table() {
  static const std::array<std::array<float, 2>, 256> t = [] {
    std::array<std::array<float, 2>, 256> a{};
    for (int i = 0; i < 256; ++i) {
      const auto b = static_cast<uint8_t>(i);
      a[i] = {fp4_e2m1_to_f32(fp4_lo(b)), fp4_e2m1_to_f32(fp4_hi(b))};
    }
    return a;
  }();
  return t;
}

// Row r of a BF16 / F32 / F16 weight [n, k] as floats.
void load_row(const TensorView& w, int64_t r, int64_t k, float* out) {
  if (w.dtype() == DType::BF16) {
    const uint8_t* p = w.data + 2 * r * k;
    for (int64_t j = 0; j < k; ++j) {
      uint16_t h;
      std::memcpy(&h, p + 2 * j, 2);
      const uint32_t bits = static_cast<uint32_t>(h) << 16;
      std::memcpy(&out[j], &bits, 4);
    }
    return;
  }
  for (int64_t j = 0; j < k; ++j) out[j] = load_float(w, r * k + j);
}

float scale_at(const TensorView& s, int64_t i) {
  if (s.dtype() == DType::F8_E8M0) {
    const uint8_t e = s.data[i];
    if (e == 0 || e == 0xFF) return e8m0_to_f32(e);
    const uint32_t bits = static_cast<uint32_t>(e) << 23;  // 2^(e-127), a normal float
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  return s.load<float>(static_cast<uint64_t>(i));
}

}  // namespace

int64_t QuantWeight::cols() const {
  return fp4() ? weight->shape()[1] * 2 : weight->shape()[1];
}

float load_float(const TensorView& t, int64_t i) {
  switch (t.dtype()) {
    case DType::BF16:
      return bf16_to_f32(t.load<uint16_t>(static_cast<uint64_t>(i)));
    case DType::F32:
      return t.load<float>(static_cast<uint64_t>(i));
    case DType::F16:
      return f16_to_f32(t.load<uint16_t>(static_cast<uint64_t>(i)));
    default:
      fail("{}: tensor '{}' is {}, expected a float type", *t.file, t.name(),
           dtype_name(t.dtype()));
  }
}

void load_floats(const TensorView& t, float* out) {
  const int64_t n = static_cast<int64_t>(t.entry->numel());
  for (int64_t i = 0; i < n; ++i) out[i] = load_float(t, i);
}

namespace {

constexpr int kLanes = 16;

// The lane tree of linear.h.
float lane_sum(float* lane) {
  for (int h = kLanes / 2; h >= 1; h /= 2)
    for (int l = 0; l < h; ++l) lane[l] = lane[l] + lane[l + h];
  return lane[0];
}

}  // namespace

void linear_quant_ref(const QuantWeight& w, const float* x, int64_t m, float* y, ActQuant aq,
                      int64_t n0, int64_t n1, int64_t ldy) {
  const int64_t n = w.rows(), k = w.cols();
  if (n1 < 0) n1 = n;
  if (ldy < 0) ldy = n1 - n0;
  const auto& t8 = fp8_table();
  const bool fp4 = w.fp4();
  const int64_t kb128 = (k + 127) / 128;
  const int64_t scale_cols = w.scale->shape()[1];
  std::vector<float> wrow(static_cast<size_t>(k));

  // Input: FP8 codes decoded to float times their per-128 scales (exact: a power of two), or the
  // raw input.
  Fp8Activations qa;
  std::vector<float> xq;
  if (aq == ActQuant::Fp8) {
    act_quant_fp8(x, m, k, qa);
    xq.resize(qa.codes.size());
    for (size_t i = 0; i < xq.size(); ++i) {
      const int64_t row = static_cast<int64_t>(i) / k, col = static_cast<int64_t>(i) % k;
      xq[i] = t8[qa.codes[i]] * qa.scales[static_cast<size_t>(row * kb128 + col / 128)];
    }
  }
  // The weight's scale block along K: 128 columns for FP8, 32 for FP4.
  const int64_t sub = fp4 ? 32 : 128;
  const int64_t n_sub = (k + sub - 1) / sub;
  std::vector<float> wsc(static_cast<size_t>(n_sub));

  for (int64_t r = n0; r < n1; ++r) {
    // Unscaled weight values of row r and the scale of each block.
    if (fp4) {
      const uint8_t* b = w.weight->data + r * (k / 2);
      const auto& t4 = fp4_pair_table();
      for (int64_t j = 0; j < k / 2; ++j) {
        wrow[2 * j] = t4[b[j]][0];
        wrow[2 * j + 1] = t4[b[j]][1];
      }
    } else {
      const uint8_t* b = w.weight->data + r * k;
      for (int64_t j = 0; j < k; ++j) wrow[j] = t8[b[j]];
    }
    for (int64_t c = 0; c < n_sub; ++c)
      wsc[c] = fp4 ? scale_at(*w.scale, r * scale_cols + c)
                   : scale_at(*w.scale, (r / 128) * scale_cols + c);
    // The weights as the tiles multiply them: each value times its block factor (FP8: the value
    // / 256, exact, times the scale * 256, which is how the fast decoder gets it).
    for (int64_t j = 0; j < k; ++j) {
      const float s = wsc[j / sub];
      wrow[j] = fp4 ? wrow[j] * s : (wrow[j] * 0x1p-8f) * (s * 256.0f);
    }
    for (int64_t i = 0; i < m; ++i) {
      const float* xr = aq == ActQuant::Fp8 ? xq.data() + i * k : x + i * k;
      float lane[kLanes] = {};
      for (int64_t j = 0; j < k; ++j) {
        const int64_t l = fp4 ? (j % 32) / 2 : j % kLanes;
        lane[l] = std::fmaf(xr[j], wrow[j], lane[l]);
      }
      y[i * ldy + (r - n0)] = lane_sum(lane);
    }
  }
}

void linear_dense_ref(const TensorView& w, const float* x, int64_t m, float* y) {
  const int64_t n = w.shape()[0], k = w.shape()[1];
  std::vector<float> wrow(static_cast<size_t>(k));
  for (int64_t r = 0; r < n; ++r) {
    load_row(w, r, k, wrow.data());
    for (int64_t i = 0; i < m; ++i) {
      const float* xr = x + i * k;
      float lane[kLanes] = {};
      for (int64_t j = 0; j < k; ++j)
        lane[j % kLanes] = std::fmaf(xr[j], wrow[j], lane[j % kLanes]);
      y[i * n + r] = lane_sum(lane);
    }
  }
}

// ---- fast paths: kernels/matmul.h, bit-identical to the above ------------------------------

namespace {

void run_matmul_range(Isa isa, MatmulJob job) {
  thread_local std::vector<float> scratch;
  scratch.resize(static_cast<size_t>(matmul_scratch_floats(job.k)));  // the kernel aligns its parts
  job.scratch = scratch.data();
  if (isa == Isa::Avx512)
    matmul_avx512(job);
  else
    matmul_avx2(job);
}

// Splits the rows into one contiguous range per compute thread (kernels/parallel.h), in multiples
// of 8 rows (the kernel's row group); small layers stay on the calling thread.
void run_matmul(Isa isa, const MatmulJob& job) {
  const int64_t rows = job.n1 - job.n0;
  const int threads = compute_threads();
  if (threads == 1 || rows * job.k < (int64_t{1} << 16) || rows < 16)
    return run_matmul_range(isa, job);
  auto task = [&](int t, int T) {
    const int64_t per = (rows + T - 1) / T, step = (per + 7) / 8 * 8;
    MatmulJob part = job;
    part.n0 = job.n0 + std::min(rows, t * step);
    part.n1 = job.n0 + std::min(rows, (t + 1) * step);
    if (part.n0 >= part.n1) return;
    part.y = job.y + (part.n0 - job.n0);
    run_matmul_range(isa, part);
  };
  parallel_run(task);
}

}  // namespace

void linear_quant_isa(Isa isa, const QuantWeight& w, const float* x, int64_t m, float* y,
                      ActQuant aq, int64_t n0, int64_t n1, int64_t ldy) {
  const int64_t n = w.rows(), k = w.cols();
  if (n1 < 0) n1 = n;
  if (ldy < 0) ldy = n1 - n0;
  if (isa == Isa::Scalar || k % 128 != 0) return linear_quant_ref(w, x, m, y, aq, n0, n1, ldy);
  const bool fp4 = w.fp4();
  // The kernel's input layout (matmul.h): act-quant values times their scales, and FP4 inputs
  // with each 32-column block split into its even then its odd columns. On a 64-byte boundary
  // (rows are k floats, a multiple of 128, apart), so the kernel's vector loads never split a
  // cache line.
  thread_local std::vector<float> xbuf;
  xbuf.resize(static_cast<size_t>(m * k + 16));
  float* xp =
      reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(xbuf.data()) + 63) & ~uintptr_t{63});
  const float* xv = x;
  if (aq == ActQuant::Fp8) {
    act_quant_fp8_values(x, m, k, xp);
    xv = xp;
  }
  if (fp4) {  // in place: each block is read whole before it is written
    for (int64_t b = 0; b < m * k; b += 32) {
      float block[32];
      std::copy(xv + b, xv + b + 32, block);
      for (int l = 0; l < 16; ++l) {
        xp[b + l] = block[2 * l];
        xp[b + 16 + l] = block[2 * l + 1];
      }
    }
    xv = xp;
  }

  MatmulJob job;
  job.kind = fp4 ? MatmulJob::Kind::Fp4 : MatmulJob::Kind::Fp8;
  job.k = k;
  job.n0 = n0;
  job.n1 = n1;
  job.w = w.weight->data;
  job.ws = w.scale->data;
  job.ws_e8m0 = w.scale->dtype() == DType::F8_E8M0;
  job.ws_cols = w.scale->shape()[1];
  job.x = xv;
  job.m = m;
  job.y = y;
  job.ldy = ldy;
  run_matmul(isa, job);
}

void linear_dense_isa(Isa isa, const TensorView& w, const float* x, int64_t m, float* y) {
  if (isa == Isa::Scalar || (w.dtype() != DType::BF16 && w.dtype() != DType::F32))
    return linear_dense_ref(w, x, m, y);
  const int64_t n = w.shape()[0], k = w.shape()[1];
  MatmulJob job;
  job.kind = w.dtype() == DType::BF16 ? MatmulJob::Kind::Bf16 : MatmulJob::Kind::F32;
  job.k = k;
  job.n0 = 0;
  job.n1 = n;
  job.w = w.data;
  job.x = x;
  job.m = m;
  job.y = y;
  job.ldy = n;
  run_matmul(isa, job);
}

void axpy_unfused_ref(float w, const float* x, float* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] = y[j] + w * x[j];
}

void axpy_unfused(Isa isa, float w, const float* x, float* y, int64_t n) {
  if (isa == Isa::Avx512) return axpy_unfused_avx512(w, x, y, n);
  if (isa == Isa::Avx2) return axpy_unfused_avx2(w, x, y, n);
  axpy_unfused_ref(w, x, y, n);
}

void dots_sequential_ref(const float* q, const float* const* keys, int64_t n_keys, int64_t dim,
                         float* out) {
  // 8 keys at a time: 8 independent chains (each still in order).
  constexpr int kKeys = 8;
  int64_t e = 0;
  for (; e + kKeys <= n_keys; e += kKeys) {
    float dot[kKeys] = {};
    for (int64_t i = 0; i < dim; ++i)
      for (int k = 0; k < kKeys; ++k) dot[k] += q[i] * keys[e + k][i];
    for (int k = 0; k < kKeys; ++k) out[e + k] = dot[k];
  }
  for (; e < n_keys; ++e) {
    float dot = 0;
    for (int64_t i = 0; i < dim; ++i) dot += q[i] * keys[e][i];
    out[e] = dot;
  }
}

void dots_sequential(Isa isa, const float* q, const float* const* keys, int64_t n_keys, int64_t dim,
                     float* out) {
  if (isa == Isa::Avx512) return dots_sequential_avx512(q, keys, n_keys, dim, out);
  dots_sequential_ref(q, keys, n_keys, dim, out);
}

void linear_quant(const QuantWeight& w, const float* x, int64_t m, float* y, ActQuant aq,
                  int64_t n0, int64_t n1, int64_t ldy) {
  linear_quant_isa(active_isa(), w, x, m, y, aq, n0, n1, ldy);
}

void linear_dense(const TensorView& w, const float* x, int64_t m, float* y) {
  linear_dense_isa(active_isa(), w, x, m, y);
}

}  // namespace dsv4
