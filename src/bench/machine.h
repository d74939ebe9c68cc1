// What the machine can do, measured in the same run as the model (docs/performance.md): the
// memory-read bandwidth (a STREAM-style read of a buffer much larger than the caches) and the
// float32 multiply-add throughput of the kernels the forward pass uses. Speeds are reported as
// fractions of these, never as bare times, because these machines are shared and noisy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace dsv4::bench {

// GB/s (1e9 bytes) reading `bytes` with `threads` threads, the best of `reps` passes of each loop:
// `stream`, a plain STREAM-style vector sum (the figure the fractions are defined against), and
// `prefetched`, the same sum with a software prefetch 2 KB ahead, which reads faster on some
// machines (the Xeons here: 15 vs 18 GB/s on one thread), reported beside it.
struct ReadBandwidth {
  double stream = 0;
  double prefetched = 0;
};
ReadBandwidth read_bandwidth(size_t bytes, int threads, int reps);

// GFLOP/s (2 per multiply-add) of linear_dense on a BF16 weight [n, k] times m rows, the best of
// `reps` runs: the matrix throughput prefill is measured against.
double dense_gflops(int m, int n, int k, int reps);

// The arithmetic peak of `threads` cores in GFLOP/s (2 per multiply-add), from register-only
// loops (bench/peak.cpp): float32 FMA with the active ISA's widest vectors (what the kernels
// compute with), the AVX-512 BF16 dot product (0 when the CPU lacks it), and AMX's bf16 tile
// product where the CPU and kernel allow it.
struct Peak {
  double fp32_fma = 0;
  double bf16_dot = 0;
  double amx_bf16 = 0;  // AMX TDPBF16PS (0 without AMX); not used by the kernels
};
Peak peak_gflops(int threads);

// Reads every .safetensors file of `dir` once through read(), so the model's pages are in the
// page cache before anything is timed: a page faulted in from disk during prefill would measure
// the disk. The pages are not mapped into this process, so they do not count in its RSS. Returns
// the bytes read; throws dsv4::Error naming a file it cannot read.
uint64_t warm_page_cache(const std::string& dir);

}  // namespace dsv4::bench
