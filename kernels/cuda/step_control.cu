#include "kernels/cuda/cuda_check.h"
#include "kernels/step_control.h"

namespace ff::kernels::cuda {
namespace {

template <typename T>
__global__ void step_control_kernel(const T* loss_sum, const T* norm, double inv_accum, double max_norm, int64_t step,
                                    int64_t max_in_a_row, float* control, double* stats) {
  step_control_rule(*loss_sum, *norm, inv_accum, max_norm, step, max_in_a_row, control, stats);
}

}  // namespace

template <typename T>
void step_control(Exec exec, const T* loss_sum, const T* norm, double inv_accum, double max_norm, int64_t step,
                  int64_t max_in_a_row, float* control, double* stats) {
  step_control_kernel<<<1, 1, 0, exec.stream>>>(loss_sum, norm, inv_accum, max_norm, step, max_in_a_row, control,
                                                stats);
  FF_CUDA_CHECK_LAUNCH();
}

template void step_control<float>(Exec, const float*, const float*, double, double, int64_t, int64_t, float*,
                                  double*);

}  // namespace ff::kernels::cuda
