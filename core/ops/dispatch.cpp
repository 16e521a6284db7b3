#include "core/ops/dispatch.h"

namespace ff {

namespace detail {
void throw_no_cuda() { throw Error("a CUDA tensor reached an op, but this build has no CUDA backend"); }
}  // namespace detail

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
