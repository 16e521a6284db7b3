#pragma once
// Scalar math of the linear-attention kernels (kernels/linear_attention.h), written once for
// the CPU loops and the CUDA kernels.

#include <cmath>
#include <cstdint>

#include "kernels/attention_math.h"
#include "kernels/common.h"

namespace ff::kernels::linear_attention_math {

// Rows of b, c that row i of a sees.
FF_HD int prefix_limit(bool causal, int i, int offset, int Nb) {
  if (!causal) return Nb;
  const int L = i + offset + 1;
  return L < 0 ? 0 : (L > Nb ? Nb : L);
}

// The normaliser of an estimated kernel sum. The exact sum is >= eps > 0, but its random-feature
// estimate can be negative or near zero (the paper's Remark 2): the magnitude is kept at least
// `floor` and the sign is kept, so num / den stays a ratio of two estimates with the same errors
// (for one visible key it is exactly v whatever the sign) and |out| <= sum_j |a_ij| |v_j| / floor.
// den = 0 counts as positive.
template <typename T>
FF_HD T safe_denominator(T den, T floor) {
  if (den >= T(0)) return den > floor ? den : floor;
  return den < -floor ? den : -floor;
}
// d safe / d den: 1 where the estimate is used as it is, 0 where the floor replaced it.
template <typename T>
FF_HD T safe_denominator_slope(T den, T floor) {
  return (den > floor || den < -floor) ? T(1) : T(0);
}

// sin and cos of one feature argument: the fast polynomial for float on the host (the library
// beyond its range), the device's sincosf on CUDA, the library for double.
FF_HD void feature_sincos(float x, float& s, float& c) {
#if defined(__CUDA_ARCH__)
  sincosf(x, &s, &c);
#else
  if (std::fabs(x) <= attention_math::kPolySinCosLimit) {
    attention_math::poly_sincos(x, s, c);
  } else {
    s = std::sin(x);
    c = std::cos(x);
  }
#endif
}
FF_HD void feature_sincos(double x, double& s, double& c) {
  s = ::sin(x);
  c = ::cos(x);
}

}  // namespace ff::kernels::linear_attention_math
