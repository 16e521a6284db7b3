#include "core/ops/loss.h"

#include "core/autograd/autograd.h"
#include "core/ops/autocast.h"
#include "core/ops/dispatch.h"
#include "core/ops/elementwise.h"
#include "core/ops/reduce.h"
#include "core/ops/view.h"
#include "kernels/cross_entropy.h"

namespace ff {
namespace {

using kernels::kCrossEntropyDTypes;

// Reduces per-row losses (N): Mean divides by `count` (a scalar tensor) or by N.
Tensor reduce_rows(const Tensor& loss, const Tensor& count, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean:
      return count.defined() ? div(sum(loss), count) : mul(sum(loss), 1.0 / static_cast<double>(loss.numel()));
  }
  return loss;
}

// The upstream gradient of each row and its stride (0: one scalar for all rows).
std::pair<Tensor, int64_t> row_scale(const Tensor& g, const Tensor& count, int64_t N, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return {contiguous_raw(g), 1};
    case Reduction::Sum: return {contiguous_raw(g), 0};
    case Reduction::Mean:
      return {count.defined() ? div(g, count) : mul(g, 1.0 / static_cast<double>(N)), 0};
  }
  return {g, 0};
}

void check_ids(const char* op, const Tensor& x, const Tensor& target) {
  FF_CHECK(target.dim() == 1 && target.size(0) == x.size(0), "{}: ids {} do not match logits {} (want ({}))", op,
           target.str(), x.str(), x.size(0));
}

Tensor hard_cross_entropy(const Tensor& logits, const Tensor& target_in, const CrossEntropyOptions& o) {
  check_ids("cross_entropy", logits, target_in);
  Tensor x = contiguous_raw(logits.detach());
  Tensor target = contiguous_raw(target_in.detach());
  const int64_t N = x.size(0), C = x.size(1);
  Tensor loss = Tensor::empty({N}, x.dtype(), x.device());
  Tensor lse = Tensor::empty({N}, x.dtype(), x.device());
  Tensor valid = Tensor::empty({N}, x.dtype(), x.device());
  const double eps = o.label_smoothing;
  visit_index("cross_entropy", target, [&]<typename I>() {
    dispatch<kCrossEntropyDTypes>("cross_entropy", x, [&]<typename T>(auto exec) {
      cross_entropy_forward<T, I>(exec, x.data<T>(), target.data<I>(), loss.data<T>(), lse.data<T>(), valid.data<T>(),
                                  N, C, o.ignore_index, eps);
    });
  });
  Tensor count = o.reduction == Reduction::Mean ? sum(valid) : Tensor();
  Tensor out = reduce_rows(loss, count, o.reduction);
  record_op(out, "cross_entropy", {logits},
            [x, target, lse = lse, count, o, N, C](const Tensor& g, const std::vector<bool>&) {
              auto [scale, stride] = row_scale(g, count, N, o.reduction);
              Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
              visit_index("cross_entropy", target, [&]<typename I>() {
                dispatch<kCrossEntropyDTypes>("cross_entropy backward", x, [&]<typename T>(auto exec) {
                  cross_entropy_backward<T, I>(exec, x.data<T>(), target.data<I>(), lse.data<T>(), scale.data<T>(),
                                               stride, dx.data<T>(), N, C, o.ignore_index, o.label_smoothing);
                });
              });
              return Grads{dx};
            });
  return out;
}

