#include "core/ops/attention.h"

#include <algorithm>
#include <cmath>

#include "core/autograd/autograd.h"
#include "core/ops/autocast.h"
#include "core/ops/dispatch.h"
#include "core/ops/flops.h"
#include "core/ops/view.h"

namespace ff {
namespace {

using kernels::AttentionScore;
using kernels::kAttentionDTypes;
using kernels::AttentionStrides;

Tensor unit_last_stride(const Tensor& x) { return x.stride(-1) == 1 ? x : contiguous(x); }

AttentionStrides strides_of(const Tensor& x) { return {x.stride(0), x.stride(1), x.stride(2)}; }

// A (B, H, N, D) tensor stored as (B, N, H, D).
Tensor empty_bnhd(int64_t B, int64_t H, int64_t N, int64_t D, const Tensor& like) {
  return permute(Tensor::empty({B, N, H, D}, like.dtype(), like.device()), {0, 2, 1, 3});
}

template <typename T>
kernels::AttentionParams<T> make_params(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& R,
                                        const AttentionOptions& o, Tensor& out, Tensor& lse) {
  kernels::AttentionParams<T> p;
  p.q = q.data<T>();
  p.k = k.data<T>();
  p.v = v.data<T>();
  p.out = out.data<T>();
  p.lse = lse.data<T>();
  p.B = static_cast<int>(q.size(0));
  p.H = static_cast<int>(q.size(1));
  p.Nq = static_cast<int>(q.size(2));
  p.Nk = static_cast<int>(k.size(2));
  p.D = static_cast<int>(q.size(3));
  p.q_strides = strides_of(q);
  p.k_strides = strides_of(k);
  p.v_strides = strides_of(v);
  p.out_strides = strides_of(out);
  p.causal = o.causal;
  p.score = o.score;
  p.scale = static_cast<T>(o.scale > 0 ? o.scale : 1.0 / std::sqrt(static_cast<double>(p.D)));
  if (o.score == AttentionScore::Fourier) {
    p.R = R.data<T>();
    p.R_per_dim = R.numel() > 1;
    p.p = o.p;
    p.eps = static_cast<T>(o.eps);
  }
  return p;
}

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  FF_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention needs (B, H, N, D) inputs, got {}, {}, {}",
           q.str(), k.str(), v.str());
  FF_CHECK(k.shape() == v.shape() && q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3),
           "attention: q {} and k {} / v {} do not match", q.str(), k.str(), v.str());
  check_same_device("attention", {&q, &k, &v, &o.R});
  check_same_dtype("attention", {&q, &k, &v, &o.R});
  if (o.score == AttentionScore::Fourier) {
    FF_CHECK(o.R.defined() && o.R.is_contiguous() && (o.R.numel() == 1 || o.R.numel() == q.size(3)),
             "Fourier attention needs R with 1 or D={} values, got {}", q.size(3), o.R.str());
  }
}

// (query, key) pairs the kernel scores: causal rows see clamp(i + Nk - Nq + 1, 0, Nk) keys.
double visible_pairs(int64_t B, int64_t H, int64_t Nq, int64_t Nk, bool causal) {
  if (!causal) return double(B) * H * Nq * Nk;
  double pairs = 0;
  for (int64_t i = 0; i < Nq; ++i) pairs += double(std::clamp<int64_t>(i + Nk - Nq + 1, 0, Nk));
  return double(B) * H * pairs;
}

Tensor attention_impl(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const AttentionOptions& options,
                      Tensor* probs) {
  if (computes_in_f32<kAttentionDTypes>(q_in)) {
    AttentionOptions wide = options;
    if (wide.R.defined()) wide.R = to_dtype(wide.R, DType::F32);
    Tensor out = attention_impl(to_dtype(q_in, DType::F32), to_dtype(k_in, DType::F32), to_dtype(v_in, DType::F32),
                                wide, probs);
    return to_dtype(out, q_in.dtype());
  }
  check_inputs(q_in, k_in, v_in, options);
  Tensor q = unit_last_stride(q_in), k = unit_last_stride(k_in), v = unit_last_stride(v_in);
  const int64_t B = q.size(0), H = q.size(1), Nq = q.size(2), Nk = k.size(2), D = q.size(3);
  Tensor R = options.R.defined() ? options.R.detach() : Tensor();
  Tensor out = empty_bnhd(B, H, Nq, D, q);
  Tensor lse = Tensor::empty({B, H, Nq}, q.dtype(), q.device());
  if (probs) *probs = Tensor::empty({B, H, Nq, Nk}, q.dtype(), q.device());

  dispatch<kAttentionDTypes>("attention", q, [&]<typename T>(auto exec) {
    auto params = make_params<T>(q, k, v, R, options, out, lse);
    if (probs) params.probs = probs->data<T>();
    attention_forward<T>(exec, params);
  });
  const bool dot = options.score != AttentionScore::Fourier;
  const double pairs = visible_pairs(B, H, Nq, Nk, options.causal);
  add_model_flops((dot ? 4.0 : 2.0) * double(D) * pairs);

  std::vector<Tensor> inputs{q, k, v};
  if (options.score == AttentionScore::Fourier) inputs.push_back(options.R);
  if (!any_requires_grad(inputs)) return out;
  record_op(out, "attention", inputs,
            [q = q.detach(), k = k.detach(), v = v.detach(), R, out_saved = out.detach(), lse, options, dot, pairs](
                const Tensor& g_in, const std::vector<bool>& needs) {
              Tensor g = unit_last_stride(g_in);
              const int64_t B = q.size(0), H = q.size(1), Nq = q.size(2), Nk = k.size(2), D = q.size(3);
              Tensor dq = empty_bnhd(B, H, Nq, D, q), dk = empty_bnhd(B, H, Nk, D, q), dv = empty_bnhd(B, H, Nk, D, q);
              Tensor dR = R.defined() ? Tensor::zeros(R.shape(), R.dtype(), R.device()) : Tensor();
              Tensor out = out_saved, lse_copy = lse;
              dispatch<kAttentionDTypes>("attention backward", q, [&]<typename T>(auto exec) {
                kernels::AttentionBackwardParams<T> bp;
                bp.fwd = make_params<T>(q, k, v, R, options, out, lse_copy);
                bp.dout = g.data<T>();
                bp.dq = dq.data<T>();
                bp.dk = dk.data<T>();
                bp.dv = dv.data<T>();
                bp.dout_strides = strides_of(g);
                bp.dq_strides = strides_of(dq);
                bp.dk_strides = strides_of(dk);
                bp.dv_strides = strides_of(dv);
                if (dR.defined() && needs.size() > 3 && needs[3]) bp.dR = dR.data<T>();
                attention_backward<T>(exec, bp);
              });
              add_model_flops((dot ? 8.0 : 4.0) * double(D) * pairs);
              Grads grads{needs[0] ? dq : Tensor(), needs[1] ? dk : Tensor(), needs[2] ? dv : Tensor()};
              if (needs.size() > 3) grads.push_back(needs[3] ? dR : Tensor());
              return grads;
            });
  return out;
}

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& options, Tensor* probs) {
  return attention_impl(autocast_low(q), autocast_low(k), autocast_low(v), options, probs);
}

}  // namespace ff
