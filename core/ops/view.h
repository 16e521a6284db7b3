#pragma once
// Views share storage with their input (no copy); the rest copy. All are differentiable.

#include <vector>

#include "core/tensor/tensor.h"

namespace ff {

// Same elements, new shape; one size may be -1. A view when the strides allow, else a copy.
Tensor reshape(const Tensor& x, Shape shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
// Elements start, start+step, ... < end along dim (negative indices count from the end).
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
// Index `index` of dim, which is removed.
Tensor select(const Tensor& x, int64_t dim, int64_t index);
// Broadcasts size-1 dims (and new leading dims) to `shape` with stride 0; -1 keeps a size.
Tensor expand(const Tensor& x, const Shape& shape);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);

// Copies (differentiable).
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_device(const Tensor& x, Device device);
Tensor to_dtype(const Tensor& x, DType dtype);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);

// dst <- src (broadcast to dst's shape, converting dtype, across devices). Not recorded.
void copy_(Tensor& dst, const Tensor& src);

// Normalises a possibly negative dim for a tensor of rank `rank`.
int64_t wrap_dim(int64_t dim, int64_t rank);
// The broadcast shape of a and b (numpy rules), or an error naming both.
Shape broadcast_shapes(const Shape& a, const Shape& b);

}  // namespace ff
