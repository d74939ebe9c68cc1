// Subcommands of the dsv4 executable. Each src/cli/cmd_<name>.cpp registers itself with
// DSV4_COMMAND: it adds its options to its CLI11 sub-app and returns the function that runs it
// (the exit code). Errors are thrown as dsv4::Error and printed by main as one line.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace dsv4::cli {

using Run = std::function<int()>;
using Setup = Run (*)(CLI::App& app);

struct Command {
  const char* name;
  const char* help;
  int order;  // position in --help
  Setup setup;
};

inline std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}

struct Register {
  Register(const char* name, const char* help, int order, Setup setup) {
    registry().push_back({name, help, order, setup});
  }
};

}  // namespace dsv4::cli

// In a cmd_*.cpp: DSV4_COMMAND(inspect, "inspect", "help text", 10) { ...options...; return run; }
#define DSV4_COMMAND(ident, name, help, order)                                         \
  static ::dsv4::cli::Run ident##_setup(CLI::App& app);                                \
  static ::dsv4::cli::Register ident##_registration(name, help, order, ident##_setup); \
  static ::dsv4::cli::Run ident##_setup(CLI::App& app)
