#include <fmt/core.h>

#include "cli/commands.h"
#include "model/inspect.h"
#include "model/weights.h"
#include "util/error.h"

namespace dsv4::cli {

DSV4_COMMAND(inspect, "inspect", "Check a checkpoint completely and describe it", 20) {
  struct Opts {
    std::string model, preset;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* model = app.add_option("--model", o->model, "Checkpoint directory (Hugging Face layout)");
  auto* preset = app.add_option("--preset", o->preset,
                                "Describe a named config instead (pro, flash, ci, ...; no files)");
  model->excludes(preset);
  preset->excludes(model);
  app.add_flag("--json", o->json, "Print the report as JSON");
  return [o] {
    if (o->model.empty() && o->preset.empty()) fail("inspect needs --model DIR or --preset NAME");
    nlohmann::ordered_json report;
    if (!o->model.empty()) {
      // Loading validates everything: every shard header, the index, the full tensor inventory.
      auto m = load_model(o->model, /*show_progress=*/true);
      report = inspect_model(m->config, m->checkpoint.get(), o->model);
    } else {
      report = inspect_model(preset_config(o->preset), nullptr, "");
    }
    if (o->json)
      fmt::print("{}\n", report.dump(2));
    else
      fmt::print("{}", format_inspect(report));
    return 0;
  };
}

}  // namespace dsv4::cli
