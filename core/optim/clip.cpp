#include "core/optim/clip.h"

#include <cmath>
#include <set>
#include <tuple>

#include "core/autograd/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/reduce.h"

namespace ff::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm) {
  FF_USER_CHECK(max_norm > 0, "max gradient norm must be > 0, got {}", max_norm);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;

  Tensor total_sq;  // scalar on the gradients' device
  for (const Tensor& g : grads) {
    FF_CHECK(g.device() == grads[0].device(), "gradients on {} and {}: clip one device at a time",
             grads[0].device().str(), g.device().str());
    FF_CHECK(g.dtype() == grads[0].dtype(), "gradients of dtypes {} and {}: clip one dtype at a time",
             dtype_name(grads[0].dtype()), dtype_name(g.dtype()));
    Tensor sq = sum(square(g));
    total_sq = total_sq.defined() ? add(total_sq, sq) : sq;
  }
  const double norm = std::sqrt(total_sq.item());
  if (!std::isfinite(norm) || norm <= max_norm) return norm;

  const double scale = max_norm / (norm + 1e-6);
  std::set<std::tuple<const void*, int64_t>> scaled;
  for (Tensor& g : grads)
    if (scaled.emplace(g.storage().get(), g.offset()).second) mul_(g, scale);
  return norm;
}

}  // namespace ff::optim
