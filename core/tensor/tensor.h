#pragma once
// Tensor: shared storage + shape + strides + offset + dtype + device, and an optional
// autograd record. Views (reshape, transpose, slice, ...) share storage. Ops are free
// functions in core/ops/; this class only holds what every op needs to read.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor/device.h"
#include "core/tensor/dtype.h"
#include "core/tensor/storage.h"

namespace ff {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);
int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

struct AutogradMeta;
struct Node;

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false

  // ---- construction (no autograd history) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
                     Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::F32, Device device = Device::cpu());
  // Copies host values into a new tensor of dtype_of<T> on `device`.
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            Device device = Device::cpu());
  // A view on existing storage.
  static Tensor make_view(std::shared_ptr<Storage> storage, Shape shape, Shape strides,
                          int64_t offset, DType dtype);

  // ---- metadata ----
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;    // negative d counts from the end
  int64_t stride(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  std::string str() const;  // "f32[2, 3] cpu"

  // Typed pointer to the first element (checks the dtype).
  template <typename T>
  T* data() const {
    FF_CHECK(dtype_ == dtype_of<T>, "tensor is {}, accessed as {}", dtype_name(dtype_),
             dtype_name(dtype_of<T>));
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;

  // ---- host access (copies; synchronises with the device) ----
  template <typename T>
  std::vector<T> to_vector() const;  // converts to T, any layout
  double item() const;               // the single element as double

  // ---- autograd ----
  bool requires_grad() const;
  // Marks a leaf as requiring a gradient (parameters). Returns *this.
  Tensor& set_requires_grad(bool value);
  bool is_leaf() const;
  // The accumulated gradient of a leaf (undefined before any backward).
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  // Computes gradients of this tensor (a scalar unless `grad` is given) with respect to every
  // leaf that requires grad. Saved tensors are released as the walk goes unless retain_graph.
  void backward(const Tensor& grad, bool retain_graph = false) const;
  void backward() const { backward(Tensor()); }
  // Same storage, no history.
  Tensor detach() const;
  const std::shared_ptr<AutogradMeta>& autograd_meta() const { return autograd_; }
  std::shared_ptr<Node> grad_fn() const;
  // Called once per backward when this leaf's gradient is complete (all contributions added):
  // data-parallel training starts reducing a bucket as soon as its gradients are ready. A leaf
  // that receives no gradient in a backward does not fire. Returns an id for removal.
  int64_t add_grad_ready_hook(std::function<void(const Tensor& grad)> hook) const;
  void remove_grad_ready_hook(int64_t id) const;
  // Accumulate this leaf's gradients in place into `buffer` (same shape, dtype and device,
  // contiguous; typically a view into a flat bucket), or, undefined, into fresh allocations
  // again. The current gradient is left as it is.
  void set_grad_buffer(const Tensor& buffer) const;
  void set_autograd_meta(std::shared_ptr<AutogradMeta> meta) { autograd_ = std::move(meta); }

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Shape strides_;  // in elements
  int64_t offset_ = 0;  // in elements
  DType dtype_ = DType::F32;
  std::shared_ptr<AutogradMeta> autograd_;
};

}  // namespace ff
