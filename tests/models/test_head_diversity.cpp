// HeadDiversity: the paper's Table 3 metric on attention maps whose distances are known.
#include <catch2/catch.hpp>
#include <cmath>

#include "models/attention/head_diversity.h"

using namespace ff;
using models::HeadDiversity;

namespace {

// One layer's maps (B, H, T=2, Nk=2) from per-segment, per-head rows.
Tensor maps_of(const std::vector<std::vector<std::vector<double>>>& segments) {
  std::vector<double> values;
  for (const auto& heads : segments)
    for (const auto& map : heads) values.insert(values.end(), map.begin(), map.end());
  const int64_t B = static_cast<int64_t>(segments.size()), H = static_cast<int64_t>(segments[0].size());
  return Tensor::from_vector(values, {B, H, 2, 2});
}

}  // namespace

TEST_CASE("head diversity: the mean L2 distance between heads, per layer, then over layers", "[models][lm]") {
  // Layer 0, segment 0: the Frobenius distances are |[1,-1,0,0]| = sqrt(2) (heads 0, 1),
  // |[0,0,-.5,.5]| = sqrt(0.5) (0, 2) and |[-1,1,-.5,.5]| = sqrt(2.5) (1, 2). Segment 1: equal heads, 0.
  const std::vector<double> a{1, 0, .5, .5}, b{0, 1, .5, .5}, c{1, 0, 1, 0};
  const Tensor layer0_seg0 = maps_of({{a, b, c}}), layer0_seg1 = maps_of({{a, a, a}});
  // Layer 1, both segments: |[1,-1,1,-1]| = 2 twice and 0 once, mean 4/3 (squared: 8/3).
  const std::vector<double> d{1, 0, 1, 0}, e{0, 1, 0, 1};
  const Tensor layer1 = maps_of({{d, e, e}});

  HeadDiversity metric;
  metric.add({layer0_seg0, layer1});  // segments one call at a time ...
  metric.add({layer0_seg1, layer1});
  const double layer0 = (std::sqrt(2.0) + std::sqrt(0.5) + std::sqrt(2.5)) / 3 / 2, layer1_mean = 4.0 / 3;
  CHECK(metric.segments() == 2);
  REQUIRE(metric.per_layer().size() == 2);
  CHECK(metric.per_layer()[0] == Approx(layer0).epsilon(1e-12));
  CHECK(metric.per_layer()[1] == Approx(layer1_mean).epsilon(1e-12));
  CHECK(metric.mean() == Approx((layer0 + layer1_mean) / 2).epsilon(1e-12));
  CHECK(metric.std() == Approx((layer1_mean - layer0) / 2).epsilon(1e-12));

  HeadDiversity batched;  // ... or as one (B = 2) batch: the same averages
  batched.add({maps_of({{a, b, c}, {a, a, a}}), maps_of({{d, e, e}, {d, e, e}})});
  CHECK(batched.segments() == 2);
  CHECK(batched.per_layer()[0] == Approx(layer0).epsilon(1e-12));
  CHECK(batched.per_layer()[1] == Approx(layer1_mean).epsilon(1e-12));
}
