// Helpers shared by the chat encoding tests: the special markers and one-call rendering.
#pragma once

#include <string>

#include "chat/request.h"

namespace dsv4::test {

inline const std::string kBos = "<｜begin▁of▁sentence｜>";
inline const std::string kEos = "<｜end▁of▁sentence｜>";
inline const std::string kUser = "<｜User｜>";
inline const std::string kAsst = "<｜Assistant｜>";

inline chat::ChatDefaults preview_defaults() {
  chat::ChatDefaults d;
  d.generation = chat::EncoderGeneration::kPreview;
  return d;
}

// Normalises a request body given as JSON text and renders it.
inline std::string render(const std::string& body, const chat::ChatDefaults& d = {}) {
  return chat::render_prompt(chat::normalise_chat_request(nlohmann::ordered_json::parse(body), d));
}

}  // namespace dsv4::test
