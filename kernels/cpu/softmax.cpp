#include "kernels/softmax.h"

namespace ff::kernels::cpu {

template <typename T>
void softmax_forward(Exec, const T* x, T* y, int64_t rows, int64_t D, bool log) {
#pragma omp parallel for schedule(static) if (rows * D > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * D;
    T* yr = y + r * D;
    auto stats = OnlineSoftmax<double>::empty();
    for (int64_t j = 0; j < D; ++j) stats.add(double(xr[j]));
    if (log) {
      const double lse = stats.log_sum_exp();
      for (int64_t j = 0; j < D; ++j) yr[j] = static_cast<T>(double(xr[j]) - lse);
    } else {
      const double inv = 1.0 / stats.sum;
      for (int64_t j = 0; j < D; ++j) yr[j] = static_cast<T>(std::exp(double(xr[j]) - stats.max) * inv);
    }
  }
}

template <typename T>
void softmax_backward(Exec, const T* y, const T* g, T* dx, int64_t rows, int64_t D, bool log) {
#pragma omp parallel for schedule(static) if (rows * D > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const T* yr = y + r * D;
    const T* gr = g + r * D;
    T* dr = dx + r * D;
    double red = 0;
    if (log) {
      for (int64_t j = 0; j < D; ++j) red += double(gr[j]);
      for (int64_t j = 0; j < D; ++j) dr[j] = log_softmax_grad(yr[j], gr[j], red);
    } else {
      for (int64_t j = 0; j < D; ++j) red += double(gr[j]) * double(yr[j]);
      for (int64_t j = 0; j < D; ++j) dr[j] = softmax_grad(yr[j], gr[j], red);
    }
  }
}

template void softmax_forward<float>(Exec, const float*, float*, int64_t, int64_t, bool);
template void softmax_forward<double>(Exec, const double*, double*, int64_t, int64_t, bool);
template void softmax_backward<float>(Exec, const float*, const float*, float*, int64_t, int64_t, bool);
template void softmax_backward<double>(Exec, const double*, const double*, double*, int64_t, int64_t, bool);

}  // namespace ff::kernels::cpu
