#pragma once
// The one place where an op meets its kernels: (device, dtype) -> the launcher of the right
// backend, instantiated for the backend's element type.
//
//   dispatch<kernels::kSoftmaxDTypes>("softmax", x, [&]<typename T>(auto exec) {
//     softmax_forward<T>(exec, x.data<T>(), y.data<T>(), rows, D, log);
//   });
//
// The lambda is instantiated only for the (backend, dtype) pairs the kernel family declares
// (kernels/dtype.h: KernelDTypes); T is the backend's element type (ff::BFloat16 on the CPU,
// __nv_bfloat16 on CUDA); exec is kernels::cpu::Exec or kernels::cuda::Exec, and the call,
// written without a namespace, reaches kernels::cpu::softmax_forward or
// kernels::cuda::softmax_forward by argument-dependent lookup (kernels/exec.h). Any other pair
// is one error naming the op, the device and the dtype.
//
// bf16 where a backend has no bf16 kernel: the op computes on f32 copies of its inputs and
// rounds the result (computes_in_f32 below); the casts are differentiable, so gradients come
// back in the inputs' dtypes.

#include <initializer_list>
#include <type_traits>
#include <utility>

#include "core/tensor/tensor.h"
#include "kernels/exec.h"

#ifdef FF_WITH_CUDA
#include "core/cuda/context.h"
#endif

namespace ff {

namespace detail {
[[noreturn]] void throw_no_cuda(const char* op);
[[noreturn]] void throw_no_kernel(const char* op, Device device, DType dtype, DTypeSet supported);

// Calls fn.template operator()<Scalar<D>::type>() for the dtype t when Set has it.
template <DTypeSet Set, template <DType> class Scalar, typename Fn>
void visit_in(const char* op, Device device, DType t, Fn&& fn) {
  switch (t) {
#define FF_DISPATCH_CASE(D)                                                     \
  case DType::D:                                                                \
    if constexpr (Set.has(DType::D)) {                                          \
      fn.template operator()<typename Scalar<DType::D>::type>();                \
      return;                                                                   \
    }                                                                           \
    break;
    FF_DISPATCH_CASE(F32)
    FF_DISPATCH_CASE(F64)
    FF_DISPATCH_CASE(BF16)
    FF_DISPATCH_CASE(I32)
    FF_DISPATCH_CASE(I64)
    FF_DISPATCH_CASE(U8)
#undef FF_DISPATCH_CASE
  }
  throw_no_kernel(op, device, t, Set);
}
}  // namespace detail

// Runs fn.template operator()<T>(exec) on the backend of `like`'s device for `like`'s dtype
// (or for `dtype` when given: ops whose kernel is typed by an output or a second operand).
template <KernelDTypes K, typename Fn>
void dispatch(const char* op, const Tensor& like, DType dtype, Fn&& fn) {
  const Device device = like.device();
  if (device.is_cpu()) {
    detail::visit_in<K.cpu, kernels::HostScalar>(op, device, dtype, [&]<typename T>() {
      fn.template operator()<T>(kernels::cpu::Exec{});
    });
    return;
  }
#ifdef FF_WITH_CUDA
  const kernels::cuda::Exec exec = cuda::exec(device.index);
  detail::visit_in<K.cuda, kernels::DeviceScalar>(op, device, dtype, [&]<typename T>() {
    fn.template operator()<T>(exec);
  });
#else
  detail::throw_no_cuda(op);
#endif
}
template <KernelDTypes K, typename Fn>
void dispatch(const char* op, const Tensor& like, Fn&& fn) {
  dispatch<K>(op, like, like.dtype(), std::forward<Fn>(fn));
}

// Inside a dispatch lambda, for kernels typed by a second dtype (copy's source): calls
// fn.template operator()<S>() with S the element type of `dtype` on the backend of Exec.
template <DTypeSet Set, typename Exec, typename Fn>
void visit_scalar(const char* op, Device device, DType dtype, Fn&& fn) {
  if constexpr (std::is_same_v<Exec, kernels::cpu::Exec>) {
    detail::visit_in<Set, kernels::HostScalar>(op, device, dtype, std::forward<Fn>(fn));
  } else {
    detail::visit_in<Set, kernels::DeviceScalar>(op, device, dtype, std::forward<Fn>(fn));
  }
}

// True when x is bf16 and its device's backend has no bf16 kernel in K (but an f32 one): the
// op then runs as `to_dtype(op(to_dtype(x, F32), ...), BF16)`.
template <KernelDTypes K>
bool computes_in_f32(const Tensor& x) {
  if (x.dtype() != DType::BF16) return false;
  const DTypeSet set = x.device().is_cpu() ? K.cpu : K.cuda;
  return !set.has(DType::BF16) && set.has(DType::F32);
}

// True when K has a kernel for x's device and dtype (ops with a fused kernel on one backend and
// a composition of other ops elsewhere, e.g. conv2d_patch: cuDNN on CUDA, im2col + GEMM on the CPU).
template <KernelDTypes K>
bool has_kernel(const Tensor& x) {
  return (x.device().is_cpu() ? K.cpu : K.cuda).has(x.dtype());
}

// Class or token ids: calls fn.template operator()<I>() with I = int32_t or int64_t.
template <typename Fn>
void visit_index(const char* op, const Tensor& ids, Fn&& fn) {
  if (ids.dtype() == DType::I32) return fn.template operator()<int32_t>();
  if (ids.dtype() == DType::I64) return fn.template operator()<int64_t>();
  throw Error(fmt::format("{}: ids must be int32 or int64, got {}", op, ids.str()));
}

// x itself when contiguous, else a contiguous copy; never recorded (for kernels' inputs).
Tensor contiguous_raw(const Tensor& x);

// A typed pointer, or null for an undefined tensor (optional kernel arguments).
template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Checks that every defined tensor is on the same device (ops never move data implicitly).
void check_same_device(const char* op, std::initializer_list<const Tensor*> tensors);
// Checks that every defined tensor has the same dtype.
void check_same_dtype(const char* op, std::initializer_list<const Tensor*> tensors);

}  // namespace ff
