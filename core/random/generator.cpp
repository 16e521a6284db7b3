#include "core/random/generator.h"

#include "core/ops/dispatch.h"
#include "kernels/random.h"

namespace ff {
namespace {

// Calls fill(pointer) for f32/f64 on the CPU, or cuda_fill(float pointer, stream) on CUDA.
template <typename CpuFill, typename CudaFill>
void fill_random(Tensor& x, CpuFill cpu_fill, CudaFill cuda_fill) {
  FF_CHECK(x.is_contiguous(), "random fill needs a contiguous tensor, got {}", x.str());
  if (x.device().is_cpu()) {
    visit_float(x.dtype(), [&]<typename T>() { cpu_fill(x.data<T>()); });
    return;
  }
  FF_CHECK(x.dtype() == DType::F32, "random fill on CUDA needs f32, got {}", x.str());
  FF_CUDA_CALL(cuda_fill(x.data<float>(), FF_STREAM(x)));
}

}  // namespace

void uniform_(Tensor& x, double lo, double hi, Generator& gen) {
  auto s = gen.next();
  int64_t n = x.numel();
  fill_random(
      x, [&](auto* p) { kernels::cpu::uniform(p, n, float(lo), float(hi), s); },
      [&](float* p, auto stream) { FF_CUDA_CALL(kernels::cuda::uniform(p, n, float(lo), float(hi), s, stream)); });
}

void normal_(Tensor& x, double mean, double std, Generator& gen) {
  auto s = gen.next();
  int64_t n = x.numel();
  fill_random(
      x, [&](auto* p) { kernels::cpu::normal(p, n, float(mean), float(std), s); },
      [&](float* p, auto stream) { FF_CUDA_CALL(kernels::cuda::normal(p, n, float(mean), float(std), s, stream)); });
}

void trunc_normal_(Tensor& x, double mean, double std, double a, double b, Generator& gen) {
  auto s = gen.next();
  int64_t n = x.numel();
  fill_random(
      x, [&](auto* p) { kernels::cpu::truncated_normal(p, n, float(mean), float(std), float(a), float(b), s); },
      [&](float* p, auto stream) {
        FF_CUDA_CALL(kernels::cuda::truncated_normal(p, n, float(mean), float(std), float(a), float(b), s, stream));
      });
}

}  // namespace ff
