// dsv4: a self-hosted DeepSeek-V4 engine. One executable, one subcommand per job.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <vector>

#include "cli/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"dsv4: a self-hosted DeepSeek-V4 inference engine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dsv4 0.1.0");
  std::vector<std::pair<CLI::App*, dsv4::cli::Run>> cmds;
  auto add = [&](const char* name, const char* help, auto fn) {
    CLI::App* sub = app.add_subcommand(name, help);
    cmds.emplace_back(sub, fn(*sub));
  };
  add("inspect", "Check a checkpoint completely and describe it", dsv4::cli::add_inspect);
  add("make-model", "Write a random DeepSeek-V4 checkpoint in the exact Hugging Face layout",
      dsv4::cli::add_make_model);
  add("logits", "Write the logits of every position of a token sequence to a .npy file",
      dsv4::cli::add_logits);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : cmds)
      if (sub->parsed()) return run();
  } catch (const dsv4::Error& e) {
    fmt::print(stderr, "dsv4: error: {}\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "dsv4: error: out of memory\n");
    return 1;
  }
  return 0;
}
