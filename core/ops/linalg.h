#pragma once
// GEMM-based ops: matmul and linear. Differentiable; f32 and f64, CPU (OpenBLAS) and CUDA
// (cuBLAS). See docs/ops.md, "GEMM and indexing ops".

#include "core/tensor/tensor.h"

namespace ff {

// a (..., M, K) @ b (..., K, N) -> (..., M, N). Both need at least 2 dims; the batch dims
// broadcast with numpy rules. Operands whose last two dims are row-major or the transpose of
// row-major (e.g. a transpose() view) go to the GEMM without a copy; a batched a with a 2-D b
// is one GEMM with the batch folded into M.
Tensor matmul(const Tensor& a, const Tensor& b);

// An activation fused into linear's GEMM (cuBLASLt's epilogue on CUDA, the same loop on the CPU).
enum class Activation { None, ReLU };

// act(x (..., in) @ w^T + b): w is (out, in) as PyTorch stores it, b is (out) or undefined (no
// bias). -> (..., out). One GEMM over the flattened leading dims of x with the bias (and the
// activation) as its epilogue. With ReLU the backward masks the gradient by the output (> 0),
// which is the input's mask, so linear(x, w, b, ReLU) equals relu(linear(x, w, b)) exactly.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), Activation act = Activation::None);

}  // namespace ff
