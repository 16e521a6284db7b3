#include "kernels/optimizer.h"

#include <omp.h>

namespace ff::kernels::cpu {

void advance_step(Exec, double* step, const float* control) { step[0] += control[1]; }

void adam_advance(Exec exec, double* step, double* correction, const float* control, double beta1, double beta2) {
  advance_step(exec, step, control);
  correction[0] = 1.0 / (1.0 - std::pow(beta1, step[0]));
  correction[1] = 1.0 / std::sqrt(1.0 - std::pow(beta2, step[0]));
}

template <typename T>
void adam(Exec, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n, const AdamHyper<T>& hyper,
          const float* control, const double* correction) {
  if (control[1] == 0.0f) return;
  const T scale = static_cast<T>(control[0]);
  const T c1 = static_cast<T>(correction[0]), c2 = static_cast<T>(correction[1]);
  // Parallel only when the parameter is big enough to pay for the threads.
#pragma omp parallel for simd if (n >= (1 << 15))
  for (int64_t i = 0; i < n; ++i) adam_element(param[i], scale * grad[i], exp_avg[i], exp_avg_sq[i], hyper, c1, c2);
}

template <typename T>
void sgd(Exec, T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdHyper<T>& hyper, const float* control,
         const double* step) {
  if (control[1] == 0.0f) return;
  const T scale = static_cast<T>(control[0]);
  const bool first = step[0] == 1.0;
#pragma omp parallel for if (n >= (1 << 15))
  for (int64_t i = 0; i < n; ++i)
    sgd_element(param[i], scale * grad[i], momentum_buffer ? momentum_buffer + i : nullptr, hyper, first);
}

#define FF_INSTANTIATE(T)                                                                                    \
  template void adam<T>(Exec, T*, const T*, T*, T*, int64_t, const AdamHyper<T>&, const float*, const double*); \
  template void sgd<T>(Exec, T*, const T*, T*, int64_t, const SgdHyper<T>&, const float*, const double*);
FF_INSTANTIATE(float)
FF_INSTANTIATE(double)
#undef FF_INSTANTIATE

}  // namespace ff::kernels::cpu
