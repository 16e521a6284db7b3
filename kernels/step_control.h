#pragma once
// The end of a training step, decided on the device so the host reads nothing inside a step.
// Given the sum of the step's micro-batch losses and the global gradient norm:
//
//   loss    = loss_sum * inv_accum
//   finite  = loss and norm are finite
//   control = {finite && norm > max_norm ? max_norm / (norm + 1e-6) : 1,  finite ? 1 : 0}
//
// Once max_in_a_row non-finite steps came in a row (kLimitStep is set), every later step is
// frozen (control {1, 0}, statistics untouched) until the trainer reads the statistics and
// stops the run: the weights stay those of the last good step.
//
// control is what the optimizer kernels read (kernels/optimizer.h: the clip factor of
// torch.nn.utils.clip_grad_norm_, and whether to apply the update). stats, kStepStats f64
// values, accumulate what the trainer logs every log_interval steps (one host read there):
// the window's sums and counts, and the non-finite counters that persist across windows.

#include <cmath>
#include <cstdint>

#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

inline constexpr KernelDTypes kStepControlDTypes{.cpu = {DType::F32, DType::F64}, .cuda = {DType::F32}};

enum StepStat : int {
  // The log window (reset by the trainer after each log line).
  kLossSum = 0,      // sum of the finite steps' losses
  kNormSum,          // sum of the finite steps' gradient norms
  kFiniteSteps,      // steps whose update was applied
  kSkippedSteps,     // non-finite steps (update skipped)
  kFirstSkipped,     // the first of those (step number), 0 when none
  kLimitStep,        // the step at which in_a_row reached max_in_a_row, 0 when it did not
  // Kept across windows (and in checkpoints).
  kNonfiniteTotal,
  kNonfiniteInARow,
  kStepStats
};

namespace cpu {
// loss_sum, norm: () on the device. step: this step's number (1 for the first).
template <typename T>
void step_control(Exec, const T* loss_sum, const T* norm, double inv_accum, double max_norm, int64_t step,
                  int64_t max_in_a_row, float* control, double* stats);
}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {
template <typename T>
void step_control(Exec, const T* loss_sum, const T* norm, double inv_accum, double max_norm, int64_t step,
                  int64_t max_in_a_row, float* control, double* stats);
}  // namespace cuda
#endif

// The rule itself, for both backends.
template <typename T>
FF_HD void step_control_rule(T loss_sum, T norm, double inv_accum, double max_norm, int64_t step,
                             int64_t max_in_a_row, float* control, double* stats) {
  using std::isfinite;
  if (stats[kLimitStep] != 0) {
    control[0] = 1.0f;
    control[1] = 0.0f;
    return;
  }
  const double loss = static_cast<double>(loss_sum) * inv_accum, n = static_cast<double>(norm);
  const bool finite = isfinite(loss) && isfinite(n);
  control[0] = finite && n > max_norm ? static_cast<float>(max_norm / (n + 1e-6)) : 1.0f;
  control[1] = finite ? 1.0f : 0.0f;
  if (finite) {
    stats[kLossSum] += loss;
    stats[kNormSum] += n;
    stats[kFiniteSteps] += 1;
    stats[kNonfiniteInARow] = 0;
    return;
  }
  stats[kSkippedSteps] += 1;
  if (stats[kFirstSkipped] == 0) stats[kFirstSkipped] = static_cast<double>(step);
  stats[kNonfiniteTotal] += 1;
  stats[kNonfiniteInARow] += 1;
  if (stats[kLimitStep] == 0 && stats[kNonfiniteInARow] >= static_cast<double>(max_in_a_row))
    stats[kLimitStep] = static_cast<double>(step);
}

}  // namespace ff::kernels
