// Row-major GEMMs on cuBLASLt (column-major): C = op(A) op(B) is computed as
// C^T = op(B)^T op(A)^T, i.e. the operands swap places and M and N swap. The bias of a row-major
// C is then a per-row vector of the column-major D: cuBLASLt's BIAS epilogue.

#include <cublasLt.h>

#include <climits>
#include <type_traits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/gemm.h"

namespace ff::kernels::cuda {
namespace {

template <typename T>
struct LtTypes;
template <>
struct LtTypes<float> {
  static constexpr cudaDataType_t data = CUDA_R_32F, scale = CUDA_R_32F;
};
template <>
struct LtTypes<double> {
  static constexpr cudaDataType_t data = CUDA_R_64F, scale = CUDA_R_64F;
};
template <>
struct LtTypes<__nv_bfloat16> {
  static constexpr cudaDataType_t data = CUDA_R_16BF, scale = CUDA_R_32F;
};

template <typename T>
cublasComputeType_t compute_type(bool allow_tf32) {
  if constexpr (std::is_same_v<T, double>) return CUBLAS_COMPUTE_64F;
  if constexpr (std::is_same_v<T, float>) return allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  return CUBLAS_COMPUTE_32F;  // bf16 operands, f32 accumulation
}

// Owners of the cuBLASLt descriptors of one call.
struct Layout {
  cublasLtMatrixLayout_t handle = nullptr;
  Layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld, int64_t batch, int64_t stride) {
    FF_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&handle, type, uint64_t(rows), uint64_t(cols), ld));
    if (batch > 1) {
      const int32_t count = static_cast<int32_t>(batch);
      FF_CUBLAS_CHECK(
          cublasLtMatrixLayoutSetAttribute(handle, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
      FF_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(handle, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                       sizeof(stride)));
    }
  }
  ~Layout() { cublasLtMatrixLayoutDestroy(handle); }
  Layout(const Layout&) = delete;
  Layout& operator=(const Layout&) = delete;
};

struct MatmulDesc {
  cublasLtMatmulDesc_t handle = nullptr;
  MatmulDesc(cublasComputeType_t compute, cudaDataType_t scale) {
    FF_CUBLAS_CHECK(cublasLtMatmulDescCreate(&handle, compute, scale));
  }
  ~MatmulDesc() { cublasLtMatmulDescDestroy(handle); }
  template <typename V>
  void set(cublasLtMatmulDescAttributes_t attribute, const V& value) {
    FF_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(handle, attribute, &value, sizeof(value)));
  }
  MatmulDesc(const MatmulDesc&) = delete;
  MatmulDesc& operator=(const MatmulDesc&) = delete;
};

struct Preference {
  cublasLtMatmulPreference_t handle = nullptr;
  explicit Preference(size_t workspace_bytes) {
    FF_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&handle));
    FF_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(handle, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                         &workspace_bytes, sizeof(workspace_bytes)));
  }
  ~Preference() { cublasLtMatmulPreferenceDestroy(handle); }
  Preference(const Preference&) = delete;
  Preference& operator=(const Preference&) = delete;
};

}  // namespace

template <typename T>
void gemm(Exec exec, const GemmParams<T>& p) {
  if (p.M == 0 || p.N == 0 || p.batch == 0) return;
  for (int64_t v : {p.M, p.N, p.K, p.lda, p.ldb, p.ldc, p.batch})
    FF_CHECK(v >= 0 && v <= INT_MAX, "gemm: size {} exceeds the cuBLASLt range (M={}, N={}, K={}, batch={})", v,
             p.M, p.N, p.K, p.batch);
  FF_CHECK(exec.cublaslt != nullptr, "gemm: the Exec has no cuBLASLt handle");
  using Types = LtTypes<T>;
  MatmulDesc desc(compute_type<T>(exec.allow_tf32), Types::scale);
  // Column-major roles: the first operand is our B, the second our A.
  const cublasOperation_t op_first = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  desc.set(CUBLASLT_MATMUL_DESC_TRANSA, op_first);
  desc.set(CUBLASLT_MATMUL_DESC_TRANSB, op_second);
  if (p.bias) {
    desc.set(CUBLASLT_MATMUL_DESC_EPILOGUE, p.relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS);
    desc.set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, static_cast<const void*>(p.bias));
    desc.set(CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, Types::data);
    desc.set(CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, int64_t{0});
  } else if (p.relu) {
    desc.set(CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_RELU);
  }
  // Stored shapes in column-major terms: B is (N x K) or (K x N), A is (K x M) or (M x K).
  Layout first(Types::data, p.trans_b ? p.K : p.N, p.trans_b ? p.N : p.K, p.ldb, p.batch, p.stride_b);
  Layout second(Types::data, p.trans_a ? p.M : p.K, p.trans_a ? p.K : p.M, p.lda, p.batch, p.stride_a);
  Layout out(Types::data, p.N, p.M, p.ldc, p.batch, p.stride_c);

  Preference preference(exec.workspace_bytes);
  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  FF_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(exec.cublaslt, desc.handle, first.handle, second.handle, out.handle,
                                                 out.handle, preference.handle, 1, &heuristic, &found));
  FF_CHECK(found > 0, "gemm: cuBLASLt has no algorithm for M={} N={} K={} batch={}", p.M, p.N, p.K, p.batch);
  const compute_t<T> alpha = p.alpha, beta = p.beta;
  FF_CUBLAS_CHECK(cublasLtMatmul(exec.cublaslt, desc.handle, &alpha, p.B, first.handle, p.A, second.handle, &beta, p.C,
                                 out.handle, p.C, out.handle, &heuristic.algo, exec.workspace, exec.workspace_bytes,
                                 exec.stream));
}

template void gemm<float>(Exec, const GemmParams<float>&);
template void gemm<double>(Exec, const GemmParams<double>&);
template void gemm<__nv_bfloat16>(Exec, const GemmParams<__nv_bfloat16>&);

}  // namespace ff::kernels::cuda
