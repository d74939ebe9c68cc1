// Subcommands of the dsv4 executable. Each registers its options on the CLI11 app and returns the
// function that runs it (exit code). Errors are thrown as dsv4::Error and printed by main.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace dsv4::cli {

using Run = std::function<int()>;

Run add_inspect(CLI::App& app);
Run add_make_model(CLI::App& app);
Run add_logits(CLI::App& app);

}  // namespace dsv4::cli
