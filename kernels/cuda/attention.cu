// CUDA fused attention: checks the parameters and dispatches on the head dim to the
// instantiations in attention_d*.cu (kernels in attention_kernels.cuh).

#include <cmath>
#include <type_traits>

#include "kernels/attention.h"
#include "kernels/common.h"

namespace ff::kernels::cuda {
namespace detail {
// Defined in attention_kernels.cuh, instantiated for kD in {16, 32, 48, 64, 128, 256}.
template <int kD>
void launch_attention_forward(const AttentionParams<float>& p, float log_eps, cudaStream_t stream);
template <int kD>
void launch_attention_backward(const AttentionBackwardParams<float>& bp, cudaStream_t stream);
}  // namespace detail

namespace {
constexpr int kMaxHeadDim = 256;

// Calls f with the smallest compiled head dim >= D (D < that runs zero-padded).
template <class F>
void dispatch_head_dim(int D, F&& f) {
  FF_CHECK(D >= 1 && D <= kMaxHeadDim, "attention (cuda): head dim D={} is not in [1, {}]", D,
           kMaxHeadDim);
  if (D <= 16) return f(std::integral_constant<int, 16>{});
  if (D <= 32) return f(std::integral_constant<int, 32>{});
  if (D <= 48) return f(std::integral_constant<int, 48>{});
  if (D <= 64) return f(std::integral_constant<int, 64>{});
  if (D <= 128) return f(std::integral_constant<int, 128>{});
  return f(std::integral_constant<int, 256>{});
}
}  // namespace

template <typename T>
void attention_forward(Exec exec, const AttentionParams<T>& p) {
  cudaStream_t stream = exec.stream;
  check_attention_params(p);
  if (p.B == 0 || p.H == 0 || p.Nq == 0) return;
  const float log_eps = p.score == AttentionScore::Fourier && p.eps > 0.0f
                            ? float(std::log(double(p.eps)))
                            : -INFINITY;
  dispatch_head_dim(p.D, [&](auto kD) { detail::launch_attention_forward<decltype(kD)::value>(p, log_eps, stream); });
}

template <typename T>
void attention_backward(Exec exec, const AttentionBackwardParams<T>& bp) {
  cudaStream_t stream = exec.stream;
  check_attention_backward_params(bp);
  if (bp.fwd.B == 0 || bp.fwd.H == 0) return;
  dispatch_head_dim(bp.fwd.D, [&](auto kD) { detail::launch_attention_backward<decltype(kD)::value>(bp, stream); });
}

template void attention_forward<float>(Exec, const AttentionParams<float>&);
template void attention_backward<float>(Exec, const AttentionBackwardParams<float>&);

}  // namespace ff::kernels::cuda
