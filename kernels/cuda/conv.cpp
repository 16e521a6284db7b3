// The patch convolution on cuDNN's convolution API (cudnnConvolutionForward / BackwardData /
// BackwardFilter / BackwardBias). cuDNN 9 marks that API deprecated in favour of its graph API,
// but still ships it, and it is the direct way to run one plain convolution: the warnings are
// silenced for this file only.

#include <climits>
#include <type_traits>

#include "kernels/conv.h"
#include "kernels/cuda/cuda_check.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace ff::kernels::cuda {
namespace {

template <typename T>
struct CudnnTypes;
template <>
struct CudnnTypes<float> {
  static constexpr cudnnDataType_t data = CUDNN_DATA_FLOAT, compute = CUDNN_DATA_FLOAT;
  using Scale = float;
};
template <>
struct CudnnTypes<double> {
  static constexpr cudnnDataType_t data = CUDNN_DATA_DOUBLE, compute = CUDNN_DATA_DOUBLE;
  using Scale = double;
};
template <>
struct CudnnTypes<__nv_bfloat16> {
  static constexpr cudnnDataType_t data = CUDNN_DATA_BFLOAT16, compute = CUDNN_DATA_FLOAT;
  using Scale = float;
};

int to_int(int64_t v) {
  FF_CHECK(v >= 0 && v <= INT_MAX, "conv2d_patch: size {} exceeds cuDNN's int range", v);
  return static_cast<int>(v);
}

// Owners of the descriptors of one call.
struct Descriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  template <typename T>
  explicit Descriptors(const ConvPatchParams<T>& p) {
    using Types = CudnnTypes<T>;
    FF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    FF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    FF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias));
    FF_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    FF_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    FF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, Types::data, to_int(p.B), to_int(p.C),
                                              to_int(p.H), to_int(p.W)));
    FF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, Types::data, to_int(p.B), to_int(p.E),
                                              to_int(p.H / p.P), to_int(p.W / p.P)));
    FF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, Types::data, 1, to_int(p.E), 1, 1));
    FF_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, Types::data, CUDNN_TENSOR_NCHW, to_int(p.E), to_int(p.C),
                                              to_int(p.P), to_int(p.P)));
    FF_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, 0, 0, to_int(p.P), to_int(p.P), 1, 1,
                                                   CUDNN_CROSS_CORRELATION, Types::compute));
    // Tensor cores for bf16 (and TF32 is not allowed to change f32 results).
    FF_CUDNN_CHECK(cudnnSetConvolutionMathType(
        conv, std::is_same_v<T, __nv_bfloat16> ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  }
  ~Descriptors() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(bias);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(x);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
};

// The first algorithm of cuDNN's heuristic ranking whose workspace fits the Exec's.
template <typename Perf, typename Get>
auto pick(Get&& get, size_t workspace_bytes, const char* what) {
  constexpr int kMax = 16;
  Perf perf[kMax];
  int found = 0;
  FF_CUDNN_CHECK(get(kMax, &found, perf));
  for (int i = 0; i < found; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= workspace_bytes) return perf[i].algo;
  throw Error(std::string("conv2d_patch: cuDNN has no ") + what + " algorithm within the workspace");
}

void check(Exec exec) { FF_CHECK(exec.cudnn != nullptr, "conv2d_patch: the Exec has no cuDNN handle"); }

}  // namespace

template <typename T>
void conv2d_patch_forward(Exec exec, const ConvPatchParams<T>& p) {
  check(exec);
  Descriptors d(p);
  const typename CudnnTypes<T>::Scale one = 1, zero = 0;
  const auto algo = pick<cudnnConvolutionFwdAlgoPerf_t>(
      [&](int n, int* found, cudnnConvolutionFwdAlgoPerf_t* perf) {
        return cudnnGetConvolutionForwardAlgorithm_v7(exec.cudnn, d.x, d.w, d.conv, d.y, n, found, perf);
      },
      exec.workspace_bytes, "forward");
  FF_CUDNN_CHECK(cudnnConvolutionForward(exec.cudnn, &one, d.x, p.x, d.w, p.w, d.conv, algo, exec.workspace,
                                         exec.workspace_bytes, &zero, d.y, p.y));
  if (p.b) FF_CUDNN_CHECK(cudnnAddTensor(exec.cudnn, &one, d.bias, p.b, &one, d.y, p.y));
}

template <typename T>
void conv2d_patch_backward(Exec exec, const ConvPatchParams<T>& p) {
  check(exec);
  Descriptors d(p);
  const typename CudnnTypes<T>::Scale one = 1, zero = 0;
  if (p.dx) {
    const auto algo = pick<cudnnConvolutionBwdDataAlgoPerf_t>(
        [&](int n, int* found, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
          return cudnnGetConvolutionBackwardDataAlgorithm_v7(exec.cudnn, d.w, d.y, d.conv, d.x, n, found, perf);
        },
        exec.workspace_bytes, "backward-data");
    FF_CUDNN_CHECK(cudnnConvolutionBackwardData(exec.cudnn, &one, d.w, p.w, d.y, p.dy, d.conv, algo, exec.workspace,
                                                exec.workspace_bytes, &zero, d.x, p.dx));
  }
  if (p.dw) {
    const auto algo = pick<cudnnConvolutionBwdFilterAlgoPerf_t>(
        [&](int n, int* found, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
          return cudnnGetConvolutionBackwardFilterAlgorithm_v7(exec.cudnn, d.x, d.y, d.conv, d.w, n, found, perf);
        },
        exec.workspace_bytes, "backward-filter");
    FF_CUDNN_CHECK(cudnnConvolutionBackwardFilter(exec.cudnn, &one, d.x, p.x, d.y, p.dy, d.conv, algo,
                                                  exec.workspace, exec.workspace_bytes, &zero, d.w, p.dw));
  }
  if (p.db) FF_CUDNN_CHECK(cudnnConvolutionBackwardBias(exec.cudnn, &one, d.y, p.dy, &zero, d.bias, p.db));
}

template void conv2d_patch_forward<float>(Exec, const ConvPatchParams<float>&);
template void conv2d_patch_forward<double>(Exec, const ConvPatchParams<double>&);
template void conv2d_patch_forward<__nv_bfloat16>(Exec, const ConvPatchParams<__nv_bfloat16>&);
template void conv2d_patch_backward<float>(Exec, const ConvPatchParams<float>&);
template void conv2d_patch_backward<double>(Exec, const ConvPatchParams<double>&);
template void conv2d_patch_backward<__nv_bfloat16>(Exec, const ConvPatchParams<__nv_bfloat16>&);

}  // namespace ff::kernels::cuda
