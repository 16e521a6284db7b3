#pragma once
// Softmax and log-softmax along one dimension (numerically stable: max-subtracted).
// x: (..., D, ...) -> same shape. The last dim is the fast path; another dim is moved last
// with a transpose (a copy) and the result is returned as a transposed view.

#include "core/tensor/tensor.h"

namespace ff {

Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);

}  // namespace ff
