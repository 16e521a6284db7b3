#include "core/ops/reduce.h"

#include <algorithm>

#include "core/autograd/autograd.h"
#include "core/ops/autocast.h"
#include "core/ops/dispatch.h"
#include "core/ops/elementwise.h"
#include "core/ops/view.h"
#include "kernels/reduce.h"

namespace ff {
namespace {

// Sums a contiguous tensor over the adjacent dims [first, last]; the dims stay with size 1.
Tensor sum_adjacent(const Tensor& x, int64_t first, int64_t last) {
  int64_t outer = 1, R = 1, inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    int64_t s = x.shape()[d];
    (d < first ? outer : d <= last ? R : inner) *= s;
  }
  Shape shape = x.shape();
  for (int64_t d = first; d <= last; ++d) shape[d] = 1;
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  dispatch<kernels::kSumDTypes>("sum", x, [&]<typename T>(auto exec) {
    sum_axis<T>(exec, x.data<T>(), y.data<T>(), outer, R, inner);
  });
  return y;
}

// Sum without autograd over `reduce` (a sorted set of dims), keeping them as size 1.
Tensor sum_keepdim_raw(const Tensor& x, const std::vector<int64_t>& reduce) {
  Tensor cur = contiguous_raw(x);
  // Reduce runs of adjacent dims, last run first so earlier dim indices stay valid.
  for (size_t i = reduce.size(); i > 0;) {
    size_t j = i - 1;
    while (j > 0 && reduce[j - 1] == reduce[j] - 1) --j;
    cur = sum_adjacent(cur, reduce[j], reduce[i - 1]);
    i = j;
  }
  return cur;
}

std::vector<int64_t> normalise_dims(const Tensor& x, std::vector<int64_t> dims) {
  if (dims.empty()) {
    dims.resize(x.dim());
    for (int64_t d = 0; d < x.dim(); ++d) dims[d] = d;
  }
  for (int64_t& d : dims) d = wrap_dim(d, x.dim());
  std::sort(dims.begin(), dims.end());
  FF_CHECK(std::adjacent_find(dims.begin(), dims.end()) == dims.end(), "sum over a repeated dim of {}", x.str());
  return dims;
}

Shape drop_dims(const Shape& shape, const std::vector<int64_t>& dims) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) out.push_back(shape[d]);
  return out;
}

}  // namespace

Tensor sum(const Tensor& x_in, std::vector<int64_t> dims, bool keepdim) {
  const Tensor x = autocast_f32(x_in);
  dims = normalise_dims(x, std::move(dims));
  Tensor kept = sum_keepdim_raw(x.detach(), dims);
  Shape kept_shape = kept.shape();
  Tensor out = keepdim ? kept : Tensor::make_view(kept.storage(), drop_dims(kept_shape, dims),
                                                   contiguous_strides(drop_dims(kept_shape, dims)),
                                                   kept.offset(), kept.dtype());
  record_op(out, "sum", {x}, [kept_shape, in_shape = x.shape()](const Tensor& g, const std::vector<bool>&) {
    return Grads{contiguous(expand(reshape(g, kept_shape), in_shape))};
  });
  return out;
}

Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  dims = normalise_dims(x, std::move(dims));
  int64_t count = 1;
  for (int64_t d : dims) count *= x.shape()[d];
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(std::max<int64_t>(count, 1)));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  FF_CHECK(static_cast<size_t>(x.dim()) >= shape.size(), "sum_to: {} has fewer dims than {}", x.str(),
           shape_str(shape));
  size_t lead = x.dim() - shape.size();
  std::vector<int64_t> dims;
  for (size_t d = 0; d < static_cast<size_t>(x.dim()); ++d) {
    if (d < lead || (shape[d - lead] == 1 && x.shape()[d] != 1)) dims.push_back(static_cast<int64_t>(d));
  }
  Tensor s = dims.empty() ? x : sum(x, dims, true);
  return reshape(s, shape);
}

}  // namespace ff
