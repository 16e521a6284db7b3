#include "core/ops/view.h"

#include <numeric>

#include "core/autograd/autograd.h"
#include "core/ops/autocast.h"
#include "core/ops/dispatch.h"
#include "core/ops/reduce.h"
#include "kernels/elementwise.h"

#ifdef FF_WITH_CUDA
#include "kernels/cuda/cuda_check.h"
#endif

namespace ff {

int64_t wrap_dim(int64_t dim, int64_t rank) {
  FF_CHECK(dim >= -rank && dim < std::max<int64_t>(rank, 1), "dim {} out of range for rank {}", dim, rank);
  return dim < 0 ? dim + rank : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    FF_CHECK(da == db || da == 1 || db == 1, "shapes {} and {} do not broadcast", shape_str(a), shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

Tensor view_of(const Tensor& x, Shape shape, Shape strides, int64_t offset) {
  return Tensor::make_view(x.storage(), std::move(shape), std::move(strides), offset, x.dtype());
}

// Strides of x broadcast to `shape` (0 on broadcast dims), without autograd.
Shape broadcast_strides(const Tensor& x, const Shape& shape) {
  FF_CHECK(static_cast<size_t>(x.dim()) <= shape.size(), "cannot broadcast {} to {}", x.str(), shape_str(shape));
  Shape strides(shape.size(), 0);
  size_t lead = shape.size() - x.dim();
  for (size_t d = 0; d < static_cast<size_t>(x.dim()); ++d) {
    int64_t s = x.shape()[d];
    FF_CHECK(s == shape[lead + d] || s == 1, "cannot broadcast {} to {}", x.str(), shape_str(shape));
    strides[lead + d] = s == 1 ? 0 : x.strides()[d];
  }
  return strides;
}

void copy_same_device(Tensor& dst, const Tensor& src) {
  auto ix = kernels::make_indexer<2>(dst.shape(), {dst.strides(), broadcast_strides(src, dst.shape())});
  dispatch<kernels::kCopyDTypes>("copy", dst, [&]<typename D>(auto exec) {
    visit_scalar<kEveryDType, decltype(exec)>("copy", src.device(), src.dtype(), [&]<typename S>() {
      copy<D, S>(exec, ix, dst.data<D>(), src.data<S>());
    });
  });
}

}  // namespace

void copy_(Tensor& dst, const Tensor& src) {
  if (dst.device() == src.device()) {
    copy_same_device(dst, src);
    return;
  }
#ifdef FF_WITH_CUDA
  // Stage through a contiguous buffer of src's dtype on dst's device.
  Tensor packed = src.is_contiguous() ? src.detach() : contiguous(src.detach());
  Tensor staged = Tensor::empty(packed.shape(), packed.dtype(), dst.device());
  size_t bytes = packed.numel() * dtype_size(packed.dtype());
  if (dst.device().is_cuda() && src.device().is_cuda()) {
    FF_CUDA_CHECK(cudaMemcpyPeerAsync(staged.raw_data(), dst.device().index, packed.raw_data(),
                                      src.device().index, bytes, cuda::stream(dst.device().index)));
  } else {
    const Tensor& gpu = dst.device().is_cuda() ? dst : src;
    const cudaStream_t stream = cuda::stream(gpu.device().index);
    FF_CUDA_CHECK(cudaMemcpyAsync(staged.raw_data(), packed.raw_data(), bytes, cudaMemcpyDefault, stream));
    if (dst.device().is_cpu()) {
      cuda::count_host_sync();
      FF_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
  }
  copy_same_device(dst, staged);
#else
  detail::throw_no_cuda("copy");
#endif
}

Tensor reshape(const Tensor& x, Shape shape) {
  int64_t known = 1, infer = -1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      FF_CHECK(infer < 0, "reshape {}: more than one -1", shape_str(shape));
      infer = static_cast<int64_t>(d);
    } else {
      known *= shape[d];
    }
  }
  if (infer >= 0) {
    FF_CHECK(known > 0 && x.numel() % known == 0, "cannot reshape {} to {}", x.str(), shape_str(shape));
    shape[infer] = x.numel() / known;
  }
  FF_CHECK(shape_numel(shape) == x.numel(), "cannot reshape {} to {}", x.str(), shape_str(shape));
  Tensor base = x.is_contiguous() ? x : contiguous(x);
  Tensor out = view_of(base, shape, contiguous_strides(shape), base.offset());
  Shape in_shape = x.shape();
  record_op(out, "reshape", {base}, [in_shape](const Tensor& g, const std::vector<bool>&) {
    return Grads{reshape(g, in_shape)};
  });
  return out;
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  start_dim = wrap_dim(start_dim, x.dim());
  end_dim = wrap_dim(end_dim, x.dim());
  Shape shape(x.shape().begin(), x.shape().begin() + start_dim);
  int64_t merged = 1;
  for (int64_t d = start_dim; d <= end_dim; ++d) merged *= x.shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + end_dim + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  FF_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "permute of {} needs {} dims", x.str(), x.dim());
  Shape shape(dims.size()), strides(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], x.dim());
    FF_CHECK(inverse[d] < 0, "permute: dim {} repeated", d);
    inverse[d] = static_cast<int64_t>(i);
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  Tensor out = view_of(x, shape, strides, x.offset());
  record_op(out, "permute", {x}, [inverse](const Tensor& g, const std::vector<bool>&) {
    return Grads{permute(g, inverse)};
  });
  return out;
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  std::vector<int64_t> dims(x.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[wrap_dim(dim0, x.dim())], dims[wrap_dim(dim1, x.dim())]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  dim = wrap_dim(dim, x.dim());
  int64_t n = x.shape()[dim];
  FF_CHECK(step > 0, "slice step must be positive, got {}", step);
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = x.shape(), strides = x.strides();
  shape[dim] = (end - start + step - 1) / step;
  strides[dim] *= step;
  Tensor out = view_of(x, shape, strides, x.offset() + start * x.strides()[dim]);
  Shape in_shape = x.shape();
  DType dtype = x.dtype();
  Device device = x.device();
  record_op(out, "slice", {x}, [=](const Tensor& g, const std::vector<bool>&) {
    Tensor gx = Tensor::zeros(in_shape, dtype, device);
    Tensor window = slice(gx, dim, start, end, step);
    copy_(window, g);
    return Grads{gx};
  });
  // backward() adds the gradient into the window of x's summed gradient instead (the closure
  // above is what it means).
  set_gradient_window(out, {dim, start, end, step});
  return out;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  dim = wrap_dim(dim, x.dim());
  FF_CHECK(start >= 0 && length >= 0 && start + length <= x.shape()[dim],
           "narrow({}, {}, {}) out of range for {}", dim, start, length, x.str());
  return slice(x, dim, start, start + length);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  dim = wrap_dim(dim, x.dim());
  int64_t n = x.shape()[dim];
  FF_CHECK(index >= -n && index < n, "select index {} out of range for dim {} of {}", index, dim, x.str());
  if (index < 0) index += n;
  return squeeze(slice(x, dim, index, index + 1), dim);
}

