// Turns a byte stream cut at arbitrary points into valid UTF-8: an incomplete sequence at the end
// of a chunk is held until the next one; invalid bytes become U+FFFD, one per byte. The output
// depends only on the bytes, never on where the chunks were cut, which the output parser relies on
// for streaming and non-streaming to agree.
#pragma once

#include <string>
#include <string_view>

namespace dsv4::chat {

class Utf8Stream {
 public:
  std::string push(std::string_view bytes);
  // Whatever incomplete sequence is left becomes replacement characters.
  std::string finish();

 private:
  std::string convert(bool at_end);
  std::string pending_;
};

}  // namespace dsv4::chat
