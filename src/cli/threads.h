// --threads, shared by the commands that run the model: the compute threads of the kernels
// (kernels/parallel.h). The default is every CPU the process may use.
#pragma once

#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <thread>

#include "kernels/parallel.h"

namespace dsv4::cli {

inline std::shared_ptr<int> add_threads_option(CLI::App& app) {
  auto t =
      std::make_shared<int>(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  app.add_option("--threads", *t, "Compute threads (default: every CPU)")
      ->check(CLI::Range(1, 1024));
  return t;
}

}  // namespace dsv4::cli
