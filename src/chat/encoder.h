// DeepSeek-V4's prompt encoder: messages → the exact prompt text of DeepSeek's encoding_dsv4.py
// (see docs/chat-encoding.md for every rule).
#pragma once

#include <string>
#include <vector>

#include "chat/effort.h"
#include "chat/message.h"

namespace dsv4::chat {

struct EncoderOptions {
  bool thinking = true;  // thinking mode (<think>) vs chat mode (</think>)
  EncoderEffort effort = EncoderEffort::kNone;
  bool drop_thinking = true;  // drop reasoning of turns before the last user turn (no tools only)
  EncoderGeneration generation = EncoderGeneration::k0731;
  bool add_bos = true;
};

// Throws dsv4::Error for inputs the reference encoder refuses (an empty developer message, an
// unknown task, an effort the generation lacks).
std::string encode_messages(const std::vector<Message>& messages, const EncoderOptions& opts);

}  // namespace dsv4::chat
