// The end of a training step decided on the device (core/optim/step_control.h): clip factor,
// apply flag, window statistics, the non-finite limit and the freeze after it; CPU rule with
// known values, and the CUDA kernel against it.

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "core/ops/ops.h"
#include "core/optim/step_control.h"
#include "support/skip.h"

using namespace ff;
using namespace ff::kernels;

namespace {

struct StepInput {
  float loss_sum, norm;
};

struct Trace {
  std::vector<std::vector<float>> controls;
  std::vector<std::vector<double>> stats;
};

// grad_accum 2, max_norm 1, max_in_a_row 2.
Trace run_steps(const std::vector<StepInput>& steps, Device device) {
  optim::StepControl state(device);
  Trace trace;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Tensor loss = to_device(Tensor::scalar(steps[i].loss_sum, DType::F32), device);
    const Tensor norm = to_device(Tensor::scalar(steps[i].norm, DType::F32), device);
    optim::decide_step(loss, norm, 0.5, 1.0, static_cast<int64_t>(i + 1), 2, state);
    trace.controls.push_back(state.control.to_vector<float>());
    trace.stats.push_back(state.stats.to_vector<double>());
  }
  return trace;
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Step 1 unclipped, step 2 clipped, step 3 NaN loss, step 4 fine (resets the run), steps 5 and 6
// non-finite (the limit at 6), step 7 finite but frozen.
const std::vector<StepInput> kSteps = {{3.0f, 0.5f}, {2.0f, 4.0f}, {kNaN, 1.0f}, {1.0f, 0.25f},
                                       {1.0f, kInf}, {kNaN, kNaN}, {1.0f, 0.5f}};

}  // namespace

TEST_CASE("step control: clip factor, apply flag, statistics, the non-finite limit and the freeze after it",
          "[optim][step_control]") {
  const Trace t = run_steps(kSteps, Device::cpu());
  REQUIRE(t.controls.size() == 7);
  CHECK(t.controls[0] == std::vector<float>{1.0f, 1.0f});
  CHECK(t.controls[1][0] == static_cast<float>(1.0 / (4.0 + 1e-6)));  // torch's max_norm / (norm + 1e-6)
  CHECK(t.controls[1][1] == 1.0f);
  CHECK(t.controls[2] == std::vector<float>{1.0f, 0.0f});
  CHECK(t.controls[3] == std::vector<float>{1.0f, 1.0f});
  CHECK(t.controls[4] == std::vector<float>{1.0f, 0.0f});
  CHECK(t.controls[5] == std::vector<float>{1.0f, 0.0f});
  CHECK(t.controls[6] == std::vector<float>{1.0f, 0.0f});  // frozen: finite, yet not applied

  const std::vector<double>& s3 = t.stats[3];  // after step 4
  CHECK(s3[kLossSum] == 1.5 + 1.0 + 0.5);      // loss = loss_sum / 2 of steps 1, 2, 4
  CHECK(s3[kNormSum] == 0.5 + 4.0 + 0.25);
  CHECK(s3[kFiniteSteps] == 3);
  CHECK(s3[kSkippedSteps] == 1);
  CHECK(s3[kFirstSkipped] == 3);
  CHECK(s3[kLimitStep] == 0);
  CHECK(s3[kNonfiniteTotal] == 1);
  CHECK(s3[kNonfiniteInARow] == 0);
  const std::vector<double>& s5 = t.stats[5];  // after step 6
  CHECK(s5[kSkippedSteps] == 3);
  CHECK(s5[kFirstSkipped] == 3);
  CHECK(s5[kNonfiniteInARow] == 2);
  CHECK(s5[kLimitStep] == 6);
  CHECK(t.stats[6] == s5);  // the frozen step changes nothing
}

TEST_CASE("step control on CUDA matches the CPU", "[optim][step_control][cuda]") {
  FF_REQUIRE_CUDA();
  const Trace cpu = run_steps(kSteps, Device::cpu());
  const Trace gpu = run_steps(kSteps, Device::cuda());
  CHECK(gpu.controls == cpu.controls);
  CHECK(gpu.stats == cpu.stats);
}
