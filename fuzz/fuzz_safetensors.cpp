// libFuzzer target for the safetensors header parser: any byte string must either parse into a
// consistent header or raise dsv4::Error; never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "io/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dsv4::SafetensorsHeader h = dsv4::parse_safetensors(data, size, "fuzz");
    // What the parser accepted must be safe to read.
    uint64_t sum = 0;
    for (const auto& t : h.tensors) {
      if (h.data_start + t.end > size || t.numel() * dsv4::dtype_size(t.dtype) != t.nbytes())
        std::abort();
      if (t.nbytes()) sum += data[h.data_start + t.end - 1];
    }
    (void)sum;
  } catch (const dsv4::Error&) {
  }
  return 0;
}
