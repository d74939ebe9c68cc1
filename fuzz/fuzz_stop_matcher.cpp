// libFuzzer target for StopMatcher over arbitrary stop strings and pieces. Invariants: until a
// stop, emitted + held is exactly the input; at a stop, the emitted text is the input before the
// stop string, which follows it there; nothing emitted ever contains a stop string; and the result
// is the same when the whole text arrives as one piece.
//
// Input: byte 0 = number of stop strings (1-4); each is a length byte (1-16) and its bytes; the
// rest is pieces, each a length byte (0-15) and its bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "generate/stop.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t at = 0;
  auto take = [&](size_t n) {
    n = std::min(n, size - at);
    std::string s(reinterpret_cast<const char*>(data + at), n);
    at += n;
    return s;
  };
  if (size == 0) return 0;
  std::vector<std::string> stops;
  for (size_t n = 1 + data[at++] % 4; n > 0 && at < size; --n) {
    std::string s = take(1 + data[at++] % 16);
    if (!s.empty()) stops.push_back(s);
  }
  if (stops.empty()) return 0;
  std::vector<std::string> pieces;
  while (at < size) pieces.push_back(take(data[at++] % 16));

  dsv4::StopMatcher m(stops);
  std::string input, emitted, matched;
  bool stopped = false;
  for (const std::string& p : pieces) {
    dsv4::StopMatcher::Out o = m.push(p);
    emitted += o.emit;
    input += p;
    if (o.stopped) {
      stopped = true;
      matched = o.matched;
      break;
    }
    check(emitted + std::string(m.held()) == input);
  }
  if (stopped) {
    check(input.compare(0, emitted.size(), emitted) == 0);
    check(input.compare(emitted.size(), matched.size(), matched) == 0);
  } else {
    emitted += m.flush();
    check(emitted == input);
  }
  for (const std::string& s : stops) check(emitted.find(s) == std::string::npos);

  dsv4::StopMatcher whole(stops);
  dsv4::StopMatcher::Out o = whole.push(input);
  if (!o.stopped) o.emit += whole.flush();
  check(o.emit == emitted && o.stopped == stopped && o.matched == matched);
  return 0;
}
