// Argument parsing shared by several subcommands.
#pragma once

#include <climits>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "util/error.h"

namespace dsv4::cli {

// "1,2, 3" -> {1, 2, 3}; anything that is not a non-negative int32 fails naming `flag`.
inline std::vector<int32_t> parse_id_list(const std::string& s, const char* flag) {
  std::vector<int32_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (...) {
      used = 0;
    }
    if (used == 0 || item.find_first_not_of(" \t", used) != std::string::npos || v < 0 ||
        v > INT32_MAX)
      fail("{}: '{}' is not a token id", flag, item);
    out.push_back(static_cast<int32_t>(v));
  }
  if (out.empty()) fail("{}: no token ids given", flag);
  return out;
}

}  // namespace dsv4::cli
