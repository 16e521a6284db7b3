#pragma once
// Human-readable tensor values, numpy style, for debugging and logs:
//   F32[2, 3] cpu
//   [[0.1, 0.2, 0.3],
//    [0.4, 0.5, 0.6]]
// Dimensions longer than 2 * edge_items are elided with "..." around their first and last
// `edge_items` entries.

#include <ostream>
#include <string>

#include "core/tensor/tensor.h"

namespace ff {

std::string format_tensor(const Tensor& x, int64_t edge_items = 3);
std::ostream& operator<<(std::ostream& out, const Tensor& x);

}  // namespace ff
