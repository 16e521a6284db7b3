#include "core/optim/clip.h"

#include <cmath>
#include <set>
#include <tuple>

#include "core/autograd/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/reduce.h"

namespace ff::optim {
namespace {

// The parameters' gradients; with `distinct`, each storage once (for scaling in place).
std::vector<Tensor> grads_of(const std::vector<Tensor>& params, bool distinct) {
  std::vector<Tensor> grads;
  std::set<std::tuple<const void*, int64_t>> seen;
  for (const Tensor& p : params) {
    const Tensor g = p.grad();
    if (!g.defined() || (distinct && !seen.emplace(g.storage().get(), g.offset()).second)) continue;
    FF_CHECK(grads.empty() || (g.device() == grads[0].device() && g.dtype() == grads[0].dtype()),
             "gradients {} and {}: one device and dtype at a time", grads[0].str(), g.str());
    grads.push_back(g);
  }
  return grads;
}

}  // namespace

Tensor grad_norm(const std::vector<Tensor>& params) {
  NoGradGuard no_grad;
  Tensor total_sq;
  for (const Tensor& g : grads_of(params, false)) {
    Tensor sq = sum(square(g));
    total_sq = total_sq.defined() ? add(total_sq, sq) : sq;
  }
  return total_sq.defined() ? sqrt(total_sq) : Tensor();
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm) {
  FF_USER_CHECK(max_norm > 0, "max gradient norm must be > 0, got {}", max_norm);
  const Tensor norm_t = grad_norm(params);
  if (!norm_t.defined()) return 0.0;
  const double norm = norm_t.item();
  if (!std::isfinite(norm) || norm <= max_norm) return norm;
  const double scale = max_norm / (norm + 1e-6);
  for (Tensor& g : grads_of(params, true)) mul_(g, scale);
  return norm;
}

}  // namespace ff::optim
