#include "core/tensor/tensor.h"

#include <sstream>

#include "core/autograd/autograd.h"
#include "core/ops/dispatch.h"
#include "core/ops/view.h"
#include "core/ops/elementwise.h"

namespace ff {

std::string shape_str(const Shape& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

Tensor Tensor::make_view(std::shared_ptr<Storage> storage, Shape shape, Shape strides,
                         int64_t offset, DType dtype) {
  FF_CHECK(shape.size() == strides.size(), "shape {} and strides {} differ in rank",
           shape_str(shape), shape_str(strides));
  Tensor t;
  t.storage_ = std::move(storage);
  t.shape_ = std::move(shape);
  t.strides_ = std::move(strides);
  t.offset_ = offset;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) FF_CHECK(s >= 0, "negative size in shape {}", shape_str(shape));
  auto storage = std::make_shared<Storage>(shape_numel(shape) * dtype_size(dtype), device);
  return make_view(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_(t, value);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  FF_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
           "{} values for shape {}", values.size(), shape_str(shape));
  Tensor host = empty(shape, dtype_of<T>, Device::cpu());
  std::copy(values.begin(), values.end(), host.data<T>());
  return device.is_cpu() ? host : to_device(host, device);
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  FF_CHECK(d >= -n && d < n, "dim {} out of range for {}", d, str());
  return shape_[d < 0 ? d + n : d];
}

int64_t Tensor::stride(int64_t d) const {
  int64_t n = dim();
  FF_CHECK(d >= -n && d < n, "dim {} out of range for {}", d, str());
  return strides_[d < 0 ? d + n : d];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t d = shape_.size(); d-- > 0;) {
    if (shape_[d] == 1) continue;
    if (strides_[d] != expected) return false;
    expected *= shape_[d];
  }
  return true;
}

void* Tensor::raw_data() const {
  FF_CHECK(defined(), "access to an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_);
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return fmt::format("{}{} {}", dtype_name(dtype_), shape_str(shape_), device().str());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = contiguous(to_dtype(to_device(detach(), Device::cpu()), dtype_of<T>));
  const T* p = host.data<T>();
  return std::vector<T>(p, p + host.numel());
}

double Tensor::item() const {
  FF_CHECK(numel() == 1, "item() of a tensor with {} elements ({})", numel(), str());
  return to_vector<double>()[0];
}

// ---- autograd accessors ----

bool Tensor::requires_grad() const { return autograd_ && autograd_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool value) {
  FF_CHECK(!autograd_ || !autograd_->grad_fn, "set_requires_grad on a non-leaf tensor");
  FF_CHECK(!value || is_floating(dtype_), "only floating tensors can require grad ({})", str());
  if (!autograd_) autograd_ = std::make_shared<AutogradMeta>();
  autograd_->requires_grad = value;
  return *this;
}

bool Tensor::is_leaf() const { return !autograd_ || !autograd_->grad_fn; }

Tensor Tensor::grad() const { return autograd_ ? autograd_->grad : Tensor(); }

void Tensor::set_grad(const Tensor& grad) const {
  FF_CHECK(autograd_, "set_grad on a tensor that does not require grad");
  autograd_->grad = grad;
}

std::shared_ptr<Node> Tensor::grad_fn() const { return autograd_ ? autograd_->grad_fn : nullptr; }

Tensor Tensor::detach() const {
  Tensor t = *this;
  t.autograd_.reset();
  return t;
}

int64_t Tensor::add_grad_ready_hook(std::function<void(const Tensor&)> hook) const {
  FF_CHECK(requires_grad() && is_leaf(), "grad-ready hooks go on leaves that require grad");
  const int64_t id = autograd_->next_hook_id++;
  autograd_->grad_ready_hooks.emplace_back(id, std::move(hook));
  return id;
}

void Tensor::remove_grad_ready_hook(int64_t id) const {
  FF_CHECK(autograd_, "remove_grad_ready_hook on a tensor without autograd state");
  auto& hooks = autograd_->grad_ready_hooks;
  std::erase_if(hooks, [id](const auto& entry) { return entry.first == id; });
}

void Tensor::set_grad_buffer(const Tensor& buffer) const {
  FF_CHECK(requires_grad() && is_leaf(), "gradient buffers go on leaves that require grad ({})", str());
  FF_CHECK(!buffer.defined() || (buffer.shape() == shape_ && buffer.dtype() == dtype_ &&
                                 buffer.device() == device() && buffer.is_contiguous()),
           "gradient buffer {} does not match the leaf {} (same shape, dtype, device; contiguous)", buffer.str(), str());
  autograd_->grad_buffer = buffer;
}

#define FF_INSTANTIATE(T)                                                                        \
  template Tensor Tensor::from_vector<T>(const std::vector<T>&, const Shape&, Device);           \
  template std::vector<T> Tensor::to_vector<T>() const;
FF_INSTANTIATE(float)
FF_INSTANTIATE(double)
FF_INSTANTIATE(BFloat16)
FF_INSTANTIATE(int32_t)
FF_INSTANTIATE(int64_t)
FF_INSTANTIATE(uint8_t)
#undef FF_INSTANTIATE

}  // namespace ff
