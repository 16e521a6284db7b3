#include "core/ops/loss.h"

#include <type_traits>

#include "core/autograd/autograd.h"
#include "core/ops/dispatch.h"
#include "core/ops/elementwise.h"
#include "core/ops/reduce.h"
#include "core/ops/view.h"
#include "kernels/cross_entropy.h"

namespace ff {
namespace {

Tensor contiguous_raw(const Tensor& x) { return x.is_contiguous() ? x : contiguous(x); }

// Calls fn.template operator()<I>() with the C++ type of an id tensor.
template <typename Fn>
void visit_index(const Tensor& target, Fn&& fn) {
  if (target.dtype() == DType::I32) return fn.template operator()<int32_t>();
  if (target.dtype() == DType::I64) return fn.template operator()<int64_t>();
  FF_CHECK(false, "class ids must be int32 or int64, got {}", target.str());
}

// Calls cpu(T tag) for f32/f64 CPU tensors, cuda() for f32 CUDA tensors.
template <typename Cpu, typename Cuda>
void dispatch_float(const Tensor& x, const char* name, Cpu&& cpu, Cuda&& cuda) {
  visit_float(x.dtype(), [&]<typename T>() {
    if (x.device().is_cpu()) {
      cpu(T{});
    } else {
      FF_CHECK((std::is_same_v<T, float>), "{} on CUDA needs f32, got {}", name, x.str());
      cuda();
    }
  });
}

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
  visit_index(target, [&]<typename I>() {
    dispatch_float(
        x, "cross_entropy",
        [&]<typename T>(T) {
          kernels::cpu::cross_entropy_forward<T, I>(x.data<T>(), target.data<I>(), loss.data<T>(), lse.data<T>(),
                                                    valid.data<T>(), N, C, o.ignore_index, eps);
        },
        [&] {
          FF_CUDA_CALL(kernels::cuda::cross_entropy_forward<I>(x.data<float>(), target.data<I>(), loss.data<float>(),
                                                               lse.data<float>(), valid.data<float>(), N, C,
                                                               o.ignore_index, eps, FF_STREAM(x)));
        });
  });
  Tensor count = o.reduction == Reduction::Mean ? sum(valid) : Tensor();
  Tensor out = reduce_rows(loss, count, o.reduction);
  record_op(out, "cross_entropy", {logits},
            [x, target, lse = lse, count, o, N, C](const Tensor& g, const std::vector<bool>&) {
              auto [scale, stride] = row_scale(g, count, N, o.reduction);
              Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
              visit_index(target, [&]<typename I>() {
                dispatch_float(
                    x, "cross_entropy",
                    [&]<typename T>(T) {
                      kernels::cpu::cross_entropy_backward<T, I>(x.data<T>(), target.data<I>(), lse.data<T>(),
                                                                 scale.data<T>(), stride, dx.data<T>(), N, C,
                                                                 o.ignore_index, o.label_smoothing);
                    },
                    [&] {
                      FF_CUDA_CALL(kernels::cuda::cross_entropy_backward<I>(
                          x.data<float>(), target.data<I>(), lse.data<float>(), scale.data<float>(), stride,
                          dx.data<float>(), N, C, o.ignore_index, o.label_smoothing, FF_STREAM(x)));
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
  dispatch_float(
      x, "cross_entropy",
      [&]<typename T>(T) {
        kernels::cpu::soft_cross_entropy_forward<T>(x.data<T>(), target.data<T>(), loss.data<T>(), lse.data<T>(), N,
                                                    C, eps);
      },
      [&] {
        FF_CUDA_CALL(kernels::cuda::soft_cross_entropy_forward(x.data<float>(), target.data<float>(),
                                                               loss.data<float>(), lse.data<float>(), N, C, eps,
                                                               FF_STREAM(x)));
      });
  Tensor out = reduce_rows(loss, Tensor(), o.reduction);
  record_op(out, "cross_entropy", {logits}, [x, target, lse, o, N, C](const Tensor& g, const std::vector<bool>&) {
    auto [scale, stride] = row_scale(g, Tensor(), N, o.reduction);
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    dispatch_float(
        x, "cross_entropy",
        [&]<typename T>(T) {
          kernels::cpu::soft_cross_entropy_backward<T>(x.data<T>(), target.data<T>(), lse.data<T>(), scale.data<T>(),
                                                       stride, dx.data<T>(), N, C, o.label_smoothing);
        },
        [&] {
          FF_CUDA_CALL(kernels::cuda::soft_cross_entropy_backward(x.data<float>(), target.data<float>(),
                                                                  lse.data<float>(), scale.data<float>(), stride,
                                                                  dx.data<float>(), N, C, o.label_smoothing,
                                                                  FF_STREAM(x)));
        });
    return Grads{dx};
  });
  return out;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& options) {
  FF_CHECK(logits.dim() == 2, "cross_entropy: logits must be (N, C), got {}", logits.str());
  FF_CHECK(options.label_smoothing >= 0.0 && options.label_smoothing <= 1.0,
           "cross_entropy: label_smoothing {} is outside [0, 1]", options.label_smoothing);
  check_same_device("cross_entropy", {&logits, &target});
  if (is_floating(target.dtype())) return soft_cross_entropy(logits, target, options);
  return hard_cross_entropy(logits, target, options);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target_in, const NllLossOptions& o) {
  FF_CHECK(log_probs.dim() == 2, "nll_loss: log_probs must be (N, C), got {}", log_probs.str());
  check_same_device("nll_loss", {&log_probs, &target_in});
  check_ids("nll_loss", log_probs, target_in);
  Tensor lp = contiguous_raw(log_probs.detach());
  Tensor target = contiguous_raw(target_in.detach());
  const int64_t N = lp.size(0), C = lp.size(1);
  Tensor loss = Tensor::empty({N}, lp.dtype(), lp.device());
  Tensor valid = Tensor::empty({N}, lp.dtype(), lp.device());
  visit_index(target, [&]<typename I>() {
    dispatch_float(
        lp, "nll_loss",
        [&]<typename T>(T) {
          kernels::cpu::nll_forward<T, I>(lp.data<T>(), target.data<I>(), loss.data<T>(), valid.data<T>(), N, C,
                                          o.ignore_index);
        },
        [&] {
          FF_CUDA_CALL(kernels::cuda::nll_forward<I>(lp.data<float>(), target.data<I>(), loss.data<float>(),
                                                     valid.data<float>(), N, C, o.ignore_index, FF_STREAM(lp)));
        });
  });
  Tensor count = o.reduction == Reduction::Mean ? sum(valid) : Tensor();
  Tensor out = reduce_rows(loss, count, o.reduction);
  record_op(out, "nll_loss", {log_probs},
            [target, count, o, N, C, dtype = lp.dtype(), device = lp.device()](const Tensor& g,
                                                                               const std::vector<bool>&) {
              auto [scale, stride] = row_scale(g, count, N, o.reduction);
              Tensor dlp = Tensor::empty({N, C}, dtype, device);
              visit_index(target, [&]<typename I>() {
                dispatch_float(
                    dlp, "nll_loss",
                    [&]<typename T>(T) {
                      kernels::cpu::nll_backward<T, I>(target.data<I>(), scale.data<T>(), stride, dlp.data<T>(), N,
                                                       C, o.ignore_index);
                    },
                    [&] {
                      FF_CUDA_CALL(kernels::cuda::nll_backward<I>(target.data<I>(), scale.data<float>(), stride,
                                                                  dlp.data<float>(), N, C, o.ignore_index,
                                                                  FF_STREAM(dlp)));
                    });
              });
              return Grads{dlp};
            });
  return out;
}

}  // namespace ff
