#include "chat/effort.h"

#include <array>
#include <cctype>

#include "util/error.h"

namespace dsv4::chat {

namespace {

constexpr std::string_view kAbsoluteMaximum =
    "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
    "You MUST be very thorough in your thinking and comprehensively decompose the problem to "
    "resolve the root cause, rigorously stress-testing your logic against all potential paths, "
    "edge cases, and adversarial scenarios.\n"
    "Explicitly write out your entire deliberation process, documenting every intermediate step, "
    "considered alternative, and rejected hypothesis to ensure absolutely no assumption is left "
    "unchecked.\n\n";

constexpr std::string_view kBeyondMaximum =
    "Reasoning Effort: Beyond maximum \u2014 exhaustive, relentless, and uncompromising.\n"
    "You MUST reason with the utmost depth and rigor, leaving absolutely nothing to chance: "
    "exhaustively decompose the problem into its most fundamental components, trace every causal "
    "chain to its root, and resolve the underlying cause rather than any surface symptom.\n"
    "Do not stop reasoning until you have independently verified the solution from multiple "
    "angles and are certain that no assumption remains unchecked and no error remains "
    "undiscovered.\n\n";

using E = EncoderEffort;

// THE mapping table. One row per spelling a client may send; the columns are the encoder effort
// for each generation. Semantics follow DeepSeek's own API (current documentation): minimal/low →
// low, medium/high/xhigh → high, max/ultra → max, none → thinking off. The preview encoder has no
// low tier: its lowest thinking tier is "high" (no paragraph), so low requests land there.
struct EffortRow {
  std::string_view spelling;
  bool disables_thinking;
  EncoderEffort preview;
  EncoderEffort v0731;
};
constexpr std::array<EffortRow, 8> kEffortTable{{
    {"none", true, E::kNone, E::kNone},
    {"minimal", false, E::kHigh, E::kLow},
    {"low", false, E::kHigh, E::kLow},
    {"medium", false, E::kHigh, E::kHigh},
    {"high", false, E::kHigh, E::kHigh},
    {"xhigh", false, E::kHigh, E::kHigh},
    {"max", false, E::kMax, E::kMax},
    {"ultra", false, E::kMax, E::kMax},
}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != static_cast<unsigned char>(b[i]))
      return false;
  return true;
}

}  // namespace

EncoderGeneration parse_encoder_generation(std::string_view name) {
  if (name == "preview") return EncoderGeneration::kPreview;
  if (name == "0731" || name == "0813") return EncoderGeneration::k0731;
  fail("unknown encoder generation '{}' (expected preview, 0731 or 0813)", name);
}

std::string_view generation_name(EncoderGeneration g) {
  return g == EncoderGeneration::kPreview ? "preview" : "0731";
}

std::string_view effort_name(EncoderEffort e) {
  switch (e) {
    case E::kNone:
      return "none";
    case E::kLow:
      return "low";
    case E::kHigh:
      return "high";
    case E::kMax:
      return "max";
  }
  return "none";
}

void check_effort(EncoderGeneration g, EncoderEffort e) {
  if (g == EncoderGeneration::kPreview && e == E::kLow)
    fail("reasoning effort 'low' does not exist in the preview encoder (none, high, max)");
}

std::string_view effort_prefix(EncoderGeneration g, EncoderEffort e) {
  if (g == EncoderGeneration::kPreview) return e == E::kMax ? kAbsoluteMaximum : "";
  if (e == E::kHigh) return kAbsoluteMaximum;
  if (e == E::kMax) return kBeyondMaximum;
  return "";
}

std::optional<EffectiveMode> map_effort(std::string_view requested, bool thinking,
                                        EncoderGeneration g) {
  for (const EffortRow& row : kEffortTable) {
    if (!iequals(requested, row.spelling)) continue;
    EffectiveMode m;
    m.thinking = thinking && !row.disables_thinking;
    if (m.thinking) m.effort = g == EncoderGeneration::kPreview ? row.preview : row.v0731;
    return m;
  }
  return std::nullopt;
}

std::string effort_spellings() {
  std::string s;
  for (const EffortRow& row : kEffortTable) {
    if (!s.empty()) s += ", ";
    s += row.spelling;
  }
  return s;
}

}  // namespace dsv4::chat
