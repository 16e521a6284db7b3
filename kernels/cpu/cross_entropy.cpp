#include "kernels/cross_entropy.h"

#include <type_traits>

#include "kernels/cpu/row_exp.h"
#include "kernels/softmax.h"

namespace ff::kernels::cpu {
namespace {

// Checked before the parallel loops (an exception must not leave an OpenMP region).
template <typename I>
void check_targets(const I* target, int64_t N, int64_t C, int64_t ignore_index) {
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = static_cast<int64_t>(target[i]);
    FF_CHECK(t == ignore_index || (t >= 0 && t < C), "class id {} at row {} is out of range for {} classes", t, i,
             C);
  }
}

constexpr int64_t kParallelWork = 1 << 15;

}  // namespace

template <typename T, typename I>
void cross_entropy_forward(Exec, const T* x, const I* target, T* loss, T* lse, T* valid, int64_t N, int64_t C,
                           int64_t ignore_index, double eps) {
  check_targets(target, N, C, ignore_index);
#pragma omp parallel for schedule(static) if (N * C > kParallelWork)
  for (int64_t i = 0; i < N; ++i) {
    const T* xr = x + i * C;
    double l = 0, sum_x = 0;
    bool done = false;
    if constexpr (std::is_same_v<T, float>) {  // vectorised, for rows with finite statistics
      const row_exp::LogSumExp r = row_exp::log_sum_exp(xr, C, /*with_sum_x=*/eps != 0);
      if (r.finite) {
        l = r.value();
        sum_x = r.sum_x;
        done = true;
      }
    }
    if (!done) {
      auto stats = OnlineSoftmax<double>::empty();
      for (int64_t j = 0; j < C; ++j) {
        stats.add(double(xr[j]));
        sum_x += double(xr[j]);
      }
      l = stats.log_sum_exp();
    }
    lse[i] = static_cast<T>(l);
    const int64_t t = static_cast<int64_t>(target[i]);
    if (t == ignore_index) {
      loss[i] = T(0);
      valid[i] = T(0);
    } else {
      loss[i] = static_cast<T>(hard_cross_entropy(l, double(xr[t]), sum_x, eps, C));
      valid[i] = T(1);
    }
  }
}

template <typename T>
void soft_cross_entropy_forward(Exec, const T* x, const T* target, T* loss, T* lse, int64_t N, int64_t C, double eps) {
#pragma omp parallel for schedule(static) if (N * C > kParallelWork)
  for (int64_t i = 0; i < N; ++i) {
    const T* xr = x + i * C;
    const T* qr = target + i * C;
    auto stats = OnlineSoftmax<double>::empty();
    double mass = 0, dot = 0;
    for (int64_t j = 0; j < C; ++j) {
      stats.add(double(xr[j]));
      const double q = smoothed_target(double(qr[j]), eps, C);
      mass += q;
      dot += q * double(xr[j]);
    }
    const double l = stats.log_sum_exp();
    lse[i] = static_cast<T>(l);
    loss[i] = static_cast<T>(l * mass - dot);
  }
}

template <typename T, typename I>
void cross_entropy_backward(Exec, const T* x, const I* target, const T* lse, const T* grad, int64_t grad_stride, T* dx,
                            int64_t N, int64_t C, int64_t ignore_index, double eps) {
  check_targets(target, N, C, ignore_index);
#pragma omp parallel for schedule(static) if (N * C > kParallelWork)
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = static_cast<int64_t>(target[i]);
    T* dr = dx + i * C;
    if (t == ignore_index) {
      for (int64_t j = 0; j < C; ++j) dr[j] = T(0);
      continue;
    }
    const T* xr = x + i * C;
    const double s = double(grad[i * grad_stride]), l = double(lse[i]);
    if constexpr (std::is_same_v<T, float>) {
      if (std::isfinite(l)) {  // s exp(x - lse) - s eps / C, then the target's (1 - eps) term
        row_exp::scaled_exp(xr, dr, C, float(l), float(s), float(-s * smoothed_target(0.0, eps, C)));
        dr[t] = static_cast<T>(cross_entropy_grad(double(xr[t]), l, smoothed_target(1.0, eps, C), 1.0, s));
        continue;
      }
    }
    for (int64_t j = 0; j < C; ++j) {
      const double q = smoothed_target(j == t ? 1.0 : 0.0, eps, C);
      dr[j] = static_cast<T>(cross_entropy_grad(double(xr[j]), l, q, 1.0, s));
    }
  }
}

