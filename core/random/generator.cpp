#include "core/random/generator.h"

#include "core/ops/dispatch.h"
#include "core/ops/view.h"
#include "kernels/random.h"

namespace ff {
namespace {

// Fills x (contiguous, floating) with kernel(exec, pointer, n): bf16 tensors through an f32
// copy, so they hold the f32 draws rounded.
template <typename Fill>
void fill_random(Tensor& x, const char* op, Fill fill) {
  FF_CHECK(x.is_contiguous(), "{} needs a contiguous tensor, got {}", op, x.str());
  if (computes_in_f32<kernels::kRandomDTypes>(x)) {
    Tensor wide = Tensor::empty(x.shape(), DType::F32, x.device());
    fill_random(wide, op, fill);
    copy_(x, wide);
    return;
  }
  dispatch<kernels::kRandomDTypes>(op, x, [&]<typename T>(auto exec) { fill(exec, x.data<T>(), x.numel()); });
}

}  // namespace

void uniform_(Tensor& x, double lo, double hi, Generator& gen) {
  const auto s = gen.next();
  fill_random(x, "uniform_", [&](auto exec, auto* p, int64_t n) { uniform(exec, p, n, float(lo), float(hi), s); });
}

void normal_(Tensor& x, double mean, double std, Generator& gen) {
  const auto s = gen.next();
  fill_random(x, "normal_", [&](auto exec, auto* p, int64_t n) { normal(exec, p, n, float(mean), float(std), s); });
}

void trunc_normal_(Tensor& x, double mean, double std, double a, double b, Generator& gen) {
  const auto s = gen.next();
  fill_random(x, "trunc_normal_", [&](auto exec, auto* p, int64_t n) {
    truncated_normal(exec, p, n, float(mean), float(std), float(a), float(b), s);
  });
}

}  // namespace ff
