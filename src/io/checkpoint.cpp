#include "io/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "util/error.h"
#include "util/progress.h"

namespace dsv4 {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail("{}: cannot open", p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& dir, bool show_progress) {
  std::unique_ptr<Checkpoint> ck(new Checkpoint());
  ck->dir_ = dir;
  fs::path root(dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) fail("{}: not a directory", dir);

  const fs::path index_path = root / "model.safetensors.index.json";
  // shard file name -> tensor names the index assigns to it
  std::vector<std::pair<std::string, std::vector<std::string>>> plan;
  bool have_index = fs::exists(index_path, ec);
  if (have_index) {
    json idx;
    try {
      idx = json::parse(read_text(index_path));
    } catch (const json::exception& e) {
      fail("{}: not valid JSON: {}", index_path.string(), e.what());
    }
    if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
      fail("{}: missing the weight_map object", index_path.string());
    std::map<std::string, std::vector<std::string>> by_shard;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        fail("{}: weight_map entry '{}' is not a file name", index_path.string(), it.key());
      std::string shard = it.value().get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
        fail("{}: weight_map entry '{}' names '{}', which is not a file in this directory",
             index_path.string(), it.key(), shard);
      by_shard[shard].push_back(it.key());
    }
    if (by_shard.empty()) fail("{}: weight_map is empty", index_path.string());
    for (auto& [k, v] : by_shard) plan.emplace_back(k, std::move(v));
  } else if (fs::exists(root / "model.safetensors", ec)) {
    plan.emplace_back("model.safetensors", std::vector<std::string>{});
  } else {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(root, ec))
      if (e.path().extension() == ".safetensors") found.push_back(e.path().filename().string());
    if (found.empty()) fail("{}: no model.safetensors and no model.safetensors.index.json", dir);
    if (found.size() > 1)
      fail(
          "{}: {} .safetensors files but no model.safetensors.index.json to say which tensor is "
          "where",
          dir, found.size());
    plan.emplace_back(found[0], std::vector<std::string>{});
  }

  Progress progress("checking shards", plan.size(), show_progress);
  for (auto& [shard, names] : plan) {
    const std::string path = (root / shard).string();
    if (!fs::exists(path, ec)) {
      fail(
          "{}: shard {} is listed in model.safetensors.index.json (e.g. for '{}') but does not "
          "exist",
          dir, shard, names.empty() ? std::string("?") : names.front());
    }
    auto file = SafetensorsFile::open(path);
    if (have_index) {
      for (const auto& n : names)
        if (!file->find(n))
          fail("{}: tensor '{}' is listed in model.safetensors.index.json but is not in the shard",
               path, n);
      if (file->tensors().size() != names.size()) {
        std::set<std::string_view> listed(names.begin(), names.end());
        for (const auto& t : file->tensors())
          if (!listed.count(t.name))
            fail(
                "{}: tensor '{}' is in the shard but model.safetensors.index.json does not list "
                "it here",
                path, t.name);
      }
    }
    ck->shards_.push_back(std::move(file));
    progress.step();
  }
  progress.done();

  for (const auto& f : ck->shards_)
    for (const auto& t : f->tensors()) ck->tensors_.push_back(f->view(t));
  std::sort(ck->tensors_.begin(), ck->tensors_.end(),
            [](const TensorView& a, const TensorView& b) { return a.name() < b.name(); });
  for (size_t i = 0; i < ck->tensors_.size(); ++i) {
    auto [it, inserted] = ck->by_name_.emplace(ck->tensors_[i].name(), i);
    if (!inserted)
      fail("{}: tensor '{}' appears in both {} and {}", dir, ck->tensors_[i].name(),
           *ck->tensors_[it->second].file, *ck->tensors_[i].file);
  }
  return ck;
}

const TensorView* Checkpoint::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors_) n += t.nbytes();
  return n;
}

void Checkpoint::prefetch() const {
  for (const auto& f : shards_) f->mapped().advise(MappedFile::Advice::WillNeed);
}

void Checkpoint::populate() const {
  for (const auto& f : shards_) f->mapped().advise(MappedFile::Advice::PopulateRead);
}

}  // namespace dsv4
