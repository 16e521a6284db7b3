#pragma once
// Projected adaptive log-softmax (Grave et al.; the Transformer-XL variant) for div_val 1 and
// d_proj == d_embed, so there are no projections: one output matrix, tied to the input
// embedding, and its own bias.
//
// Layout, as the reference computes it (weights exchange with it unchanged):
//   cutoffs c_0 < c_1 < ... < c_{n-1} (< V): the shortlist is [0, c_0); tail cluster i
//   (1-based, i = 1..n) holds [c_{i-1}, c_i) with c_n = V.
//   head logits = hidden @ [W[0:c_0); cluster_weight]^T + [b[0:c_0); cluster_bias]
//     -> (N, c_0 + n): the cluster logits are appended after the shortlist;
//   log p(t) = head_logprob[t]                                       t < c_0
//            = head_logprob[c_0 + n - i] + log_softmax(tail_i)[t - c_{i-1}]   t in cluster i
//   so the cluster logits are read from the end (tail 1 uses the last head column, which is
//   cluster_weight row n - 1).
// Without cutoffs it is a plain softmax over hidden @ W^T + b.
//
// Parameters (checkpoint keys below the module's name, `crit` in the LM):
//   out_layers.0.bias  (V)
//   cluster_weight     (n, d)   cluster_bias (n)         only with cutoffs
// The weight W (V, d) is the embedding's, passed to every call.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/nn/module.h"
#include "core/random/generator.h"

namespace ff::models {

class AdaptiveLogSoftmax : public nn::Module {
 public:
  // cutoffs: ascending, each in (0, n_token); empty for a full softmax.
  AdaptiveLogSoftmax(int64_t n_token, int64_t d_embed, std::vector<int64_t> cutoffs, double init_std, Generator& gen,
                     DType dtype = DType::F32);

  // hidden: (N, d), weight: (V, d), targets: N ids on the host -> () the SUM of -log p over
  // the N rows (differentiable in hidden, weight and this module's parameters).
  Tensor nll_sum(const Tensor& hidden, std::span<const int32_t> targets, const Tensor& weight) const;
  // hidden: (N, d), weight: (V, d) -> (N, V) log-probabilities over the whole vocabulary.
  Tensor log_prob(const Tensor& hidden, const Tensor& weight) const;

  int64_t n_clusters() const { return static_cast<int64_t>(cutoffs_.size()) - 1; }
  // The tail cluster (1-based) of a token id, 0 for the shortlist.
  int64_t cluster_of(int32_t token) const;

  Tensor cluster_weight, cluster_bias;  // (n, d), (n); undefined without cutoffs

 private:
  // [W[0:c_0); cluster_weight] and its bias: (c_0 + n, d), (c_0 + n).
  std::pair<Tensor, Tensor> head(const Tensor& weight) const;

  class Bias;
  std::shared_ptr<nn::Module> out_layers_;
  std::shared_ptr<Bias> out0_;
  int64_t n_token_;
  std::vector<int64_t> cutoffs_;  // c_0..c_{n-1} followed by V
};

}  // namespace ff::models
