#include "kernels/matmul.h"

namespace dsv4 {

int64_t matmul_scratch_floats(int64_t k) {
  // Weight scales of 8 rows and the 8 scale products of a tile, one per 32 columns at most.
  return 16 * (k / 32 + 1);
}

}  // namespace dsv4
