// dsv4: a self-hosted DeepSeek-V4 engine. One executable, one subcommand per job; the subcommands
// live in src/cli/cmd_*.cpp and register themselves (commands.h).
#include <fmt/core.h>
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <vector>

#include "cli/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  // The forward pass allocates its activations per call (MBs at prefill). By default glibc serves
  // those from fresh mmaps and gives them back on free, so every call paid page faults and the
  // kernel's page clearing again: 10 % of a 512-token prefill. Served from the heap and kept
  // (up to 1 GiB free), they stay mapped.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  CLI::App app{"dsv4: a self-hosted DeepSeek-V4 inference engine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dsv4 0.1.0");
  auto cmds = dsv4::cli::registry();
  std::sort(cmds.begin(), cmds.end(),
            [](const auto& a, const auto& b) { return a.order < b.order; });
  std::vector<std::pair<CLI::App*, dsv4::cli::Run>> subs;
  for (const auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    subs.emplace_back(sub, c.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : subs)
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
