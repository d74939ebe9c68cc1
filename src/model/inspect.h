// What `dsv4 inspect` reports about a model: config summary, layer kinds, tensors per dtype,
// memory, per-token decode bytes, per-sequence state bytes, and warnings.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "model/config.h"

namespace dsv4 {

class Checkpoint;

// `ck` may be null (a preset without files); `dir` is scanned for tokenizer files when non-empty.
nlohmann::ordered_json inspect_model(const ModelConfig& c, const Checkpoint* ck,
                                     const std::string& dir);
// Human-readable rendering of inspect_model's report.
std::string format_inspect(const nlohmann::ordered_json& report);

}  // namespace dsv4
