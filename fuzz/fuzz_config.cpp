// libFuzzer target for config.json parsing and validation: refuse cleanly, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/config.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    dsv4::ModelConfig c = dsv4::parse_config_text(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    for (int64_t l = 0; l < c.n_layers_total(); ++l) (void)c.layer_kind(l);
  } catch (const dsv4::Error&) {
  }
  return 0;
}
