// Thinking mode and reasoning effort: the two encoder generations and the one table that maps
// every spelling a client may send (serving.md b.3) to an effective mode.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dsv4::chat {

// DeepSeek shipped two prompt encoders whose effort names mean different things:
//  - kPreview (V4-Flash / V4-Pro of April 2026): efforts none/high/max; only max adds a paragraph.
//  - k0731 (V4-Flash-0731 / V4-Pro-0813): efforts low/high/max; high adds the paragraph that was
//    the preview's max, and max adds a new "Beyond maximum" one.
enum class EncoderGeneration { kPreview, k0731 };

// The effort name handed to the encoder. kNone means "no effort given" (Python's None); kLow
// exists only in the 0731 generation.
enum class EncoderEffort { kNone, kLow, kHigh, kMax };

EncoderGeneration parse_encoder_generation(std::string_view name);  // "preview" | "0731" | "0813"
std::string_view generation_name(EncoderGeneration g);
std::string_view effort_name(EncoderEffort e);  // "none" | "low" | "high" | "max"

// Throws dsv4::Error when the generation's encoder would reject the effort (preview has no low).
void check_effort(EncoderGeneration g, EncoderEffort e);

// The plain-text paragraph placed right after BOS in thinking mode ("" for none).
std::string_view effort_prefix(EncoderGeneration g, EncoderEffort e);

// What a request asks for once every switch is resolved.
struct EffectiveMode {
  bool thinking = true;
  EncoderEffort effort = EncoderEffort::kNone;
};

// Maps a requested effort spelling (none, minimal, low, medium, high, xhigh, max, ultra; any ASCII
// case) to a mode for the given generation. `thinking` is the on/off switch already resolved from
// the request; "none" turns it off, and with thinking off the effort is kNone. Returns nullopt for
// an unknown spelling so the caller can name the field in its error.
std::optional<EffectiveMode> map_effort(std::string_view requested, bool thinking,
                                        EncoderGeneration g);

// The spellings map_effort accepts, for error messages and documentation.
std::string effort_spellings();

}  // namespace dsv4::chat
