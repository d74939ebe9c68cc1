#include "tokenizer/stream_decoder.h"

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace dsv4 {

std::string StreamDecoder::push(int32_t id) {
  if (skip_special_ && tok_.is_special(id)) return {};
  pending_ += tok_.token_bytes(id);
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    const utf8::Seq q = utf8::classify(pending_, i);
    if (q.kind == utf8::SeqKind::kTruncated) break;  // wait for the rest of the character
    if (q.kind == utf8::SeqKind::kValid)
      out.append(pending_, i, q.len);
    else
      out += utf8::kReplacement;
    i += q.len;
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = pending_.empty() ? std::string() : utf8::replace_invalid(pending_);
  pending_.clear();
  return out;
}

}  // namespace dsv4
