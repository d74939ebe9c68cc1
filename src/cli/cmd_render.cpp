#include <fmt/core.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "chat/request.h"
#include "cli/commands.h"
#include "util/error.h"

namespace dsv4::cli {

DSV4_COMMAND(render, "render", "Print the prompt text a chat request encodes to", 40) {
  struct Opts {
    std::string request;
    std::string encoder = "0731";
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--request", o->request,
                 "OpenAI chat-completions request body (JSON file, or - for stdin)")
      ->required();
  app.add_option("--encoder", o->encoder,
                 "Encoder generation: preview (V4 of April 2026) or 0731 (V4-Flash-0731, "
                 "V4-Pro-0813)")
      ->capture_default_str();
  return [o] {
    chat::ChatDefaults defaults;
    defaults.generation = chat::parse_encoder_generation(o->encoder);
    std::string text;
    if (o->request == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::ifstream f(o->request, std::ios::binary);
      if (!f) fail("{}: cannot open", o->request);
      text.assign(std::istreambuf_iterator<char>(f), {});
    }
    nlohmann::ordered_json body;
    try {
      body = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::ordered_json::parse_error& e) {
      fail("{}: not valid JSON ({})", o->request, e.what());
    }
    // Exactly the prompt: no trailing newline, so the output can be tokenised or diffed as is.
    fmt::print("{}", chat::render_prompt(chat::normalise_chat_request(body, defaults)));
    return 0;
  };
}

}  // namespace dsv4::cli
