// Turns generated ids into text as they arrive. A character's bytes may be spread over several
// byte-level tokens, so the bytes of an unfinished character are held back until it completes;
// bytes that can never form a character become U+FFFD. Every string returned is valid UTF-8.
#pragma once

#include <cstdint>
#include <string>

namespace dsv4 {

class Tokenizer;

class StreamDecoder {
 public:
  // `tok` must outlive the decoder.
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false)
      : tok_(tok), skip_special_(skip_special) {}

  // The text that is complete once `id` is added (possibly empty).
  std::string push(int32_t id);
  // The end of the stream: a held-back partial character becomes U+FFFD.
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  std::string pending_;  // bytes of an unfinished character (at most 3)
};

}  // namespace dsv4
