#include "kernels/adam.h"

#include <omp.h>

namespace ff::kernels::cpu {

template <typename T>
void adam(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n, const AdamHyper<T>& hyper) {
  // Parallel only when the parameter is big enough to pay for the threads.
#pragma omp parallel for simd if (n >= (1 << 15))
  for (int64_t i = 0; i < n; ++i) adam_element(param[i], grad[i], exp_avg[i], exp_avg_sq[i], hyper);
}

template void adam<float>(float*, const float*, float*, float*, int64_t, const AdamHyper<float>&);
template void adam<double>(double*, const double*, double*, double*, int64_t, const AdamHyper<double>&);

}  // namespace ff::kernels::cpu
