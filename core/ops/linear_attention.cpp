#include "core/ops/linear_attention.h"

#include <algorithm>

#include "core/autograd/autograd.h"
#include "core/ops/autocast.h"
#include "core/ops/dispatch.h"
#include "core/ops/elementwise.h"
#include "core/ops/flops.h"
#include "core/ops/linalg.h"
#include "core/ops/reduce.h"
#include "core/ops/view.h"
#include "kernels/linear_attention.h"

namespace ff {
namespace {

using kernels::kLinearAttentionDTypes;
using kernels::PrefixAttentionParams;
using kernels::RowStrides;

// One contiguous (B, H, N, W) operand of prefix_attention, its tokens in order or reversed.
template <typename T>
struct Operand {
  T* data;
  RowStrides strides;
};
template <typename T>
Operand<T> operand(const Tensor& x, bool reversed) {
  const int64_t N = x.size(2), W = x.size(3);
  T* base = x.data<T>();
  if (!reversed || N == 0) return {base, {N * W, W}};
  return {base + (N - 1) * W, {N * W, -W}};
}

// out = sum_{j < L_i} (a_i . b_j) c_j over the heads of contiguous (B, H, N, W) tensors; with
// `reversed`, every operand's tokens are read last to first.
void prefix_attention_raw(const Tensor& a, const Tensor& b, const Tensor& c, Tensor& out, bool causal, int64_t offset,
                          bool reversed) {
  dispatch<kLinearAttentionDTypes>("linear attention", a, [&]<typename T>(auto exec) {
    PrefixAttentionParams<T> p;
    const auto oa = operand<T>(a, reversed), ob = operand<T>(b, reversed), oc = operand<T>(c, reversed);
    const auto oo = operand<T>(out, reversed);
    p.a = oa.data;
    p.b = ob.data;
    p.c = oc.data;
    p.out = oo.data;
    p.a_strides = oa.strides;
    p.b_strides = ob.strides;
    p.c_strides = oc.strides;
    p.out_strides = oo.strides;
    p.heads = static_cast<int>(a.size(0) * a.size(1));
    p.Na = static_cast<int>(a.size(2));
    p.Nb = static_cast<int>(b.size(2));
    p.F = static_cast<int>(a.size(3));
    p.E = static_cast<int>(c.size(3));
    p.causal = causal;
    p.offset = static_cast<int>(offset);
    const int64_t scratch = prefix_attention_workspace<T>(exec, p);
    Tensor workspace = scratch > 0 ? Tensor::empty({scratch}, a.dtype(), a.device()) : Tensor();
    p.workspace = data_or_null<T>(workspace);
    prefix_attention<T>(exec, p);
  });
  add_model_flops(2.0 * double(a.size(0) * a.size(1)) * double(a.size(3)) * double(c.size(3)) *
                  double(a.size(2) + b.size(2)));
}

Tensor fourier_features_impl(const Tensor& theta_in) {
  if (computes_in_f32<kLinearAttentionDTypes>(theta_in))
    return to_dtype(fourier_features_impl(to_dtype(theta_in, DType::F32)), theta_in.dtype());
  Tensor theta = contiguous_raw(theta_in);
  const int64_t m = theta.size(-1), rows = theta.numel() / std::max<int64_t>(m, 1);
  Shape shape = theta.shape();
  shape.back() = 2 * m;
  Tensor phi = Tensor::empty(shape, theta.dtype(), theta.device());
  dispatch<kLinearAttentionDTypes>("fourier features", theta, [&]<typename T>(auto exec) {
    fourier_features_forward<T>(exec, theta.data<T>(), phi.data<T>(), rows, static_cast<int>(m));
  });
  record_op(phi, "fourier_features", {theta_in}, [saved = phi.detach(), rows, m](const Tensor& g, const std::vector<bool>&) {
    Tensor dphi = contiguous_raw(g);
    Shape shape = saved.shape();
    shape.back() = m;
    Tensor dtheta = Tensor::empty(shape, saved.dtype(), saved.device());
    dispatch<kLinearAttentionDTypes>("fourier features backward", saved, [&]<typename T>(auto exec) {
      fourier_features_backward<T>(exec, saved.data<T>(), dphi.data<T>(), dtheta.data<T>(), rows, static_cast<int>(m));
    });
    return Grads{dtheta};
  });
  return phi;
}

void check_inputs(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, const LinearAttentionOptions& o) {
  FF_CHECK(phi_q.dim() == 4 && phi_k.dim() == 4 && v.dim() == 4,
           "linear attention needs (B, H, N, F) features and (B, H, N, D) values, got {}, {}, {}", phi_q.str(),
           phi_k.str(), v.str());
  FF_CHECK(phi_q.size(0) == phi_k.size(0) && phi_q.size(1) == phi_k.size(1) && phi_q.size(3) == phi_k.size(3) &&
               v.size(0) == phi_k.size(0) && v.size(1) == phi_k.size(1) && v.size(2) == phi_k.size(2),
           "linear attention: phi_q {}, phi_k {} and v {} do not match", phi_q.str(), phi_k.str(), v.str());
  FF_CHECK(o.floor > 0 && o.eps >= 0, "linear attention: floor must be > 0 and eps >= 0, got {} and {}", o.floor,
           o.eps);
  check_same_device("linear attention", {&phi_q, &phi_k, &v});
  check_same_dtype("linear attention", {&phi_q, &phi_k, &v});
}

Tensor linear_attention_impl(const Tensor& phi_q_in, const Tensor& phi_k_in, const Tensor& v_in,
                             const LinearAttentionOptions& o) {
  if (computes_in_f32<kLinearAttentionDTypes>(phi_q_in)) {
    Tensor out = linear_attention_impl(to_dtype(phi_q_in, DType::F32), to_dtype(phi_k_in, DType::F32),
                                       to_dtype(v_in, DType::F32), o);
    return to_dtype(out, phi_q_in.dtype());
  }
  check_inputs(phi_q_in, phi_k_in, v_in, o);
  const int64_t B = phi_q_in.size(0), H = phi_q_in.size(1), Nq = phi_q_in.size(2), Nk = phi_k_in.size(2);
  const int64_t D = v_in.size(3);
  Tensor a = contiguous_raw(phi_q_in), b = contiguous_raw(phi_k_in);
  // Values with a column of ones: one prefix product gives the numerator and the kernel sum.
  Tensor v1 = concat({v_in.detach(), Tensor::ones({B, H, Nk, 1}, v_in.dtype(), v_in.device())}, 3);
  Tensor num_den = Tensor::empty({B, H, Nq, D + 1}, a.dtype(), a.device());
  prefix_attention_raw(a, b, v1, num_den, o.causal, Nk - Nq, /*reversed=*/false);
  Tensor out = Tensor::empty({B, H, Nq, D}, a.dtype(), a.device());
  const int64_t rows = B * H * Nq;
  dispatch<kLinearAttentionDTypes>("linear attention", a, [&]<typename T>(auto exec) {
    rf_normalise_forward<T>(exec, num_den.data<T>(), out.data<T>(), rows, static_cast<int>(D), T(o.eps), T(o.floor));
  });

  const std::vector<Tensor> inputs{phi_q_in, phi_k_in, v_in};
  if (!any_requires_grad(inputs)) return out;
  record_op(out, "linear_attention", inputs,
            [a = a.detach(), b = b.detach(), v1, num_den, out_saved = out.detach(), o](
                const Tensor& g_in, const std::vector<bool>& needs) {
              Tensor g = contiguous_raw(g_in);
              const int64_t B = a.size(0), H = a.size(1), Nq = a.size(2), Nk = b.size(2), D = v1.size(3) - 1;
              const int64_t rows = B * H * Nq;
              // grad of [num, den]: the output gradient of the "values with ones" product.
              Tensor gnd = Tensor::empty({B, H, Nq, D + 1}, a.dtype(), a.device());
              dispatch<kLinearAttentionDTypes>("linear attention backward", a, [&]<typename T>(auto exec) {
                rf_normalise_backward<T>(exec, num_den.data<T>(), out_saved.data<T>(), g.data<T>(), gnd.data<T>(), rows,
                                         static_cast<int>(D), T(o.eps), T(o.floor));
              });
              // Query i sees key j iff j <= i + (Nk - Nq); read with both token orders reversed,
              // key j' sees query i' iff i' <= j' + (Nq - Nk) + (Nk - Nq) = j'.
              const int64_t reversed_offset = 0;
              Grads grads(3);
              if (needs[0]) {  // dphi_q_i = sum_j (gnd_i . v1_j) phi_k_j
                grads[0] = Tensor::empty(a.shape(), a.dtype(), a.device());
                prefix_attention_raw(gnd, v1, b, grads[0], o.causal, Nk - Nq, false);
              }
              if (needs[1]) {  // dphi_k_j = sum_{i sees j} (v1_j . gnd_i) phi_q_i
                grads[1] = Tensor::empty(b.shape(), b.dtype(), b.device());
                prefix_attention_raw(v1, gnd, a, grads[1], o.causal, reversed_offset, true);
              }
              if (needs[2]) {  // dv1_j = sum_{i sees j} (phi_k_j . phi_q_i) gnd_i
                Tensor dv1 = Tensor::empty(v1.shape(), v1.dtype(), v1.device());
                prefix_attention_raw(b, a, gnd, dv1, o.causal, reversed_offset, true);
                grads[2] = contiguous(narrow(dv1, 3, 0, D));
              }
              return grads;
            });
  return out;
}

}  // namespace

Tensor fourier_features(const Tensor& theta) { return fourier_features_impl(autocast_f32(theta)); }

Tensor linear_attention(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, const LinearAttentionOptions& options) {
  return linear_attention_impl(autocast_f32(phi_q), autocast_f32(phi_k), autocast_f32(v), options);
}

namespace {
// linear_attention of the features of x (freqs * R)^T, the shared body of both kinds.
Tensor random_feature_attention(const char* name, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& freqs,
                                const Tensor& R, const LinearAttentionOptions& options) {
  FF_CHECK(q.dim() == 4 && freqs.dim() == 2 && freqs.size(1) == q.size(3), "{} needs q (B, H, N, D) and freqs (m, D), got {} and {}",
           name, q.str(), freqs.str());
  FF_CHECK(R.defined() && (R.numel() == 1 || R.numel() == q.size(3)), "{} needs R with 1 or D={} values, got {}", name,
           q.size(3), R.defined() ? R.str() : "none");
  const Tensor w_t = transpose(mul(freqs, reshape(R, {1, R.numel()})), 0, 1);  // (D, m)
  return linear_attention(fourier_features(matmul(q, w_t)), fourier_features(matmul(k, w_t)), v, options);
}
}  // namespace

Tensor fourier_rf_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& freqs, const Tensor& R,
                            const LinearAttentionOptions& options) {
  return random_feature_attention("fourier_rf_attention", q, k, v, freqs, R, options);
}

