#pragma once
// Reductions. dims may be negative; an empty dims list reduces everything.

#include <vector>

#include "core/tensor/tensor.h"

namespace ff {

Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
// Sums a broadcast result back to `shape` (the gradient of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace ff