Tensor expand(const Tensor& x, const Shape& shape_in) {
  Shape shape = shape_in;
  size_t lead = shape.size() - x.dim();
  FF_CHECK(shape.size() >= static_cast<size_t>(x.dim()), "cannot expand {} to {}", x.str(), shape_str(shape));
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] == -1) shape[d] = x.shape()[d - lead];
  Tensor out = view_of(x, shape, broadcast_strides(x, shape), x.offset());
  Shape in_shape = x.shape();
  record_op(out, "expand", {x}, [in_shape](const Tensor& g, const std::vector<bool>&) {
    return Grads{sum_to(g, in_shape)};
  });
  return out;
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim() + 1);
  Shape shape = x.shape(), strides = x.strides();
  int64_t stride = dim < x.dim() ? x.strides()[dim] * x.shape()[dim] : 1;
  shape.insert(shape.begin() + dim, 1);
  strides.insert(strides.begin() + dim, stride);
  Tensor out = view_of(x, shape, strides, x.offset());
  record_op(out, "unsqueeze", {x}, [dim](const Tensor& g, const std::vector<bool>&) {
    return Grads{squeeze(g, dim)};
  });
  return out;
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim());
  FF_CHECK(x.shape()[dim] == 1, "squeeze of dim {} of {}: size is not 1", dim, x.str());
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  Tensor out = view_of(x, shape, strides, x.offset());
  record_op(out, "squeeze", {x}, [dim](const Tensor& g, const std::vector<bool>&) {
    return Grads{unsqueeze(g, dim)};
  });
  return out;
}

Tensor clone(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_(out, x);
  record_op(out, "clone", {x}, [](const Tensor& g, const std::vector<bool>&) { return Grads{g}; });
  return out;
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }

Tensor to_device(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), device);
  copy_(out, x);
  Device from = x.device();
  record_op(out, "to_device", {x}, [from](const Tensor& g, const std::vector<bool>&) {
    return Grads{to_device(g, from)};
  });
  return out;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  copy_(out, x);
  DType from = x.dtype();
  if (is_floating(from) && is_floating(dtype)) {
    record_op(out, "to_dtype", {x}, [from](const Tensor& g, const std::vector<bool>&) {
      return Grads{to_dtype(g, from)};
    });
  }
  return out;
}

Tensor concat(const std::vector<Tensor>& xs_in, int64_t dim) {
  FF_CHECK(!xs_in.empty(), "concat of no tensors");
  const std::vector<Tensor> xs = promote(xs_in);  // floating dtypes meet in the widest, as binary ops
  const Tensor& first = xs[0];
  dim = wrap_dim(dim, first.dim());
  Shape shape = first.shape();
  shape[dim] = 0;
  std::vector<int64_t> sizes;
  for (const Tensor& x : xs) {
    FF_CHECK(x.dim() == first.dim() && x.dtype() == first.dtype() && x.device() == first.device(),
             "concat: {} does not match {}", x.str(), first.str());
    for (int64_t d = 0; d < x.dim(); ++d)
      FF_CHECK(d == dim || x.shape()[d] == first.shape()[d], "concat along {}: {} does not match {}", dim,
               x.str(), first.str());
    sizes.push_back(x.shape()[dim]);
    shape[dim] += x.shape()[dim];
  }
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  int64_t start = 0;
  for (const Tensor& x : xs) {
    Tensor window = slice(out, dim, start, start + x.shape()[dim]);
    copy_(window, x);
    start += x.shape()[dim];
  }
  record_op(out, "concat", xs, [dim, sizes](const Tensor& g, const std::vector<bool>& needs) {
    Grads grads(sizes.size());
    int64_t begin = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (needs[i]) grads[i] = narrow(g, dim, begin, sizes[i]);
      begin += sizes[i];
    }
    return grads;
  });
  return out;
}

}  // namespace ff
