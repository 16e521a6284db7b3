#include "core/optim/step_control.h"

#include "core/autograd/autograd.h"
#include "core/ops/dispatch.h"
#include "core/ops/view.h"

namespace ff::optim {

StepControl::StepControl(Device device)
    : control(Tensor::zeros({2}, DType::F32, device)), stats(Tensor::zeros({kernels::kStepStats}, DType::F64, device)) {}

void decide_step(const Tensor& loss_sum, const Tensor& norm, double inv_accum, double max_norm, int64_t step,
                  int64_t max_in_a_row, StepControl& state) {
  NoGradGuard no_grad;
  FF_CHECK(loss_sum.numel() == 1 && norm.numel() == 1, "decide_step: scalar loss sum and norm, got {} and {}",
           loss_sum.str(), norm.str());
  check_same_device("step_control", {&loss_sum, &norm, &state.control, &state.stats});
  // One dtype for both: the norm's unless it is bf16 (the statistics are kept in f64 anyway).
  const DType dtype = norm.dtype() == DType::BF16 ? DType::F32 : norm.dtype();
  const Tensor l = contiguous_raw(to_dtype(loss_sum, dtype)), n = contiguous_raw(to_dtype(norm, dtype));
  dispatch<kernels::kStepControlDTypes>("step_control", n, [&]<typename T>(auto exec) {
    step_control<T>(exec, l.data<T>(), n.data<T>(), inv_accum, max_norm, step, max_in_a_row,
                    state.control.data<float>(), state.stats.data<double>());
  });
}

}  // namespace ff::optim
