#include "kernels/rows.h"

namespace dsv4 {

namespace {
int64_t lanes(bool avx512) {
  return avx512 ? 16 : 8;
}
}  // namespace

int64_t row_tile(bool avx512) {
  return 4 * lanes(avx512);
}

int64_t row_scratch_floats(bool avx512, int64_t k) {
  const int64_t w = lanes(avx512), tile = row_tile(avx512);
  const int64_t kp = (k + w - 1) / w * w;
  return 2 * tile * kp + (k / 32 + 1) * tile;
}

}  // namespace dsv4
