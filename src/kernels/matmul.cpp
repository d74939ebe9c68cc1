#include "kernels/matmul.h"

namespace dsv4 {

int64_t matmul_scratch_floats(int64_t k) {
  // The block factors of 8 rows (one per 32 columns at most), a decoded chunk of 4 rows x 1024
  // columns and the accumulators of 4 rows x 24 inputs x 16 lanes, each aligned to 64 bytes.
  return 8 * (k / 32 + 1) + 4 * 1024 + 4 * 24 * 16 + 3 * 16;
}

}  // namespace dsv4
