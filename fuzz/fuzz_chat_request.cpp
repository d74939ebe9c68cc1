// libFuzzer target for the chat request path: arbitrary bytes → JSON → normalise → render. Bad
// requests must be refused with dsv4::Error (an HTTP 400), never crash or throw anything else.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "chat/request.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto body = nlohmann::ordered_json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return 0;
  // Both generations: the effort table and the prefixes differ between them.
  for (auto g : {dsv4::chat::EncoderGeneration::kPreview, dsv4::chat::EncoderGeneration::k0731}) {
    dsv4::chat::ChatDefaults defaults;
    defaults.generation = g;
    try {
      (void)dsv4::chat::render_prompt(dsv4::chat::normalise_chat_request(body, defaults));
    } catch (const dsv4::Error&) {
    }
  }
  return 0;
}
