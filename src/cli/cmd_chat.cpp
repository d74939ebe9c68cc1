#include <fmt/core.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iostream>

#include "chat/request.h"
#include "cli/commands.h"
#include "cli/threads.h"
#include "generate/generator.h"
#include "util/error.h"

namespace dsv4::cli {

namespace {
std::atomic<bool> g_stop_answer{false};
void on_sigint(int) {
  g_stop_answer = true;
}

const char* kHelp =
    "/think none|low|high|max  reasoning effort for the next answers\n"
    "/reset                    forget the conversation\n"
    "/save FILE                write the conversation as an OpenAI request body (JSON)\n"
    "/help                     this text\n"
    "/quit                     leave (or Ctrl-D); Ctrl-C stops the current answer\n";
}  // namespace

// An interactive multi-turn chat. Every turn renders the whole conversation with DeepSeek's
// encoder and generates from a fresh sequence (no prefix cache yet).
DSV4_COMMAND(chat, "chat", "Interactive multi-turn chat in the terminal", 40) {
  struct Opts {
    std::string model, think, encoder = "0731";
    int64_t ctx = 4096;
    SamplingParams s;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--model", o->model, "Model directory (with tokenizer.json)")->required();
  app.add_option("--think", o->think, "Reasoning effort: none, low, high or max");
  app.add_option("--encoder", o->encoder, "Chat encoder generation: preview or 0731")
      ->check(CLI::IsMember({"preview", "0731", "0813"}));
  app.add_option("--temperature", o->s.temperature)->check(CLI::Range(0.0, 2.0));
  app.add_option("--top-p", o->s.top_p)->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-tokens", o->s.max_tokens);
  app.add_option("--ctx", o->ctx)->check(CLI::Range(16, 1 << 20));
  auto threads = add_threads_option(app);
  return [o, threads] {
    set_compute_threads(*threads);
    auto model = load_model(o->model, true);
    auto tok = Tokenizer::load(o->model);
    Transformer tf(*model);
    StatePool pool(model->config, o->ctx, 1);
    Generator gen(tf, *tok, pool);
    chat::ChatDefaults defaults;
    defaults.generation = o->encoder == "preview" ? chat::EncoderGeneration::kPreview
                                                  : chat::EncoderGeneration::k0731;
    std::string think = o->think;
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    ::sigaction(SIGINT, &sa, nullptr);  // no SA_RESTART: Ctrl-C at the prompt ends the read
    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    fmt::print(stderr, "dsv4 chat: /help for commands\n");
    uint64_t turn = 0;
    for (;;) {
      fmt::print("{}", tty ? "\x1b[1m> \x1b[0m" : "> ");
      std::fflush(stdout);
      std::string line;
      if (!std::getline(std::cin, line)) {
        if (g_stop_answer.exchange(false) && !std::cin.eof()) {
          std::cin.clear();
          fmt::print("\n(Ctrl-D or /quit to leave)\n");
          continue;
        }
        fmt::print("\n");
        return 0;
      }
      if (line.empty()) continue;
      if (line[0] == '/') {
        std::istringstream cmd(line);
        std::string word, arg;
        cmd >> word >> arg;
        if (word == "/quit" || word == "/exit") return 0;
        if (word == "/help") {
          fmt::print("{}", kHelp);
        } else if (word == "/reset") {
          messages = nlohmann::ordered_json::array();
          fmt::print("(conversation cleared)\n");
        } else if (word == "/think") {
          if (arg != "none" && arg != "low" && arg != "high" && arg != "max") {
            fmt::print("usage: /think none|low|high|max\n");
          } else {
            think = arg;
            fmt::print("(reasoning effort: {})\n", think);
          }
        } else if (word == "/save") {
          std::ofstream f(arg);
          if (arg.empty() || !f) {
            fmt::print("usage: /save FILE (a writable path)\n");
          } else {
            f << nlohmann::ordered_json{{"messages", messages}}.dump(2) << "\n";
            fmt::print("(saved {} messages to {})\n", messages.size(), arg);
          }
        } else {
          fmt::print("unknown command {} (/help)\n", word);
        }
        continue;
      }
      messages.push_back({{"role", "user"}, {"content", line}});
      nlohmann::ordered_json body = {{"messages", messages}};
      if (!think.empty()) body["reasoning_effort"] = think;
      GenerateRequest req;
      req.sampling = o->s;
      req.sequence_salt = ++turn;
      try {
        chat::ChatRequest cr = chat::normalise_chat_request(body, defaults);
        req.prompt = tok->encode(chat::render_prompt(cr));
        req.start_in_reasoning = cr.encoder.thinking;
      } catch (const Error& e) {
        messages.erase(messages.end() - 1);
        fmt::print("error: {}\n", e.what());
        continue;
      }
      bool in_reasoning = false;
      g_stop_answer = false;
      GenerateResult r;
      try {
        r = gen.generate(
            req,
            [&](const std::vector<chat::Delta>& ds) {
              for (const auto& d : ds) {
                const bool reasoning = d.kind == chat::Delta::Kind::Reasoning;
                if (reasoning != in_reasoning)
                  fmt::print("{}", reasoning ? (tty ? "\x1b[2m" : "[reasoning] ")
                                             : (tty ? "\x1b[0m\n" : "\n"));
                in_reasoning = reasoning;
                if (d.kind == chat::Delta::Kind::ToolCallStart)
                  fmt::print("\n[tool call {}] ", d.name);
                fmt::print("{}", d.text);
              }
              std::fflush(stdout);
            },
            &g_stop_answer);
      } catch (const Error& e) {
        messages.erase(messages.end() - 1);
        fmt::print("\nerror: {}\n", e.what());
        continue;
      }
      if (in_reasoning && tty) fmt::print("\x1b[0m");
      fmt::print("{}\n", r.finish == FinishReason::Cancelled ? "\n(interrupted)" : "");
      nlohmann::ordered_json reply = {{"role", "assistant"}, {"content", r.message.content}};
      if (!r.message.reasoning.empty()) reply["reasoning_content"] = r.message.reasoning;
      messages.push_back(reply);
    }
  };
}

}  // namespace dsv4::cli
