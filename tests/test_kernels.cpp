// Every fast kernel against its scalar reference, bit for bit, for every ISA this CPU has: every
// stored FP8 / FP4 code, and whole linear layers in both act-quant modes on random shapes with
// ragged edges, sub-ranges of rows, each tile shape, and any number of compute threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "io/safetensors.h"
#include "kernels/isa.h"
#include "kernels/linear.h"
#include "kernels/parallel.h"
#include "numeric/formats.h"

namespace dsv4 {
namespace {

std::vector<Isa> isas() {
  std::vector<Isa> v = {Isa::Scalar};
  if (cpu_isa() == Isa::Avx2 || cpu_isa() == Isa::Avx512) v.push_back(Isa::Avx2);
  if (cpu_isa() == Isa::Avx512) v.push_back(Isa::Avx512);
  return v;
}

// A tensor in memory we own, for the linear layers.
struct Tensor {
  TensorEntry entry;
  std::vector<uint8_t> bytes;
  TensorView view() const { return {&entry, bytes.data(), nullptr}; }
};

Tensor random_tensor(DType dt, std::vector<int64_t> shape, std::mt19937& rng, size_t offset = 0) {
  Tensor t;
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  const size_t elem = dt == DType::BF16 ? 2 : dt == DType::F32 ? 4 : 1;
  t.entry = {"t", dt, shape, 0, static_cast<uint64_t>(numel) * elem};
  t.bytes.resize(offset + static_cast<size_t>(numel) * elem);
  std::normal_distribution<float> nd(0, 0.5f);
  for (int64_t i = 0; i < numel; ++i) {
    uint8_t* p = t.bytes.data() + offset + static_cast<size_t>(i) * elem;
    if (dt == DType::BF16) {
      const uint16_t h = f32_to_bf16(nd(rng));
      std::memcpy(p, &h, 2);
    } else if (dt == DType::F32) {
      const float f = nd(rng);
      std::memcpy(p, &f, 4);
    } else if (dt == DType::F8_E8M0) {
      *p = static_cast<uint8_t>(120 + rng() % 8);  // scales 2^-7 .. 2^0
    } else {
      uint8_t b = static_cast<uint8_t>(rng());
      if (dt == DType::F8_E4M3 && (b & 0x7F) == 0x7F) b &= 0xFE;  // no NaN codes
      *p = b;
    }
  }
  if (offset) t.bytes.erase(t.bytes.begin(), t.bytes.begin() + static_cast<long>(offset));
  return t;
}

// Every stored code through the kernels' decoders, exactly: a one-hot input picks out one weight
// (times scale 1), in the decode path (one input) and the prefill path (16 inputs).
void expect_every_code(bool fp4) {
  const int64_t k = fp4 ? 512 : 256;  // every byte once
  Tensor w;
  w.entry = {"w",
             fp4 ? DType::I8 : DType::F8_E4M3,
             {1, fp4 ? k / 2 : k},
             0,
             static_cast<uint64_t>(fp4 ? k / 2 : k)};
  for (int b = 0; b < 256; ++b)
    w.bytes.push_back(static_cast<uint8_t>(!fp4 && (b & 0x7F) == 0x7F ? 0 : b));  // no NaN codes
  Tensor s;
  const int64_t ns = fp4 ? k / 32 : k / 128;
  s.entry = {"s", DType::F8_E8M0, {1, ns}, 0, static_cast<uint64_t>(ns)};
  s.bytes.assign(static_cast<size_t>(ns), 127);  // 2^0
  const TensorView wv = w.view(), sv = s.view();
  const QuantWeight q{&wv, &sv};
  for (int64_t m : {1, 16})
    for (Isa isa : isas())
      for (int64_t j0 = 0; j0 < k; j0 += m) {
        std::vector<float> x(static_cast<size_t>(m * k), 0.0f), y(static_cast<size_t>(m));
        for (int64_t i = 0; i < m; ++i) x[static_cast<size_t>(i * k + j0 + i)] = 1.0f;
        linear_quant_isa(isa, q, x.data(), m, y.data(), ActQuant::None);
        for (int64_t i = 0; i < m; ++i) {
          const int64_t j = j0 + i;
          const uint8_t b = w.bytes[static_cast<size_t>(fp4 ? j / 2 : j)];
          const float want =
              fp4 ? fp4_e2m1_to_f32(j % 2 ? fp4_hi(b) : fp4_lo(b)) : fp8_e4m3_to_f32(b);
          ASSERT_EQ(y[static_cast<size_t>(i)], want)
              << isa_name(isa) << " m=" << m << " column " << j << " byte " << int{b};
        }
      }
}

TEST(Kernels, EveryFp8CodeExact) {
  expect_every_code(false);
}

TEST(Kernels, EveryFp4CodeExact) {
  expect_every_code(true);
}

// The fast kernels round exactly like the references: equal bits, not just close values.
void expect_same(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0)
        << what << " at " << i << ": " << got[i] << " vs " << want[i];
}

TEST(Kernels, LinearQuantMatchesReference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 2);
  for (bool fp4 : {false, true})
    for (int64_t n : {1, 37, 200})
      for (int64_t k : {128, 384, 1152})  // 1152: a second, partial chunk of the prefill path
        // Every tile shape of matmul_impl.h: the register path (1-5 inputs), the chunked one (6+:
        // tiles of 6, 4, 2, 1) and two input blocks of 24.
        for (int64_t m : {1, 3, 5, 10, 29})
          for (ActQuant aq : {ActQuant::None, ActQuant::Fp8}) {
            Tensor w = fp4 ? random_tensor(DType::I8, {n, k / 2}, rng)
                           : random_tensor(DType::F8_E4M3, {n, k}, rng);
            Tensor s = fp4 ? random_tensor(DType::F8_E8M0, {n, k / 32}, rng)
                           : random_tensor(DType::F8_E8M0, {(n + 127) / 128, k / 128}, rng);
            const TensorView wv = w.view(), sv = s.view();
            const QuantWeight q{&wv, &sv};
            std::vector<float> x(static_cast<size_t>(m * k));
            for (auto& v : x) v = nd(rng);
            // A sub-range of rows into a wider output, as the grouped wo_a uses it.
            const int64_t n0 = n / 3, n1 = n, ldy = n + 5;
            std::vector<float> got(static_cast<size_t>(m * ldy), 0), want(got);
            linear_quant_ref(q, x.data(), m, want.data(), aq, n0, n1, ldy);
            for (Isa isa : isas()) {
              std::fill(got.begin(), got.end(), 0.0f);
              linear_quant_isa(isa, q, x.data(), m, got.data(), aq, n0, n1, ldy);
              SCOPED_TRACE(testing::Message()
                           << "fp4=" << fp4 << " n=" << n << " k=" << k << " m=" << m
                           << " act-fp8=" << (aq == ActQuant::Fp8) << " isa=" << isa_name(isa));
              expect_same(got, want, "linear_quant");
            }
          }
}

