#pragma once
// The end of a training step decided on the device (kernels/step_control.h has the rule): the
// clip factor and the apply flag the optimizer kernels read, and the statistics the trainer
// logs, so the host reads nothing between log intervals.

#include <cstdint>

#include "core/tensor/tensor.h"
#include "kernels/step_control.h"

namespace ff::optim {

struct StepControl {
  // control: (2) f32 {gradient scale, apply}; stats: (kernels::kStepStats) f64. Both on `device`.
  Tensor control, stats;
  explicit StepControl(Device device);
  StepControl() = default;
};

// loss_sum: () the sum of the step's micro-batch losses; norm: () the global gradient norm (a
// zero scalar when no parameter has a gradient). Both on the state's device, converted to one
// dtype here. Writes state.control and accumulates into state.stats (see the kernel's rule).
void decide_step(const Tensor& loss_sum, const Tensor& norm, double inv_accum, double max_norm, int64_t step,
                  int64_t max_in_a_row, StepControl& state);

}  // namespace ff::optim
