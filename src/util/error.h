// One exception type for every user-facing failure: bad files, bad configs, bad arguments.
// The message is complete (it names the file, the tensor, the key) so the CLI prints it as-is.
#pragma once

#include <fmt/core.h>

#include <stdexcept>
#include <string>

namespace dsv4 {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace dsv4