TEST(Kernels, LinearDenseMatchesReference) {
  std::mt19937 rng(4);
  std::normal_distribution<float> nd;
  for (DType dt : {DType::BF16, DType::F32})
    for (int64_t n : {1, 9, 64})
      for (int64_t k : {3, 16, 100, 256, 1040})
        for (int64_t m : {1, 2, 7, 23, 29}) {
          // F32 tensors in real files can sit at odd offsets: test an unaligned one.
          Tensor w = random_tensor(dt, {n, k}, rng, dt == DType::F32 ? 1 : 0);
          std::vector<uint8_t> shifted(w.bytes.size() + 1);
          std::memcpy(shifted.data() + 1, w.bytes.data(), w.bytes.size());
          TensorView v{&w.entry, dt == DType::F32 ? shifted.data() + 1 : w.bytes.data(), nullptr};
          std::vector<float> x(static_cast<size_t>(m * k));
          for (auto& e : x) e = nd(rng);
          std::vector<float> got(static_cast<size_t>(m * n)), want(got);
          linear_dense_ref(v, x.data(), m, want.data());
          for (Isa isa : isas()) {
            std::fill(got.begin(), got.end(), 0.0f);
            linear_dense_isa(isa, v, x.data(), m, got.data());
            SCOPED_TRACE(testing::Message() << dtype_name(dt) << " n=" << n << " k=" << k
                                            << " m=" << m << " isa=" << isa_name(isa));
            expect_same(got, want, "linear_dense");
          }
        }
}