Tensor rfa_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& freqs, const Tensor& R,
                     const LinearAttentionOptions& options) {
  return random_feature_attention("rfa_attention", unit_rows(q), unit_rows(k), v, freqs, R, options);
}

Tensor unit_rows(const Tensor& x) { return mul(x, rsqrt(add(sum(square(x), {-1}, true), 1e-12))); }

Tensor gaussian_frequencies(int64_t m, int64_t D, kernels::PhiloxState state, DType dtype, Device device) {
  FF_CHECK(m >= 1 && D >= 1, "gaussian_frequencies: m={} and D={} must be >= 1", m, D);
  Generator gen;
  gen.set_state(state);
  Tensor w = Tensor::empty({m, D}, dtype, device);
  normal_(w, 0.0, 1.0, gen);
  return w;
}

Tensor sinc_frequencies(int64_t m, int64_t D, int p, kernels::PhiloxState state, DType dtype, Device device) {
  FF_CHECK(m >= 1 && D >= 1 && p >= 1, "sinc_frequencies: m={}, D={} and p={} must be >= 1", m, D, p);
  Generator gen;
  gen.set_state(state);
  Tensor u = Tensor::empty({p, m, D}, dtype, device);
  uniform_(u, -1.0, 1.0, gen);
  NoGradGuard no_grad;
  return sum(u, {0});
}

}  // namespace ff
