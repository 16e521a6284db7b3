#include "core/ops/linalg.h"

#include <algorithm>

#include "core/autograd/autograd.h"
#include "core/ops/dispatch.h"
#include "core/ops/elementwise.h"
#include "kernels/gemm.h"

#ifdef FF_WITH_CUDA
#include "core/cuda/context.h"
#endif
#include "core/ops/reduce.h"
#include "core/ops/view.h"

namespace ff {
namespace {

// ---- raw views and copies (no autograd) ----------------------------------------------------

Tensor view_raw(const Tensor& x, const Shape& shape) {  // x contiguous
  return Tensor::make_view(x.storage(), shape, contiguous_strides(shape), x.offset(), x.dtype());
}

Tensor contiguous_raw(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_(out, x);
  return out;
}

// The last two dims swapped.
Tensor mT_raw(const Tensor& x) {
  Shape shape = x.shape(), strides = x.strides();
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  std::swap(strides[strides.size() - 1], strides[strides.size() - 2]);
  return Tensor::make_view(x.storage(), shape, strides, x.offset(), x.dtype());
}

// x broadcast to `shape` (numpy rules; broadcast dims get stride 0).
Tensor expand_raw(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  Shape strides(shape.size(), 0);
  size_t lead = shape.size() - x.dim();
  for (size_t d = 0; d < static_cast<size_t>(x.dim()); ++d)
    strides[lead + d] = x.shape()[d] == 1 && shape[lead + d] != 1 ? 0 : x.strides()[d];
  return Tensor::make_view(x.storage(), shape, strides, x.offset(), x.dtype());
}

// x (..., cols) as a (rows, cols) matrix: a view when the leading dims collapse to one stride
// (any last-dim stride: the GEMM operand check decides), else a contiguous copy.
Tensor as_rows_raw(const Tensor& x, int64_t rows, int64_t cols) {
  if (x.dim() == 2) return x;
  int64_t row_stride = -1, expected = -1;  // row_stride: of the innermost leading dim of size > 1
  bool collapses = true;
  for (int64_t d = x.dim() - 2; d >= 0; --d) {
    int64_t n = x.shape()[d], s = x.strides()[d];
    if (n == 1) continue;
    if (row_stride < 0) {
      row_stride = s;
    } else if (s != expected) {
      collapses = false;
      break;
    }
    expected = s * n;
  }
  if (!collapses) {
    Tensor c = contiguous_raw(x);
    return Tensor::make_view(c.storage(), {rows, cols}, {cols, 1}, c.offset(), c.dtype());
  }
  if (row_stride < 0) row_stride = cols;  // at most one row
  int64_t col_stride = x.dim() > 0 ? x.strides().back() : 1;
  return Tensor::make_view(x.storage(), {rows, cols}, {row_stride, col_stride}, x.offset(), x.dtype());
}

// ---- GEMM dispatch ------------------------------------------------------------------------

// The last two dims of a tensor as a BLAS operand: row-major (trans = false) or the transpose
// of a row-major matrix (trans = true), with leading dimension ld; plus the element offset of
// every batch index (the dims before the last two, in row-major order).
struct Operand {
  Tensor t;
  bool trans = false;
  int64_t ld = 1;
  std::vector<int64_t> offsets;
};

bool blas_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc, bool* trans, int64_t* ld) {
  if ((cols == 1 || sc == 1) && (rows == 1 || sr >= std::max<int64_t>(cols, 1))) {
    *trans = false;
    *ld = rows == 1 ? std::max<int64_t>(cols, 1) : sr;
    return true;
  }
  if ((rows == 1 || sr == 1) && (cols == 1 || sc >= std::max<int64_t>(rows, 1))) {
    *trans = true;
    *ld = cols == 1 ? std::max<int64_t>(rows, 1) : sc;
    return true;
  }
  return false;
}

Operand make_operand(const Tensor& x) {
  Operand op;
  op.t = x;
  if (!blas_layout(x.size(-2), x.size(-1), x.stride(-2), x.stride(-1), &op.trans, &op.ld)) {
    op.t = contiguous_raw(x);  // neither layout: pack it (copies a broadcast batch too)
    blas_layout(x.size(-2), x.size(-1), op.t.stride(-2), op.t.stride(-1), &op.trans, &op.ld);
  }
  const Tensor& t = op.t;
  int64_t nb = shape_numel(Shape(t.shape().begin(), t.shape().end() - 2));
  op.offsets.assign(static_cast<size_t>(nb), 0);
  int64_t block = 1;  // walk batch dims from the innermost
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    int64_t n = t.shape()[d], s = t.strides()[d];
    for (int64_t i = 0; i < nb; ++i) op.offsets[i] += ((i / block) % n) * s;
    block *= n;
  }
  return op;
}

// True (and the step) when offsets form an arithmetic progression.
bool uniform_step(const std::vector<int64_t>& offsets, int64_t* step) {
  *step = offsets.size() > 1 ? offsets[1] - offsets[0] : 0;
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] - offsets[i - 1] != *step) return false;
  return true;
}

