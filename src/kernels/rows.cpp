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

int64_t row_scratch_floats(bool avx512, int64_t k, int64_t m) {
  const int64_t tile = row_tile(avx512), chunk = 512;
  return 2 * tile * chunk + (k / 32 + 1) * tile + m * tile;
}

}  // namespace dsv4