template <typename T>
void soft_cross_entropy_backward(Exec, const T* x, const T* target, const T* lse, const T* grad, int64_t grad_stride,
                                 T* dx, int64_t N, int64_t C, double eps) {
#pragma omp parallel for schedule(static) if (N * C > kParallelWork)
  for (int64_t i = 0; i < N; ++i) {
    const T* xr = x + i * C;
    const T* qr = target + i * C;
    T* dr = dx + i * C;
    double mass = 0;
    for (int64_t j = 0; j < C; ++j) mass += smoothed_target(double(qr[j]), eps, C);
    const double s = double(grad[i * grad_stride]), l = double(lse[i]);
    for (int64_t j = 0; j < C; ++j)
      dr[j] = static_cast<T>(cross_entropy_grad(double(xr[j]), l, smoothed_target(double(qr[j]), eps, C), mass, s));
  }
}

template <typename T, typename I>
void nll_forward(Exec, const T* lp, const I* target, T* loss, T* valid, int64_t N, int64_t C, int64_t ignore_index) {
  check_targets(target, N, C, ignore_index);
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = static_cast<int64_t>(target[i]);
    const bool ignored = t == ignore_index;
    loss[i] = ignored ? T(0) : -lp[i * C + t];
    valid[i] = ignored ? T(0) : T(1);
  }
}

template <typename T, typename I>
void nll_backward(Exec, const I* target, const T* grad, int64_t grad_stride, T* dlp, int64_t N, int64_t C,
                  int64_t ignore_index) {
  check_targets(target, N, C, ignore_index);
#pragma omp parallel for schedule(static) if (N * C > kParallelWork)
  for (int64_t i = 0; i < N; ++i) {
    const int64_t t = static_cast<int64_t>(target[i]);
    T* dr = dlp + i * C;
    for (int64_t j = 0; j < C; ++j) dr[j] = T(0);
    if (t != ignore_index) dr[t] = -grad[i * grad_stride];
  }
}

#define FF_INSTANTIATE_HARD(T, I)                                                                                  \
  template void cross_entropy_forward<T, I>(Exec, const T*, const I*, T*, T*, T*, int64_t, int64_t, int64_t,         \
                                            double);                                                               \
  template void cross_entropy_backward<T, I>(Exec, const T*, const I*, const T*, const T*, int64_t, T*, int64_t,    \
                                             int64_t, int64_t, double);                                            \
  template void nll_forward<T, I>(Exec, const T*, const I*, T*, T*, int64_t, int64_t, int64_t);                    \
  template void nll_backward<T, I>(Exec, const I*, const T*, int64_t, T*, int64_t, int64_t, int64_t);
FF_INSTANTIATE_HARD(float, int32_t)
FF_INSTANTIATE_HARD(float, int64_t)
FF_INSTANTIATE_HARD(double, int32_t)
FF_INSTANTIATE_HARD(double, int64_t)
#undef FF_INSTANTIATE_HARD

#define FF_INSTANTIATE_SOFT(T)                                                                                     \
  template void soft_cross_entropy_forward<T>(Exec, const T*, const T*, T*, T*, int64_t, int64_t, double);         \
  template void soft_cross_entropy_backward<T>(Exec, const T*, const T*, const T*, const T*, int64_t, T*, int64_t, \
                                               int64_t, double);
FF_INSTANTIATE_SOFT(float)
FF_INSTANTIATE_SOFT(double)
#undef FF_INSTANTIATE_SOFT

}  // namespace ff::kernels::cpu
