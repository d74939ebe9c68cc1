#include "kernels/linear.h"

#include <array>
#include <cstring>
#include <vector>

#include "kernels/decode.h"
#include "kernels/isa.h"
#include "kernels/ops.h"
#include "kernels/rows.h"
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

  // Input: FP8 codes decoded to float (exact) and their per-128 scales, or the raw input.
  Fp8Activations qa;
  std::vector<float> xq;
  if (aq == ActQuant::Fp8) {
    act_quant_fp8(x, m, k, qa);
    xq.resize(qa.codes.size());
    for (size_t i = 0; i < xq.size(); ++i) xq[i] = t8[qa.codes[i]];
  }
  // Sub-block width over which products are summed before scaling: the weight's scale block
  // along K (128 for FP8, 32 for FP4).
  const int64_t sub = fp4 ? 32 : 128;
  const int64_t n_sub = (k + sub - 1) / sub;
  std::vector<float> wsc(static_cast<size_t>(n_sub));

  for (int64_t r = n0; r < n1; ++r) {
    // Unscaled weight values of row r and the scale of each sub-block.
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
    for (int64_t c = 0; c < n_sub; ++c)  // scale of each sub-block of row r
      wsc[c] = fp4 ? scale_at(*w.scale, r * scale_cols + c)
                   : scale_at(*w.scale, (r / 128) * scale_cols + c);
    for (int64_t i = 0; i < m; ++i) {
      float acc = 0;
      for (int64_t c = 0; c * sub < k; ++c) {
        const int64_t c0 = c * sub, c1 = std::min(k, c0 + sub);
        float part = 0;
        if (aq == ActQuant::Fp8) {
          const float* xr = xq.data() + i * k;
          for (int64_t j = c0; j < c1; ++j) part += xr[j] * wrow[j];
          acc += part * (qa.scales[i * kb128 + c0 / 128] * wsc[c]);
        } else {
          const float* xr = x + i * k;
          const float s = wsc[c];
          for (int64_t j = c0; j < c1; ++j) part += xr[j] * (wrow[j] * s);
          acc += part;
        }
      }
      y[i * ldy + (r - n0)] = acc;
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
      float acc = 0;
      for (int64_t j = 0; j < k; ++j) acc += xr[j] * wrow[j];
      y[i * n + r] = acc;
    }
  }
}

// ---- fast paths: row tiles on SIMD lanes (kernels/rows.h), bit-identical to the above ------

namespace {

struct QuantRows {
  const QuantWeight* w;
  Isa isa;
  bool scaled;  // act-none: weights times their block scale, as the reference multiplies them
  int64_t k, scale_cols;
  float* sc;  // one row's block scales
};

void decode_quant_row(const void* ctx, int64_t r, int64_t c0, int64_t n, float* dst) {
  const auto& q = *static_cast<const QuantRows*>(ctx);
  const bool fp4 = q.w->fp4();
  const int64_t block = fp4 ? 32 : 128;
  const int64_t srow = fp4 ? r : r / 128;
  for (int64_t c = 0; c < n / block; ++c)
    q.sc[c] = q.scaled ? scale_at(*q.w->scale, srow * q.scale_cols + c0 / block + c) : 1.0f;
  if (fp4)
    decode_fp4(q.isa, q.w->weight->data + r * (q.k / 2) + c0 / 2, n, q.sc, dst);
  else
    decode_fp8(q.isa, q.w->weight->data + r * q.k + c0, n, q.sc, dst);
}

void quant_scales(const void* ctx, int64_t r0, int64_t rows, int64_t nsub, int64_t stride,
                  float* dst) {
  const auto& q = *static_cast<const QuantRows*>(ctx);
  for (int64_t l = 0; l < rows; ++l) {
    const int64_t srow = q.w->fp4() ? r0 + l : (r0 + l) / 128;
    for (int64_t c = 0; c < nsub; ++c)
      dst[c * stride + l] = scale_at(*q.w->scale, srow * q.scale_cols + c);
  }
}

struct DenseRows {
  const TensorView* w;
  Isa isa;
  int64_t k;
};

void decode_dense_row(const void* ctx, int64_t r, int64_t c0, int64_t n, float* dst) {
  const auto& d = *static_cast<const DenseRows*>(ctx);
  if (d.w->dtype() == DType::BF16)
    decode_bf16(d.isa, d.w->data + 2 * (r * d.k + c0), n, dst);
  else
    std::memcpy(dst, d.w->data + 4 * (r * d.k + c0), static_cast<size_t>(4 * n));
}

void run_rows(Isa isa, RowJob& job) {
  const bool wide = isa == Isa::Avx512;
  thread_local std::vector<float> scratch;
  scratch.resize(static_cast<size_t>(row_scratch_floats(wide, job.k, job.m)));
  job.scratch = scratch.data();
  if (wide)
    rows_avx512(job);
  else
    rows_avx2(job);
}

}  // namespace

void linear_quant(const QuantWeight& w, const float* x, int64_t m, float* y, ActQuant aq,
                  int64_t n0, int64_t n1, int64_t ldy) {
  const Isa isa = active_isa();
  const int64_t n = w.rows(), k = w.cols();
  if (n1 < 0) n1 = n;
  if (ldy < 0) ldy = n1 - n0;
  if (isa == Isa::Scalar || k % 128 != 0) return linear_quant_ref(w, x, m, y, aq, n0, n1, ldy);
  thread_local std::vector<float> xq, sc;
  thread_local Fp8Activations qa;
  RowJob job;
  job.kind = w.fp4() ? RowJob::Kind::Fp4 : RowJob::Kind::Fp8;
  job.k = k;
  job.n0 = n0;
  job.n1 = n1;
  job.x = x;
  job.m = m;
  job.y = y;
  job.ldy = ldy;
  if (aq == ActQuant::Fp8) {
    act_quant_fp8(x, m, k, qa);
    const auto& t8 = fp8_table();
    xq.resize(qa.codes.size());
    for (size_t i = 0; i < xq.size(); ++i) xq[i] = t8[qa.codes[i]];
    job.x = xq.data();
    job.xs = qa.scales.data();
  }
  sc.resize(static_cast<size_t>(k / 32));
  QuantRows ctx{&w, isa, aq != ActQuant::Fp8, k, w.scale->shape()[1], sc.data()};
  job.decode_row = decode_quant_row;
  job.scales = quant_scales;
  job.ctx = &ctx;
  run_rows(isa, job);
}

void linear_dense(const TensorView& w, const float* x, int64_t m, float* y) {
  const Isa isa = active_isa();
  if (isa == Isa::Scalar || (w.dtype() != DType::BF16 && w.dtype() != DType::F32))
    return linear_dense_ref(w, x, m, y);
  const int64_t n = w.shape()[0], k = w.shape()[1];
  DenseRows ctx{&w, isa, k};
  RowJob job;
  job.kind = w.dtype() == DType::BF16 ? RowJob::Kind::Bf16 : RowJob::Kind::F32;
  job.k = k;
  job.n0 = 0;
  job.n1 = n;
  job.x = x;
  job.m = m;
  job.y = y;
  job.ldy = n;
  job.decode_row = decode_dense_row;
  job.ctx = &ctx;
  if (w.dtype() == DType::BF16) job.bf16 = w.data;
  run_rows(isa, job);
}

}  // namespace dsv4
