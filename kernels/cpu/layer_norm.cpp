#include "kernels/layer_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ff::kernels::cpu {

template <typename T>
void layer_norm_forward(Exec, const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd, int64_t rows,
                        int64_t D, double eps) {
#pragma omp parallel for schedule(static) if (rows * D > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * D;
    T* yr = y + r * D;
    // The row sums in vector lanes (omp simd reductions: a fixed order, not the thread count's).
    double m = 0;
#pragma omp simd reduction(+ : m)
    for (int64_t j = 0; j < D; ++j) m += double(xr[j]);
    m /= double(D);
    double var = 0;
#pragma omp simd reduction(+ : var)
    for (int64_t j = 0; j < D; ++j) {
      const double c = double(xr[j]) - m;
      var += c * c;
    }
    const double rs = 1.0 / std::sqrt(var / double(D) + eps);
#pragma omp simd
    for (int64_t j = 0; j < D; ++j) {
      double v = layer_norm_xhat(double(xr[j]), m, rs);
      if (weight) v *= double(weight[j]);
      if (bias) v += double(bias[j]);
      yr[j] = static_cast<T>(v);
    }
    mean[r] = static_cast<T>(m);
    rstd[r] = static_cast<T>(rs);
  }
}

template <typename T>
void layer_norm_backward(Exec, const T* x, const T* weight, const T* mean, const T* rstd, const T* g, T* dx,
                         T* dweight, T* dbias, int64_t rows, int64_t D, float* workspace) {
  if (dx) {
#pragma omp parallel for schedule(static) if (rows * D > (1 << 15))
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * D;
      const T* gr = g + r * D;
      const double m = double(mean[r]), rs = double(rstd[r]);
      double sum_gw = 0, sum_gwx = 0;
#pragma omp simd reduction(+ : sum_gw, sum_gwx)
      for (int64_t j = 0; j < D; ++j) {
        const double gw = double(gr[j]) * (weight ? double(weight[j]) : 1.0);
        sum_gw += gw;
        sum_gwx += gw * layer_norm_xhat(double(xr[j]), m, rs);
      }
      const double mean_gw = sum_gw / double(D), mean_gwx = sum_gwx / double(D);
#pragma omp simd
      for (int64_t j = 0; j < D; ++j) {
        const double gw = double(gr[j]) * (weight ? double(weight[j]) : 1.0);
        dx[r * D + j] =
            static_cast<T>(layer_norm_dx(gw, layer_norm_xhat(double(xr[j]), m, rs), rs, mean_gw, mean_gwx));
      }
    }
  }
  if (!dweight && !dbias) return;
  // Column sums over rows in a fixed number of row chunks (partial sums in parallel, then
  // added in chunk order), so the result does not depend on the thread count.
  const int64_t chunks = std::min<int64_t>(rows, 64);
  std::vector<double> partial_dw(chunks * D, 0.0), partial_db(chunks * D, 0.0);
#pragma omp parallel for schedule(static) if (rows * D > (1 << 15))
  for (int64_t c = 0; c < chunks; ++c) {
    double* pw = partial_dw.data() + c * D;
    double* pb = partial_db.data() + c * D;
    for (int64_t r = c * rows / chunks; r < (c + 1) * rows / chunks; ++r) {
      const T* xr = x + r * D;
      const T* gr = g + r * D;
      const double m = double(mean[r]), rs = double(rstd[r]);
      for (int64_t j = 0; j < D; ++j) {
        pw[j] += double(gr[j]) * layer_norm_xhat(double(xr[j]), m, rs);
        pb[j] += double(gr[j]);
      }
    }
  }
  std::vector<double> dw(D, 0.0), db(D, 0.0);
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t j = 0; j < D; ++j) {
      dw[j] += partial_dw[c * D + j];
      db[j] += partial_db[c * D + j];
    }
  for (int64_t j = 0; j < D; ++j) {
    if (dweight) dweight[j] = static_cast<T>(dw[j]);
    if (dbias) dbias[j] = static_cast<T>(db[j]);
  }
}

template void layer_norm_forward<float>(Exec, const float*, const float*, const float*, float*, float*, float*,
                                        int64_t, int64_t, double);
template void layer_norm_forward<double>(Exec, const double*, const double*, const double*, double*, double*,
                                         double*, int64_t, int64_t, double);
template void layer_norm_backward<float>(Exec, const float*, const float*, const float*, const float*, const float*,
                                         float*, float*, float*, int64_t, int64_t, float*);
template void layer_norm_backward<double>(Exec, const double*, const double*, const double*, const double*,
                                          const double*, double*, double*, double*, int64_t, int64_t, float*);

}  // namespace ff::kernels::cpu
