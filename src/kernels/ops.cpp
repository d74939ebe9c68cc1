#include "kernels/ops.h"

#include "kernels/isa.h"
#include "kernels/linear.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "numeric/formats.h"

namespace dsv4 {

namespace {

// Rounds each block of `block` values onto a grid times one power-of-two scale per block: the
// scale exponent comes from the block's amax, `to_grid` rounds x / scale (already clamped).
template <typename ScaleExp, typename ToGrid>
void block_quant_sim(float* x, int64_t n, int block, float qmax, ScaleExp scale_exp,
                     ToGrid to_grid) {
  for (int64_t b0 = 0; b0 < n; b0 += block) {
    const int64_t b1 = std::min<int64_t>(n, b0 + block);
    float amax = 0;
    for (int64_t i = b0; i < b1; ++i) amax = std::max(amax, std::fabs(x[i]));
    const int e = scale_exp(amax);
    const float s = exp2_int(e), inv = exp2_int(-e);
    for (int64_t i = b0; i < b1; ++i) x[i] = to_grid(std::clamp(x[i] * inv, -qmax, qmax)) * s;
  }
}

}  // namespace

void act_quant_sim(float* x, int64_t n, int block) {
  block_quant_sim(x, n, block, kFp8Max, fp8_scale_exponent,
                  [](float q) { return fp8_e4m3_to_f32(f32_to_fp8_e4m3(q)); });
}

void fp4_act_quant_sim(float* x, int64_t n, int block) {
  block_quant_sim(x, n, block, kFp4Max, fp4_scale_exponent,
                  [](float q) { return fp4_e2m1_to_f32(f32_to_fp4_e2m1(q)); });
}

void act_quant_fp8(const float* x, int64_t rows, int64_t k, Fp8Activations& out) {
  const int64_t kb = (k + 127) / 128;
  out.codes.resize(static_cast<size_t>(rows * k));
  out.scales.resize(static_cast<size_t>(rows * kb));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < kb; ++b) {
      const int64_t c0 = b * 128, c1 = std::min<int64_t>(k, c0 + 128);
      const float* xr = x + r * k;
      float amax = 0;
      for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(xr[c]));
      const int e = fp8_scale_exponent(amax);
      const float inv = exp2_int(-e);
      out.scales[r * kb + b] = exp2_int(e);
      for (int64_t c = c0; c < c1; ++c)
        out.codes[r * k + c] = f32_to_fp8_e4m3(std::clamp(xr[c] * inv, -kFp8Max, kFp8Max));
    }
}

namespace {

uint32_t bits_of(float f) {
  return std::bit_cast<uint32_t>(f);
}
float float_of(uint32_t b) {
  return std::bit_cast<float>(b);
}

// |v| <= 448 rounded to the nearest e4m3 value, ties to even: 3 mantissa bits at or above 2^-6
// (an integer add that carries into the exponent), multiples of 2^-9 below it (the subnormals:
// adding and removing 2^14, whose float32 spacing is 2^-9).
float round_e4m3_magnitude(float a) {
  const uint32_t b = bits_of(a);
  const float normal = float_of((b + 0x7FFFFu + ((b >> 20) & 1u)) & ~0xFFFFFu);
  const float sub = (a + 16384.0f) - 16384.0f;
  return a >= 0x1p-6f ? normal : sub;
}

}  // namespace

void act_quant_fp8_values(const float* x, int64_t rows, int64_t k, float* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c0 = 0; c0 < k; c0 += 128) {
      const float* xb = x + r * k + c0;
      float* ob = out + r * k + c0;
      // The largest magnitude by its bits (ordered as the floats are; NaN ignored, as
      // act_quant_fp8's std::max ignores it), which vectorises where a float max would not.
      uint32_t amax = 0;
      for (int c = 0; c < 128; ++c) {
        const uint32_t m = bits_of(xb[c]) & 0x7FFFFFFFu;
        amax = std::max(amax, m > 0x7F800000u ? 0u : m);
      }
      const int e = fp8_scale_exponent(float_of(amax));
      const float inv = exp2_int(-e), scale = exp2_int(e);
      for (int c = 0; c < 128; ++c) {
        const float v = xb[c] * inv;
        const float q = round_e4m3_magnitude(std::min(std::fabs(v), kFp8Max));
        ob[c] = std::copysign(q, v) * scale;
      }
    }
}

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  float ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float r = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (w ? w[i] : 1.0f) * (x[i] * r);
}

float softplus(float x) {
  return x > 20.0f ? x : std::log1p(std::exp(x));
}
float sigmoid(float x) {
  return 1.0f / (1.0f + std::exp(-x));
}
float silu(float x) {
  return x * sigmoid(x);
}
float swiglu(float gate, float up, float limit, float weight) {
  const float h = silu(std::min(gate, limit)) * std::clamp(up, -limit, limit);
  return weight * h;
}

