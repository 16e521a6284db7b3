#include "core/ops/dispatch.h"

#include "core/ops/view.h"

namespace ff {

namespace detail {

void throw_no_cuda(const char* op) {
  throw Error(fmt::format("{}: a CUDA tensor, but this build has no CUDA backend", op));
}

void throw_no_kernel(const char* op, Device device, DType dtype, DTypeSet supported) {
  std::string have;
  for (DType t : kAllDTypes)
    if (supported.has(t)) have += (have.empty() ? "" : ", ") + std::string(dtype_name(t));
  throw Error(fmt::format("{}: no {} kernel for {} tensors (it has {})", op, device.is_cpu() ? "CPU" : "CUDA",
                          dtype_name(dtype), have.empty() ? "none" : have));
}

}  // namespace detail

Tensor contiguous_raw(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_(out, x);
  return out;
}

void check_same_device(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;
    if (!first) first = t;
    FF_CHECK(t->device() == first->device(), "{}: tensors on different devices ({} and {})", op,
             first->str(), t->str());
  }
}

void check_same_dtype(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;
    if (!first) first = t;
    FF_CHECK(t->dtype() == first->dtype(), "{}: tensors of different dtypes ({} and {})", op,
             first->str(), t->str());
  }
}

}  // namespace ff
