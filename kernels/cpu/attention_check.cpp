// Validation of attention parameters, shared by the CPU and CUDA launchers.

#include "kernels/attention.h"
#include "kernels/common.h"

namespace ff::kernels {

namespace {
void check_strides(const AttentionStrides& s, const char* name) {
  FF_CHECK(s.batch >= 0 && s.head >= 0 && s.token >= 0,
           "attention: {} strides must be non-negative, got (batch {}, head {}, token {})", name,
           s.batch, s.head, s.token);
}
}  // namespace

template <typename T>
void check_attention_params(const AttentionParams<T>& p) {
  FF_CHECK(p.B >= 0 && p.H >= 0 && p.Nq >= 0 && p.Nk >= 0,
           "attention: sizes must be non-negative, got B={} H={} Nq={} Nk={}", p.B, p.H, p.Nq, p.Nk);
  FF_CHECK(p.D >= 1, "attention: head dim D must be >= 1, got {}", p.D);
  const bool empty = p.B == 0 || p.H == 0 || p.Nq == 0;
  if (empty) return;
  FF_CHECK(p.q && p.out && p.lse, "attention: q, out and lse must not be null");
  FF_CHECK(p.Nk == 0 || (p.k && p.v), "attention: k and v must not be null when Nk > 0");
  check_strides(p.q_strides, "q");
  check_strides(p.k_strides, "k");
  check_strides(p.v_strides, "v");
  check_strides(p.out_strides, "out");
  FF_CHECK(p.out_strides.token >= p.D || p.Nq == 1,
           "attention: out token stride {} is smaller than D={} (rows would overlap)",
           p.out_strides.token, p.D);
  if (p.score == AttentionScore::Fourier) {
    FF_CHECK(p.R != nullptr, "attention: the Fourier score needs R (1 or D values)");
    FF_CHECK(p.p >= 2 && p.p % 2 == 0, "attention: the Fourier power p must be even and >= 2, got {}",
             p.p);
    FF_CHECK(p.eps >= T(0) && std::isfinite(double(p.eps)),
             "attention: the Fourier eps must be finite and >= 0, got {}", double(p.eps));
  } else {
    FF_CHECK(std::isfinite(double(p.scale)), "attention: the dot scale must be finite, got {}",
             double(p.scale));
  }
}

template <typename T>
void check_attention_backward_params(const AttentionBackwardParams<T>& p) {
  check_attention_params(p.fwd);
  if (p.fwd.B == 0 || p.fwd.H == 0) return;
  FF_CHECK(p.fwd.Nq == 0 || (p.dout && p.dq), "attention backward: dout and dq must not be null");
  FF_CHECK(p.fwd.Nk == 0 || (p.dk && p.dv), "attention backward: dk and dv must not be null");
  check_strides(p.dout_strides, "dout");
  check_strides(p.dq_strides, "dq");
  check_strides(p.dk_strides, "dk");
  check_strides(p.dv_strides, "dv");
}

template void check_attention_params<float>(const AttentionParams<float>&);
template void check_attention_params<double>(const AttentionParams<double>&);
template void check_attention_backward_params<float>(const AttentionBackwardParams<float>&);
template void check_attention_backward_params<double>(const AttentionBackwardParams<double>&);

}  // namespace ff::kernels
