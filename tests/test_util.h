// Helpers shared by the unit tests: temporary directories, raw files, checkpoint surgery.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "util/error.h"

namespace dsv4::test {

namespace fs = std::filesystem;

inline fs::path source_dir() {
  return DSV4_SOURCE_DIR;
}
inline fs::path tiny_fixture() {
  return source_dir() / "tests/fixtures/dsv4-tiny/model";
}

// A fresh directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "dsv4-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string str(const std::string& rel = "") const { return (path_ / rel).string(); }

 private:
  fs::path path_;
};

inline void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A raw safetensors image: 8-byte little-endian length, header text, data bytes.
inline std::string raw_safetensors(const std::string& header, const std::string& data,
                                   uint64_t claimed_len = UINT64_MAX) {
  uint64_t n = claimed_len == UINT64_MAX ? header.size() : claimed_len;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

// Runs fn and returns the dsv4::Error message it throws; fails the test if it does not throw.
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a dsv4::Error";
  return {};
}

// Copies every file of a checkpoint directory into `dst`.
inline void copy_dir(const fs::path& src, const fs::path& dst) {
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src))
    fs::copy_file(e.path(), dst / e.path().filename(), fs::copy_options::overwrite_existing);
  for (const auto& e : fs::directory_iterator(dst))
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
}

}  // namespace dsv4::test
