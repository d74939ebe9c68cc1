// The marker layer under the output parser: what is a marker, what might become one, what is text.
#include <gtest/gtest.h>

#include <string>

#include "chat/arguments_json.h"
#include "chat/dsml.h"
#include "chat/utf8_stream.h"

namespace dsv4::chat {
namespace {

using dsml::Marker;
using dsml::Match;
using dsml::match_marker;

Match m(std::string_view s, Marker* out = nullptr) {
  Marker tmp;
  return match_marker(s, out ? out : &tmp);
}

TEST(DsmlMarker, ThinkTagsAndPrefixes) {
  Marker mk;
  EXPECT_EQ(m("<think>abc", &mk), Match::Full);
  EXPECT_EQ(mk.kind, dsml::MarkerKind::ThinkOpen);
  EXPECT_EQ(mk.length, 7u);
  EXPECT_EQ(m("</think>", &mk), Match::Full);
  EXPECT_EQ(mk.kind, dsml::MarkerKind::ThinkClose);
  for (std::string_view p : {"<", "</", "<t", "<thin", "</think"})
    EXPECT_EQ(m(p), Match::Partial) << p;
  for (std::string_view p : {"<a", "<thinx", "< think>", "<b>", "<=", "</x"})
    EXPECT_EQ(m(p), Match::None) << p;
}

TEST(DsmlMarker, DsmlTagsBothBars) {
  Marker mk;
  ASSERT_EQ(m("<｜DSML｜invoke name=\"f\">\n", &mk), Match::Full);
  EXPECT_EQ(mk.kind, dsml::MarkerKind::Dsml);
  EXPECT_EQ(mk.tag, dsml::TagName::Invoke);
  EXPECT_FALSE(mk.closing);
  EXPECT_TRUE(mk.well_formed);
  EXPECT_EQ(mk.body, " name=\"f\"");
  EXPECT_EQ(mk.length, std::string_view("<｜DSML｜invoke name=\"f\">").size());
  ASSERT_EQ(m("</|DSML|tool_calls>", &mk), Match::Full);
  EXPECT_TRUE(mk.is(dsml::TagName::ToolCalls, true));
  ASSERT_EQ(m("<｜DSML|function_calls>", &mk), Match::Full);
  EXPECT_TRUE(mk.is(dsml::TagName::ToolCalls, false));
  std::string full = "</｜DSML｜parameter>";
  for (size_t n = 1; n < full.size(); ++n) EXPECT_EQ(m(full.substr(0, n)), Match::Partial) << n;
  EXPECT_EQ(m("<|DSM"), Match::Partial);
  EXPECT_EQ(m("<|DSX"), Match::None);
  EXPECT_EQ(m("<|a"), Match::None);
}

TEST(DsmlMarker, MalformedDsmlTagIsStillMarkup) {
  Marker mk;
  ASSERT_EQ(m("<｜DSML｜invoke name=\"f\"<｜DSML｜parameter", &mk), Match::Full);
  EXPECT_FALSE(mk.well_formed);
  EXPECT_EQ(mk.length, std::string_view("<｜DSML｜invoke name=\"f\"").size());
  std::string runaway = "<｜DSML｜invoke name=\"" + std::string(2000, 'x');
  ASSERT_EQ(m(runaway, &mk), Match::Full);
  EXPECT_FALSE(mk.well_formed);
  EXPECT_EQ(mk.length, dsml::kMaxTagBytes);
  EXPECT_EQ(m("<｜DSML｜invoke name=\"ff"), Match::Partial);
}

TEST(DsmlMarker, SpecialTokens) {
  Marker mk;
  ASSERT_EQ(m("<｜end▁of▁sentence｜>x", &mk), Match::Full);
  EXPECT_TRUE(mk.is_eos());
  ASSERT_EQ(m("<｜User｜>", &mk), Match::Full);
  EXPECT_FALSE(mk.is_eos());
  EXPECT_EQ(mk.body, "User");
  EXPECT_EQ(m("<｜end▁of"), Match::Partial);
  EXPECT_EQ(m("<｜end｜x"), Match::None);
  EXPECT_EQ(m("<｜｜>"), Match::None);
  EXPECT_EQ(m("<｜" + std::string(100, 'a')), Match::None);
}

TEST(DsmlMarker, Attributes) {
  auto a = dsml::parse_attributes(" name=\"loc\" string=\"true\"");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->at("name"), "loc");
  EXPECT_EQ(a->at("string"), "true");
  EXPECT_TRUE(dsml::parse_attributes(" name='a b'"));
  EXPECT_TRUE(dsml::parse_attributes(""));
  EXPECT_FALSE(dsml::parse_attributes(" name=\"a"));
  EXPECT_FALSE(dsml::parse_attributes(" name=a"));
  EXPECT_FALSE(dsml::parse_attributes(" name=\"a\" name=\"b\""));
  EXPECT_FALSE(dsml::parse_attributes(" \"x\""));
}

TEST(DsmlMarker, LooksLikeMarkup) {
  EXPECT_TRUE(dsml::looks_like_markup("<｜DS"));
  EXPECT_TRUE(dsml::looks_like_markup("</｜"));
  EXPECT_TRUE(dsml::looks_like_markup("<|DSML|inv"));
  EXPECT_FALSE(dsml::looks_like_markup("<thi"));
  EXPECT_FALSE(dsml::looks_like_markup("<|D"));
  EXPECT_FALSE(dsml::looks_like_markup("<"));
}

TEST(DsmlUtf8Stream, HoldsSplitSequencesAndReplacesInvalidBytes) {
  Utf8Stream u;
  EXPECT_EQ(u.push("a\xE2\x82"), "a");
  EXPECT_EQ(u.push("\xAC"), "€");
  EXPECT_EQ(u.push("b\xFF"
                   "c"),
            "b\xEF\xBF\xBD"
            "c");
  EXPECT_EQ(u.push("\xF0\x9F"), "");
  EXPECT_EQ(u.finish(), "\xEF\xBF\xBD\xEF\xBF\xBD");
  Utf8Stream v;
  // Overlong, surrogate, above U+10FFFF: invalid, one replacement per byte.
  EXPECT_EQ(v.push("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(v.push("\xED\xA0\x80").size(), 9u);
  EXPECT_EQ(v.push("\xF4\x90\x80\x80").size(), 12u);
}

TEST(DsmlArguments, EscapingIsByteWise) {
  std::string s = "a\"b\\c\nd\x01<é";
  std::string whole, parts;
  append_json_escaped(whole, s);
  for (char c : s) append_json_escaped(parts, std::string_view(&c, 1));
  EXPECT_EQ(whole, parts);
  EXPECT_EQ(whole, "a\\\"b\\\\c\\nd\\u0001<é");
  EXPECT_EQ(nlohmann::json::parse(json_quote(s)).get<std::string>(), s);
}

TEST(DsmlArguments, CoercionBySchema) {
  auto prop = [](const char* j) { return nlohmann::json::parse(j); };
  nlohmann::json integer = prop(R"({"type":"integer"})"), str = prop(R"({"type":"string"})"),
                 uni = prop(R"({"anyOf":[{"type":"integer"},{"type":"string"}]})"),
                 en = prop(R"({"enum":["a","b"]})");
  EXPECT_EQ(coerce_value("5", true, &integer).json, "5");
  EXPECT_EQ(coerce_value("five", true, &integer).json, "\"five\"");
  EXPECT_EQ(coerce_value("\"5\"", false, &integer).json, "5");
  EXPECT_EQ(coerce_value(" 42 ", false, &str).json, "\"42\"");
  EXPECT_EQ(coerce_value("\"x\"", false, &str).json, "\"x\"");
  EXPECT_EQ(coerce_value("7", true, &uni).json, "\"7\"");
  EXPECT_EQ(coerce_value("a", false, &en).json, "\"a\"");
  EXPECT_EQ(coerce_value("{\"b\": 1, \"a\": [true, null]}", false, nullptr).json,
            "{\"b\":1,\"a\":[true,null]}");
  CoercedValue bad = coerce_value("yes", false, nullptr);
  EXPECT_FALSE(bad.valid);
  EXPECT_EQ(bad.json, "\"yes\"");
  EXPECT_TRUE(coerce_value("yes", false, &uni).valid);
  EXPECT_FALSE(parse_json(std::string(300, '[') + std::string(300, ']')));
}

TEST(DsmlArguments, ToolSchemas) {
  ToolSchemas t(nlohmann::json::parse(
      R"([{"type":"function","function":{"name":"f","parameters":{"properties":{"x":{"type":"integer"}}}}},
          {"name":"g"}, 3, {"function":{"name":7}}])"));
  EXPECT_TRUE(t.known("f"));
  EXPECT_TRUE(t.known("g"));
  EXPECT_FALSE(t.known("h"));
  ASSERT_NE(t.property("f", "x"), nullptr);
  EXPECT_EQ(t.property("f", "y"), nullptr);
  EXPECT_EQ(t.property("g", "x"), nullptr);
  EXPECT_EQ(value_kind(t.property("f", "x")), ValueKind::NonString);
  EXPECT_EQ(value_kind(nullptr), ValueKind::Unknown);
}

}  // namespace
}  // namespace dsv4::chat
