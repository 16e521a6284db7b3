#include "kernels/step_control.h"

namespace ff::kernels::cpu {

template <typename T>
void step_control(Exec, const T* loss_sum, const T* norm, double inv_accum, double max_norm, int64_t step,
                  int64_t max_in_a_row, float* control, double* stats) {
  step_control_rule(*loss_sum, *norm, inv_accum, max_norm, step, max_in_a_row, control, stats);
}

template void step_control<float>(Exec, const float*, const float*, double, double, int64_t, int64_t, float*,
                                  double*);
template void step_control<double>(Exec, const double*, const double*, double, double, int64_t, int64_t, float*,
                                   double*);

}  // namespace ff::kernels::cpu