template <typename T>
void run_gemm(Device device, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda,
              int64_t sa, const T* B, int64_t ldb, int64_t sb, T beta, T* C, int64_t ldc, int64_t sc,
              int64_t batch) {
  if (batch <= 0 || M == 0 || N == 0) return;
  if (device.is_cpu()) {
    if (batch == 1) {
      kernels::cpu::gemm<T>(ta, tb, M, N, K, T(1), A, lda, B, ldb, beta, C, ldc);
    } else {
      kernels::cpu::gemm_strided_batched<T>(ta, tb, M, N, K, T(1), A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
    }
  } else {
    FF_CUDA_CALL(batch == 1
                     ? kernels::cuda::gemm<T>(cuda::cublas_handle(device.index), ta, tb, M, N, K, T(1), A, lda, B,
                                              ldb, beta, C, ldc)
                     : kernels::cuda::gemm_strided_batched<T>(cuda::cublas_handle(device.index), ta, tb, M, N, K,
                                                              T(1), A, lda, sa, B, ldb, sb, beta, C, ldc, sc,
                                                              batch));
  }
}

// C = beta * C, for empty products (K == 0).
void scale_raw(Tensor& C, double beta) {
  if (beta == 0.0) {
    fill_(C, 0.0);
  } else if (beta != 1.0) {
    mul_(C, beta);
  }
}

// C (batch..., M, N), contiguous, = a @ b + beta * C, where a (batch..., M, K) and b
// (batch..., K, N) have exactly C's batch dims (broadcast ones with stride 0).
void gemm_into(Tensor& C, const Tensor& a, const Tensor& b, double beta) {
  FF_CHECK(C.is_contiguous(), "gemm_into: output must be contiguous");
  const int64_t M = C.size(-2), N = C.size(-1), K = a.size(-1);
  if (C.numel() == 0) return;
  if (K == 0) {
    scale_raw(C, beta);
    return;
  }
  Operand A = make_operand(a), B = make_operand(b);
  const int64_t nb = static_cast<int64_t>(A.offsets.size());
  visit_float(C.dtype(), [&]<typename T>() {
    const T* pa = A.t.data<T>();
    const T* pb = B.t.data<T>();
    T* pc = C.data<T>();
    int64_t sa = 0, sb = 0;
    bool ua = uniform_step(A.offsets, &sa), ub = uniform_step(B.offsets, &sb);
    if (ua && ub && nb > 1 && sb == 0 && !A.trans && sa == M * A.ld) {
      // One shared B and a batch of row-major A blocks one after another: fold the batch into M.
      run_gemm<T>(C.device(), false, B.trans, nb * M, N, K, pa + A.offsets[0], A.ld, 0, pb + B.offsets[0], B.ld, 0,
                  T(beta), pc, N, 0, 1);
    } else if (ua && ub) {
      run_gemm<T>(C.device(), A.trans, B.trans, M, N, K, pa + A.offsets[0], A.ld, sa, pb + B.offsets[0], B.ld, sb,
                  T(beta), pc, N, M * N, nb);
    } else {
      for (int64_t i = 0; i < nb; ++i)
        run_gemm<T>(C.device(), A.trans, B.trans, M, N, K, pa + A.offsets[i], A.ld, 0, pb + B.offsets[i], B.ld, 0,
                    T(beta), pc + i * M * N, N, 0, 1);
    }
  });
}

// C (M, N), contiguous, = sum over the batch of a_i @ b_i + beta * C (the gradient of an
// operand broadcast over the whole batch), without materialising the per-batch products.
void gemm_sum_into(Tensor& C, const Tensor& a, const Tensor& b, double beta) {
  FF_CHECK(C.is_contiguous(), "gemm_sum_into: output must be contiguous");
  const int64_t M = C.size(-2), N = C.size(-1), K = a.size(-1);
  if (C.numel() == 0) return;
  int64_t nb = shape_numel(Shape(a.shape().begin(), a.shape().end() - 2));
  if (K == 0 || nb == 0) {
    scale_raw(C, beta);
    return;
  }
  Operand A = make_operand(a), B = make_operand(b);
  visit_float(C.dtype(), [&]<typename T>() {
    const T* pa = A.t.data<T>();
    const T* pb = B.t.data<T>();
    T* pc = C.data<T>();
    int64_t sa = 0, sb = 0;
    bool ua = uniform_step(A.offsets, &sa), ub = uniform_step(B.offsets, &sb);
    if (ua && ub && A.trans && !B.trans && (nb == 1 || (sa == K * A.ld && sb == K * B.ld))) {
      // A stored (K, M) and B stored (K, N) blocks one after another: fold the batch into K.
      run_gemm<T>(C.device(), true, false, M, N, nb * K, pa + A.offsets[0], A.ld, 0, pb + B.offsets[0], B.ld, 0,
                  T(beta), pc, N, 0, 1);
    } else {
      for (int64_t i = 0; i < nb; ++i)
        run_gemm<T>(C.device(), A.trans, B.trans, M, N, K, pa + A.offsets[i], A.ld, 0, pb + B.offsets[i], B.ld, 0,
                    T(i == 0 ? beta : 1.0), pc, N, 0, 1);
    }
  });
}

Shape batch_of(const Tensor& x) { return Shape(x.shape().begin(), x.shape().end() - 2); }

Shape with_matrix(Shape batch, int64_t rows, int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  FF_CHECK(a.defined() && b.defined(), "matmul: undefined operand");
  FF_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: operands need at least 2 dims, got {} and {}", shape_str(a.shape()),
           shape_str(b.shape()));
  check_same_device("matmul", {&a, &b});
  check_same_dtype("matmul", {&a, &b});
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  FF_CHECK(b.size(-2) == K, "matmul: inner dimensions differ: {} @ {} ({} vs {})", shape_str(a.shape()),
           shape_str(b.shape()), K, b.size(-2));
  Shape batch_a = batch_of(a), batch_b = batch_of(b);
  Shape batch;
  try {
    batch = broadcast_shapes(batch_a, batch_b);
  } catch (const Error&) {
    throw Error(fmt::format("matmul: batch dims of {} and {} do not broadcast", shape_str(a.shape()),
                            shape_str(b.shape())));
  }
  Tensor out = Tensor::empty(with_matrix(batch, M, N), a.dtype(), a.device());
  gemm_into(out, expand_raw(a.detach(), with_matrix(batch, M, K)),
                    expand_raw(b.detach(), with_matrix(batch, K, N)), 0.0);

  record_op(out, "matmul", {a, b},
            [a = a.detach(), b = b.detach(), batch](const Tensor& g, const std::vector<bool>& needs) {
              const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
              // d(operand) = lhs @ rhs over the full batch, reduced to the operand's shape.
              auto grad_for = [&](const Tensor& operand, const Tensor& lhs, const Tensor& rhs, int64_t rows,
                                  int64_t cols) {
                Shape own_batch = batch_of(operand);
                if (own_batch == batch) {
                  Tensor d = Tensor::empty(operand.shape(), g.dtype(), g.device());
                  gemm_into(d, lhs, rhs, 0.0);
                  return d;
                }
                if (shape_numel(own_batch) == 1) {  // broadcast over the whole batch: one summed product
                  Tensor d = Tensor::empty({rows, cols}, g.dtype(), g.device());
                  gemm_sum_into(d, lhs, rhs, 0.0);
                  return view_raw(d, operand.shape());
                }
                Tensor full = Tensor::empty(with_matrix(batch, rows, cols), g.dtype(), g.device());
                gemm_into(full, lhs, rhs, 0.0);
                return sum_to(full, operand.shape());
              };
              Tensor ga, gb;
              if (needs[0])  // dA = dC @ B^T
                ga = grad_for(a, g, expand_raw(mT_raw(b), with_matrix(batch, N, K)), M, K);
              if (needs[1])  // dB = A^T @ dC
                gb = grad_for(b, expand_raw(mT_raw(a), with_matrix(batch, K, M)), g, K, N);
              return Grads{ga, gb};
            });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  FF_CHECK(x.defined() && w.defined(), "linear: undefined input or weight");
  FF_CHECK(w.dim() == 2, "linear: weight must be (out, in), got {}", shape_str(w.shape()));
  FF_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input {} does not match weight {} (expected last dim {})",
           shape_str(x.shape()), shape_str(w.shape()), w.size(1));
  FF_CHECK(!b.defined() || (b.dim() == 1 && b.size(0) == w.size(0)), "linear: bias {} does not match weight {}",
           shape_str(b.defined() ? b.shape() : Shape{}), shape_str(w.shape()));
  check_same_device("linear", {&x, &w, &b});
  check_same_dtype("linear", {&x, &w, &b});
  const int64_t in = w.size(1), out_features = w.size(0);
  const int64_t rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));

  Tensor x2 = as_rows_raw(x.detach(), rows, in);
  Tensor y2 = Tensor::empty({rows, out_features}, x.dtype(), x.device());
  double beta = 0.0;
  if (b.defined()) {
    copy_(y2, b.detach());  // broadcast the bias into every row; the GEMM accumulates onto it
    beta = 1.0;
  }
  gemm_into(y2, x2, mT_raw(w.detach()), beta);
  Shape out_shape = x.shape();
  out_shape.back() = out_features;
  Tensor y = view_raw(y2, out_shape);

  record_op(y, "linear", {x, w, b},
            [x2, w = w.detach(), x_shape = x.shape(), rows](const Tensor& g, const std::vector<bool>& needs) {
              Tensor g2 = as_rows_raw(g, rows, w.size(0));
              Tensor gx, gw, gb;
              if (needs[0]) {  // dX = dY @ W
                Tensor d = Tensor::empty({rows, w.size(1)}, g.dtype(), g.device());
                gemm_into(d, g2, w, 0.0);
                gx = view_raw(d, x_shape);
              }
              if (needs[1]) {  // dW = dY^T @ X over all rows
                gw = Tensor::empty(w.shape(), g.dtype(), g.device());
                gemm_into(gw, mT_raw(g2), x2, 0.0);
              }
              if (needs[2]) gb = sum(g2, {0});  // column sums
              return Grads{gx, gw, gb};
            });
  return y;
}

}  // namespace ff
