#include "core/ops/autocast.h"

#include "core/autograd/autograd.h"
#include "core/ops/view.h"

namespace ff {
namespace {

int width(DType t) { return t == DType::BF16 ? 0 : t == DType::F32 ? 1 : 2; }

}  // namespace

Tensor autocast_low(const Tensor& x) {
  const std::optional<DType> target = autocast_dtype();
  if (!target || !x.defined() || x.dtype() != DType::F32 || *target == DType::F32) return x;
  return to_dtype(x, *target);
}

Tensor autocast_f32(const Tensor& x) {
  if (!autocast_dtype() || !x.defined() || x.dtype() != DType::BF16) return x;
  return to_dtype(x, DType::F32);
}

std::pair<Tensor, Tensor> promote(const Tensor& a, const Tensor& b) {
  if (a.dtype() == b.dtype() || !is_floating(a.dtype()) || !is_floating(b.dtype())) return {a, b};
  const DType wide = width(a.dtype()) > width(b.dtype()) ? a.dtype() : b.dtype();
  return {to_dtype(a, wide), to_dtype(b, wide)};
}

std::vector<Tensor> promote(const std::vector<Tensor>& xs) {
  if (xs.empty() || !is_floating(xs[0].dtype())) return xs;
  DType wide = xs[0].dtype();
  bool mixed = false;
  for (const Tensor& x : xs) {
    if (!is_floating(x.dtype())) return xs;  // not ours to promote: the op reports the mismatch
    mixed |= x.dtype() != wide;
    if (width(x.dtype()) > width(wide)) wide = x.dtype();
  }
  if (!mixed) return xs;
  std::vector<Tensor> out;
  out.reserve(xs.size());
  for (const Tensor& x : xs) out.push_back(x.dtype() == wide ? x : to_dtype(x, wide));
  return out;
}

}  // namespace ff
