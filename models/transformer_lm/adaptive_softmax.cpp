#include "models/transformer_lm/adaptive_softmax.h"

#include <algorithm>

#include "core/nn/init.h"
#include "core/ops/embedding.h"
#include "core/ops/linalg.h"
#include "core/ops/ops.h"

namespace ff::models {

// `out_layers.0`: holds only the output bias (the weight is the embedding's), so the
// checkpoint key matches the reference's crit.out_layers.0.bias.
class AdaptiveLogSoftmax::Bias : public nn::Module {
 public:
  Bias(int64_t n, DType dtype) { register_parameter("bias", bias = Tensor::zeros({n}, dtype)); }
  Tensor bias;
};

namespace {
class ModuleList : public nn::Module {
 public:
  template <typename M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
};

Tensor host_ids(const std::vector<int32_t>& ids, Device device) {
  Tensor t = Tensor::from_vector<int32_t>(ids, {static_cast<int64_t>(ids.size())});
  return device.is_cpu() ? t : to_device(t, device);
}
}  // namespace

AdaptiveLogSoftmax::AdaptiveLogSoftmax(int64_t n_token, int64_t d_embed, std::vector<int64_t> cutoffs,
                                       double init_std, Generator& gen, DType dtype)
    : n_token_(n_token), cutoffs_(std::move(cutoffs)) {
  for (size_t i = 0; i < cutoffs_.size(); ++i)
    FF_USER_CHECK(cutoffs_[i] > 0 && cutoffs_[i] < n_token && (i == 0 || cutoffs_[i] > cutoffs_[i - 1]),
                  "model.cutoffs must be ascending and each in (0, vocabulary size {}), got {}", n_token,
                  cutoffs_[i]);
  const int64_t n = static_cast<int64_t>(cutoffs_.size());
  if (n > 0) {
    register_parameter("cluster_weight", cluster_weight = Tensor::zeros({n, d_embed}, dtype));
    register_parameter("cluster_bias", cluster_bias = Tensor::zeros({n}, dtype));
    nn::init::normal_(cluster_weight, 0.0, init_std, gen);
  }
  auto list = std::make_shared<ModuleList>();
  out0_ = list->add("0", std::make_shared<Bias>(n_token, dtype));
  out_layers_ = register_module("out_layers", std::static_pointer_cast<nn::Module>(list));
  cutoffs_.push_back(n_token);
}

int64_t AdaptiveLogSoftmax::cluster_of(int32_t token) const {
  // cutoffs_ = c_0..c_{n-1}, V: the number of cutoffs <= token is the 1-based tail index.
  return std::upper_bound(cutoffs_.begin(), cutoffs_.end() - 1, static_cast<int64_t>(token)) - cutoffs_.begin();
}

std::pair<Tensor, Tensor> AdaptiveLogSoftmax::head(const Tensor& weight) const {
  const int64_t c0 = cutoffs_[0];
  Tensor w = slice(weight, 0, 0, c0), b = slice(out0_->bias, 0, 0, c0);
  return {concat({w, cluster_weight}, 0), concat({b, cluster_bias}, 0)};
}

Tensor AdaptiveLogSoftmax::nll_sum(const Tensor& hidden, std::span<const int32_t> targets,
                                   const Tensor& weight) const {
  FF_CHECK(hidden.dim() == 2 && hidden.size(0) == static_cast<int64_t>(targets.size()),
           "adaptive softmax: hidden (N, d) with N = {} targets, got {}", targets.size(), hidden.str());
  const Device device = hidden.device();
  CrossEntropyOptions sum;
  sum.reduction = Reduction::Sum;
  std::vector<int32_t> head_target(targets.begin(), targets.end());
  for (int32_t t : head_target)
    FF_CHECK(t >= 0 && t < n_token_, "adaptive softmax: target {} outside the vocabulary [0, {})", t, n_token_);
  if (n_clusters() == 0) return cross_entropy(linear(hidden, weight, out0_->bias), host_ids(head_target, device), sum);

  const int64_t n = n_clusters(), c0 = cutoffs_[0];
  // Rows and local targets of each tail cluster; the head target of a tail token is its
  // cluster's column, read from the end.
  std::vector<std::vector<int32_t>> rows(n + 1), local(n + 1);
  for (size_t r = 0; r < head_target.size(); ++r) {
    const int32_t t = head_target[r];
    const int64_t i = cluster_of(t);
    if (i == 0) continue;
    rows[i].push_back(static_cast<int32_t>(r));
    local[i].push_back(static_cast<int32_t>(t - cutoffs_[i - 1]));
    head_target[r] = static_cast<int32_t>(c0 + n - i);
  }
  auto [head_w, head_b] = head(weight);
  Tensor total = cross_entropy(linear(hidden, head_w, head_b), host_ids(head_target, device), sum);
  for (int64_t i = 1; i <= n; ++i) {
    if (rows[i].empty()) continue;
    const int64_t lo = cutoffs_[i - 1], hi = cutoffs_[i];
    Tensor h = embedding(hidden, host_ids(rows[i], device));  // (k, d): rows of the cluster's tokens
    Tensor logits = linear(h, slice(weight, 0, lo, hi), slice(out0_->bias, 0, lo, hi));
    total = total + cross_entropy(logits, host_ids(local[i], device), sum);
  }
  return total;
}

Tensor AdaptiveLogSoftmax::log_prob(const Tensor& hidden, const Tensor& weight) const {
  if (n_clusters() == 0) return log_softmax(linear(hidden, weight, out0_->bias), -1);
  const int64_t n = n_clusters(), c0 = cutoffs_[0];
  auto [head_w, head_b] = head(weight);
  Tensor head_lp = log_softmax(linear(hidden, head_w, head_b), -1);  // (N, c0 + n)
  std::vector<Tensor> parts = {slice(head_lp, 1, 0, c0)};
  for (int64_t i = 1; i <= n; ++i) {
    const int64_t lo = cutoffs_[i - 1], hi = cutoffs_[i];
    Tensor tail = log_softmax(linear(hidden, slice(weight, 0, lo, hi), slice(out0_->bias, 0, lo, hi)), -1);
    parts.push_back(tail + slice(head_lp, 1, c0 + n - i, c0 + n - i + 1));
  }
  return concat(parts, 1);
}

}  // namespace ff::models