Tensor soft_cross_entropy(const Tensor& logits, const Tensor& target_in, const CrossEntropyOptions& o) {
  FF_CHECK(target_in.shape() == logits.shape(), "cross_entropy: target distribution {} does not match logits {}",
           target_in.str(), logits.str());
  check_same_dtype("cross_entropy", {&logits, &target_in});
  Tensor x = contiguous_raw(logits.detach());
  Tensor target = contiguous_raw(target_in.detach());
  const int64_t N = x.size(0), C = x.size(1);
  Tensor loss = Tensor::empty({N}, x.dtype(), x.device());
  Tensor lse = Tensor::empty({N}, x.dtype(), x.device());
  const double eps = o.label_smoothing;
  dispatch<kCrossEntropyDTypes>("cross_entropy", x, [&]<typename T>(auto exec) {
    soft_cross_entropy_forward<T>(exec, x.data<T>(), target.data<T>(), loss.data<T>(), lse.data<T>(), N, C, eps);
  });
  Tensor out = reduce_rows(loss, Tensor(), o.reduction);
  record_op(out, "cross_entropy", {logits}, [x, target, lse, o, N, C](const Tensor& g, const std::vector<bool>&) {
    auto [scale, stride] = row_scale(g, Tensor(), N, o.reduction);
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    dispatch<kCrossEntropyDTypes>("cross_entropy backward", x, [&]<typename T>(auto exec) {
      soft_cross_entropy_backward<T>(exec, x.data<T>(), target.data<T>(), lse.data<T>(), scale.data<T>(), stride,
                                     dx.data<T>(), N, C, o.label_smoothing);
    });
    return Grads{dx};
  });
  return out;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits_in, const Tensor& target_in, const CrossEntropyOptions& options) {
  Tensor logits = autocast_f32(logits_in), target = autocast_f32(target_in);
  if (computes_in_f32<kCrossEntropyDTypes>(logits)) {
    logits = to_dtype(logits, DType::F32);
    if (is_floating(target.dtype())) target = to_dtype(target, DType::F32);
    return to_dtype(cross_entropy(logits, target, options), logits_in.dtype());
  }
  FF_CHECK(logits.dim() == 2, "cross_entropy: logits must be (N, C), got {}", logits.str());
  FF_CHECK(options.label_smoothing >= 0.0 && options.label_smoothing <= 1.0,
           "cross_entropy: label_smoothing {} is outside [0, 1]", options.label_smoothing);
  check_same_device("cross_entropy", {&logits, &target});
  if (is_floating(target.dtype())) return soft_cross_entropy(logits, target, options);
  return hard_cross_entropy(logits, target, options);
}

Tensor nll_loss(const Tensor& log_probs_in, const Tensor& target_in, const NllLossOptions& o) {
  const Tensor log_probs = autocast_f32(log_probs_in);
  if (computes_in_f32<kCrossEntropyDTypes>(log_probs))
    return to_dtype(nll_loss(to_dtype(log_probs, DType::F32), target_in, o), log_probs.dtype());
  FF_CHECK(log_probs.dim() == 2, "nll_loss: log_probs must be (N, C), got {}", log_probs.str());
  check_same_device("nll_loss", {&log_probs, &target_in});
  check_ids("nll_loss", log_probs, target_in);
  Tensor lp = contiguous_raw(log_probs.detach());
  Tensor target = contiguous_raw(target_in.detach());
  const int64_t N = lp.size(0), C = lp.size(1);
  Tensor loss = Tensor::empty({N}, lp.dtype(), lp.device());
  Tensor valid = Tensor::empty({N}, lp.dtype(), lp.device());
  visit_index("nll_loss", target, [&]<typename I>() {
    dispatch<kCrossEntropyDTypes>("nll_loss", lp, [&]<typename T>(auto exec) {
      nll_forward<T, I>(exec, lp.data<T>(), target.data<I>(), loss.data<T>(), valid.data<T>(), N, C, o.ignore_index);
    });
  });
  Tensor count = o.reduction == Reduction::Mean ? sum(valid) : Tensor();
  Tensor out = reduce_rows(loss, count, o.reduction);
  record_op(out, "nll_loss", {log_probs},
            [target, count, o, N, C, dtype = lp.dtype(), device = lp.device()](const Tensor& g,
                                                                               const std::vector<bool>&) {
              auto [scale, stride] = row_scale(g, count, N, o.reduction);
              Tensor dlp = Tensor::empty({N, C}, dtype, device);
              visit_index("nll_loss", target, [&]<typename I>() {
                dispatch<kCrossEntropyDTypes>("nll_loss backward", dlp, [&]<typename T>(auto exec) {
                  nll_backward<T, I>(exec, target.data<I>(), scale.data<T>(), stride, dlp.data<T>(), N, C,
                                     o.ignore_index);
                });
              });
              return Grads{dlp};
            });
  return out;
}

}  // namespace ff