RopeFreqs rope_freqs(int dims, double base, bool yarn, double factor, int64_t original_len,
                     double beta_fast, double beta_slow) {
  RopeFreqs f;
  const int half = dims / 2;
  f.freq.resize(half);
  // As the reference: float32 arange / dim, base ** that in float32, reciprocal in float32.
  for (int i = 0; i < half; ++i) {
    const float expo = static_cast<float>(2 * i) / static_cast<float>(dims);
    f.freq[i] = 1.0f / std::pow(static_cast<float>(base), expo);
  }
  if (yarn) {
    auto corr = [&](double rot) {
      return dims * std::log(static_cast<double>(original_len) / (rot * 2 * M_PI)) /
             (2 * std::log(base));
    };
    const double low = std::max(std::floor(corr(beta_fast)), 0.0);
    double high = std::min(std::ceil(corr(beta_slow)), static_cast<double>(dims - 1));
    if (low == high) high += 0.001;
    for (int i = 0; i < half; ++i) {
      const float ramp = std::clamp(
          (static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low), 0.0f,
          1.0f);
      const float smooth = 1.0f - ramp;
      f.freq[i] = f.freq[i] / static_cast<float>(factor) * (1.0f - smooth) + f.freq[i] * smooth;
    }
  }
  return f;
}

void apply_rope(float* v, int dims, int64_t pos, const RopeFreqs& f, bool inverse) {
  const float p = static_cast<float>(pos);
  for (int i = 0; i < dims / 2; ++i) {
    const float theta = p * f.freq[i];  // one float32 rounding, as the reference's outer product
    const float c = static_cast<float>(std::cos(static_cast<double>(theta)));
    float s = static_cast<float>(std::sin(static_cast<double>(theta)));
    if (inverse) s = -s;
    const float a = v[2 * i], b = v[2 * i + 1];
    v[2 * i] = a * c - b * s;
    v[2 * i + 1] = a * s + b * c;
  }
}

void hadamard(float* x, int n) {
  for (int h = 1; h < n; h *= 2)
    for (int i = 0; i < n; i += 2 * h)
      for (int j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
  const float scale = 1.0f / std::sqrt(static_cast<float>(n));
  for (int i = 0; i < n; ++i) x[i] *= scale;
}

void attend_with_sink(const float* q, const float* const* keys, int64_t n_keys, int64_t dim,
                      float scale, float sink, float* out) {
  thread_local std::vector<float> logits;
  logits.resize(static_cast<size_t>(n_keys));
  // q . k sequentially over the dimensions, as the reference adds them (the order is part of the
  // numerics: the conformance cases move when it changes).
  const Isa isa = active_isa();
  dots_sequential(isa, q, keys, n_keys, dim, logits.data());
  for (auto& l : logits) l = l * scale;
  float m = -std::numeric_limits<float>::infinity();
  for (float l : logits) m = std::max(m, l);
  float sum = 0;
  for (auto& l : logits) sum += (l = std::exp(l - m));
  const float denom = sum + std::exp(sink - m);
  std::fill(out, out + dim, 0.0f);
  for (int64_t k = 0; k < n_keys; ++k) axpy_unfused(isa, logits[k] / denom, keys[k], out, dim);
}

void hc_split_sinkhorn(const float* mixes, const float* scale, const float* base, int hc, int iters,
                       float eps, float* pre, float* post, float* comb) {
  for (int j = 0; j < hc; ++j) {
    pre[j] = sigmoid(mixes[j] * scale[0] + base[j]) + eps;
    post[j] = 2.0f * sigmoid(mixes[hc + j] * scale[1] + base[hc + j]);
  }
  float* c = comb;
  for (int i = 0; i < hc * hc; ++i) c[i] = mixes[2 * hc + i] * scale[2] + base[2 * hc + i];
  auto col_normalise = [&] {
    for (int k = 0; k < hc; ++k) {
      float s = 0;
      for (int j = 0; j < hc; ++j) s += c[j * hc + k];
      for (int j = 0; j < hc; ++j) c[j * hc + k] /= (s + eps);
    }
  };
  // Row softmax (+eps), then a column normalisation; then iters-1 rounds of row, column.
  for (int j = 0; j < hc; ++j) {
    float m = c[j * hc];
    for (int k = 1; k < hc; ++k) m = std::max(m, c[j * hc + k]);
    float s = 0;
    for (int k = 0; k < hc; ++k) s += (c[j * hc + k] = std::exp(c[j * hc + k] - m));
    for (int k = 0; k < hc; ++k) c[j * hc + k] = c[j * hc + k] / s + eps;
  }
  col_normalise();
  for (int it = 0; it < iters - 1; ++it) {
    for (int j = 0; j < hc; ++j) {
      float s = 0;
      for (int k = 0; k < hc; ++k) s += c[j * hc + k];
      for (int k = 0; k < hc; ++k) c[j * hc + k] /= (s + eps);
    }
    col_normalise();
  }
}

}  // namespace dsv4
