#include "bench/machine.h"

#include <immintrin.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "io/safetensors.h"
#include "kernels/isa.h"
#include "kernels/linear.h"
#include "numeric/formats.h"
#include "util/error.h"

namespace dsv4::bench {

namespace {

using Clock = std::chrono::steady_clock;

// Sums 64-bit words with four independent accumulators so the loop is limited by loads, not by
// the add latency; the result is used so the compiler keeps the reads.
uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  for (; i < n; ++i) a += p[i];
  return a + b + c + d;
}

// The same with 256-bit loads, four independent accumulators (two cache lines per iteration):
// what the kernels' vector loads can stream, where the CPU has AVX2.
// The same sum with 256-bit loads, four accumulators, and (Prefetch) a software prefetch 2 KB
// ahead: on the Xeons here one thread reads about 15 GB/s without it and 18 with it, and the
// kernels prefetch, so the bandwidth they are measured against must too.
template <bool Prefetch>
__attribute__((target("avx2"))) uint64_t sum_words_avx2(const uint64_t* p, size_t n) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    if (Prefetch) {
      _mm_prefetch(reinterpret_cast<const char*>(p + i + 256), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(p + i + 264), _MM_HINT_T0);
    }
    a = _mm256_add_epi64(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    b = _mm256_add_epi64(b, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    c = _mm256_add_epi64(c, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
    d = _mm256_add_epi64(d, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + sum_words(p + i, n - i);
}

uint64_t sum_any(const uint64_t* p, size_t n, bool prefetch) {
  if (active_isa() == Isa::Scalar) return sum_words(p, n);
  return prefetch ? sum_words_avx2<true>(p, n) : sum_words_avx2<false>(p, n);
}

}  // namespace

ReadBandwidth read_bandwidth(size_t bytes, int threads, int reps) {
  threads = std::max(1, threads);
  const size_t words = bytes / sizeof(uint64_t);
  std::vector<uint64_t> buf(words);
  for (size_t i = 0; i < words; ++i) buf[i] = i * 0x9E3779B97F4A7C15ull;  // touch every page
  ReadBandwidth best;
  volatile uint64_t sink = 0;
  for (int r = 0; r < 2 * reps; ++r) {
    const bool prefetch = r % 2 == 1;
    std::vector<std::thread> ts;
    std::vector<uint64_t> part(static_cast<size_t>(threads));
    const auto t0 = Clock::now();
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        const size_t b = words * static_cast<size_t>(t) / static_cast<size_t>(threads);
        const size_t e = words * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
        part[static_cast<size_t>(t)] = sum_any(buf.data() + b, e - b, prefetch);
      });
    for (auto& t : ts) t.join();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    for (uint64_t p : part) sink = sink + p;
    double& b = prefetch ? best.prefetched : best.stream;
    b = std::max(b, static_cast<double>(words * sizeof(uint64_t)) / s / 1e9);
  }
  return best;
}

double dense_gflops(int m, int n, int k, int reps) {
  // A BF16 tensor view over memory we own (the kernel reads only data, dtype and shape).
  std::vector<uint8_t> w(static_cast<size_t>(n) * static_cast<size_t>(k) * 2);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (size_t i = 0; i < w.size() / 2; ++i) {
    const uint16_t h = f32_to_bf16(u(rng));
    std::memcpy(&w[2 * i], &h, 2);
  }
  std::vector<float> x(static_cast<size_t>(m) * static_cast<size_t>(k));
  std::vector<float> y(static_cast<size_t>(m) * static_cast<size_t>(n));
  for (float& v : x) v = u(rng);
  TensorEntry entry{"bench.weight", DType::BF16, {n, k}, 0, w.size()};
  TensorView view{&entry, w.data(), nullptr};
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    linear_dense(view, x.data(), m, y.data());
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, 2.0 * m * n * static_cast<double>(k) / s / 1e9);
  }
  return best;
}

uint64_t warm_page_cache(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<char> buf(size_t{4} << 20);
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".safetensors") continue;
    const std::string path = e.path().string();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
      const ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        ::close(fd);
        fail("{}: read failed: {}", path, std::strerror(err));
      }
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
    }
    ::close(fd);
  }
  if (ec) fail("{}: cannot list the directory: {}", dir, ec.message());
  return total;
}

}  // namespace dsv4::bench
