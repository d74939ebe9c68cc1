#include "io/npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "util/error.h"

namespace dsv4 {

NpyArray parse_npy(const std::string& b, const std::string& what) {
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) fail("{}: not a .npy file", what);
  const int major = static_cast<uint8_t>(b[6]);
  size_t hlen = 0, off = 0;
  if (major == 1) {
    hlen = static_cast<uint8_t>(b[8]) | (static_cast<size_t>(static_cast<uint8_t>(b[9])) << 8);
    off = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) fail("{}: truncated .npy header", what);
    for (int i = 3; i >= 0; --i) hlen = (hlen << 8) | static_cast<uint8_t>(b[8 + i]);
    off = 12;
  } else {
    fail("{}: .npy version {} is not supported", what, major);
  }
  if (hlen > b.size() - off) fail("{}: truncated .npy header", what);
  const std::string h = b.substr(off, hlen);
  // The header is a Python dict literal; the three keys are all we need.
  if (h.find("'descr': '<f4'") == std::string::npos)
    fail("{}: only little-endian float32 ('<f4') arrays are supported", what);
  if (h.find("'fortran_order': False") == std::string::npos)
    fail("{}: Fortran-order arrays are not supported", what);
  const size_t sp = h.find("'shape': (");
  if (sp == std::string::npos) fail("{}: .npy header has no shape", what);
  const size_t end = h.find(')', sp);
  if (end == std::string::npos) fail("{}: bad .npy shape", what);
  NpyArray a;
  std::stringstream ss(h.substr(sp + 10, end - sp - 10));
  std::string item;
  uint64_t n = 1;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    int64_t d = 0;
    try {
      d = std::stoll(item);
    } catch (...) {
      fail("{}: bad .npy shape entry '{}'", what, item);
    }
    if (d < 0 || (d > 0 && n > (uint64_t{1} << 40) / static_cast<uint64_t>(d)))
      fail("{}: bad .npy shape", what);
    a.shape.push_back(d);
    n *= static_cast<uint64_t>(d);
  }
  const size_t data_off = off + hlen;
  if (b.size() - data_off != n * 4)
    fail("{}: .npy holds {} data bytes, shape needs {}", what, b.size() - data_off, n * 4);
  a.data.resize(n);
  if (n) std::memcpy(a.data.data(), b.data() + data_off, n * 4);
  return a;
}

NpyArray read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open", path);
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  return parse_npy(bytes, path);
}

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  std::string dims;
  uint64_t n = 1;
  for (int64_t d : shape) {
    dims += std::to_string(d) + ", ";
    n *= static_cast<uint64_t>(d);
  }
  if (shape.size() > 1) dims.resize(dims.size() - 1);  // "(2, 3)" but "(2,)"
  if (shape.size() > 1) dims.pop_back();
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + h.size() + 1) % 64) h.push_back(' ');
  h.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(h.size() & 0xFF));
  out.push_back(static_cast<char>(h.size() >> 8));
  out += h;
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail("{}: cannot create", tmp);
  bool ok =
      std::fwrite(out.data(), 1, out.size(), f) == out.size() && std::fwrite(data, 4, n, f) == n;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) fail("{}: write failed", path);
}

}  // namespace dsv4
