#include "apps/tasks/attention_config.h"

#include <fmt/format.h>

namespace ff::apps {

models::AttentionConfig parse_attention_config(const config::Section& a, const models::AttentionConfig& defaults,
                                               const std::vector<std::string>& kinds) {
  using namespace config;
  models::AttentionConfig c = defaults;
  c.kind = a.choice("kind", defaults.kind, kinds);
  c.p = a.get<int>("p", defaults.p, between(2, 64));
  if (c.p % 2 != 0) a.fail("p", fmt::format("must be an even power, got {}", c.p));
  c.eps = a.get<double>("eps", defaults.eps, non_negative());
  c.R_init = a.get<double>("R_init", defaults.R_init, positive());
  c.R_per_dim = a.get<bool>("R_per_dim", defaults.R_per_dim);
  c.features = a.get<int>("features", models::default_features(c.kind), at_least(1));
  c.redraw_interval = a.get<int64_t>("redraw_interval", defaults.redraw_interval, at_least(0));
  c.den_floor = a.get<double>("den_floor", defaults.den_floor, positive());
  c.position_features = a.get<int>("position_features", defaults.position_features, at_least(1));
  c.components = a.get<int>("components", defaults.components, at_least(1));
  return c;
}

}  // namespace ff::apps