// The rows split over the compute threads: the same bits for any thread count, and the pool runs
// every task exactly once, nested calls included (they run on the calling thread).
TEST(Kernels, ThreadsGiveTheSameBits) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0, 2);
  const int64_t n = 300, k = 1024, m = 5;
  Tensor w = random_tensor(DType::F8_E4M3, {n, k}, rng);
  Tensor s = random_tensor(DType::F8_E8M0, {(n + 127) / 128, k / 128}, rng);
  Tensor d = random_tensor(DType::BF16, {n, k}, rng);
  const TensorView wv = w.view(), sv = s.view(), dv = d.view();
  std::vector<float> x(static_cast<size_t>(m * k));
  for (auto& v : x) v = nd(rng);
  std::vector<float> want_q(static_cast<size_t>(m * n)), want_d(want_q);
  linear_quant({&wv, &sv}, x.data(), m, want_q.data(), ActQuant::Fp8);
  linear_dense(dv, x.data(), m, want_d.data());
  for (int threads : {2, 3, 7}) {
    set_compute_threads(threads);
    EXPECT_EQ(compute_threads(), threads);
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<float> got_q(want_q.size()), got_d(want_d.size());
      linear_quant({&wv, &sv}, x.data(), m, got_q.data(), ActQuant::Fp8);
      linear_dense(dv, x.data(), m, got_d.data());
      expect_same(got_q, want_q, "linear_quant threaded");
      expect_same(got_d, want_d, "linear_dense threaded");
    }
    std::vector<int> ran(static_cast<size_t>(threads), 0), nested(ran);
    auto task = [&](int t, int T) {
      EXPECT_EQ(T, threads);
      ++ran[static_cast<size_t>(t)];
      auto inner = [&](int t2, int T2) {
        EXPECT_EQ(t2, 0);
        EXPECT_EQ(T2, 1);
        ++nested[static_cast<size_t>(t)];
      };
      parallel_run(inner);
    };
    parallel_run(task);
    for (int t = 0; t < threads; ++t) {
      EXPECT_EQ(ran[static_cast<size_t>(t)], 1) << t;
      EXPECT_EQ(nested[static_cast<size_t>(t)], 1) << t;
    }
  }
  set_compute_threads(1);
  EXPECT_EQ(compute_threads(), 1);
}

// Attention's weighted sum of values: the same bits as the scalar loop, ragged lengths included.
TEST(Kernels, AxpyUnfusedMatchesReference) {
  std::mt19937 rng(6);
  std::normal_distribution<float> nd;
  for (int64_t n : {1, 15, 16, 17, 100, 512})
    for (Isa isa : isas()) {
      std::vector<float> x(static_cast<size_t>(n)), y(x.size());
      for (auto& v : x) v = nd(rng);
      for (auto& v : y) v = nd(rng);
      std::vector<float> got = y, want = y;
      const float w = nd(rng);
      axpy_unfused(isa, w, x.data(), got.data(), n);
      axpy_unfused_ref(w, x.data(), want.data(), n);
      SCOPED_TRACE(testing::Message() << "n=" << n << " isa=" << isa_name(isa));
      expect_same(got, want, "axpy_unfused");
    }
}

// Attention's scores: the same bits as the sequential scalar loop, any number of keys and dims.
TEST(Kernels, DotsSequentialMatchReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (int64_t n_keys : {1, 15, 16, 33})
    for (int64_t dim : {7, 16, 100, 512}) {
      std::vector<float> q(static_cast<size_t>(dim)), kv(static_cast<size_t>(n_keys * dim));
      for (auto& v : q) v = nd(rng);
      for (auto& v : kv) v = nd(rng);
      std::vector<const float*> keys;
      for (int64_t e = 0; e < n_keys; ++e) keys.push_back(kv.data() + (n_keys - 1 - e) * dim);
      std::vector<float> want(static_cast<size_t>(n_keys));
      dots_sequential_ref(q.data(), keys.data(), n_keys, dim, want.data());
      for (Isa isa : isas()) {
        std::vector<float> got(want.size());
        dots_sequential(isa, q.data(), keys.data(), n_keys, dim, got.data());
        SCOPED_TRACE(testing::Message()
                     << "keys=" << n_keys << " dim=" << dim << " isa=" << isa_name(isa));
        expect_same(got, want, "dots_sequential");
      }
    }
}

TEST(Kernels, IsaOverrideNeverExceedsTheCpu) {
  EXPECT_LE(static_cast<int>(active_isa()), static_cast<int>(cpu_isa()));
}

}  // namespace
}  // namespace dsv4
