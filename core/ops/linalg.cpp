#include "core/ops/linalg.h"

#include <algorithm>

#include "core/autograd/autograd.h"
#include "core/ops/autocast.h"
#include "core/ops/dispatch.h"
#include "core/ops/elementwise.h"
#include "core/ops/reduce.h"
#include "core/ops/view.h"
#include "core/ops/flops.h"
#include "kernels/gemm.h"

namespace ff {
namespace {

// ---- raw views and copies (no autograd) ----------------------------------------------------

Tensor view_raw(const Tensor& x, const Shape& shape) {  // x contiguous
  return Tensor::make_view(x.storage(), shape, contiguous_strides(shape), x.offset(), x.dtype());
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

// One kernels::gemm call (nothing to do for an empty product), counted in core/ops/flops.h.
template <typename T, typename Exec>
void run_gemm(Exec exec, const kernels::GemmParams<T>& p) {
  if (p.batch > 0 && p.M > 0 && p.N > 0) {
    gemm<T>(exec, p);
    add_model_flops(2.0 * double(p.batch) * double(p.M) * double(p.N) * double(p.K));
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

// C (batch..., M, N), contiguous, = a @ b + beta * C [+ bias (N) on every row], where a
// (batch..., M, K) and b (batch..., K, N) have exactly C's batch dims (broadcast ones with
// stride 0).
void gemm_into(Tensor& C, const Tensor& a, const Tensor& b, double beta, const Tensor& bias = Tensor(),
               bool relu = false) {
  FF_CHECK(C.is_contiguous(), "gemm_into: output must be contiguous");
  const int64_t M = C.size(-2), N = C.size(-1), K = a.size(-1);
  if (C.numel() == 0) return;
  if (K == 0) {
    scale_raw(C, beta);
    if (bias.defined()) add_(C, bias);
    if (relu) copy_(C, ff::relu(C.detach()));
    return;
  }
  Operand A = make_operand(a), B = make_operand(b);
  const int64_t nb = static_cast<int64_t>(A.offsets.size());
  dispatch<kernels::kGemmDTypes>("matmul", C, [&]<typename T>(auto exec) {
    int64_t sa = 0, sb = 0;
    const bool ua = uniform_step(A.offsets, &sa), ub = uniform_step(B.offsets, &sb);
    kernels::GemmParams<T> p{.trans_a = A.trans, .trans_b = B.trans, .M = M, .N = N, .K = K,
                             .A = A.t.data<T>() + A.offsets[0], .lda = A.ld, .stride_a = sa,
                             .B = B.t.data<T>() + B.offsets[0], .ldb = B.ld, .stride_b = sb,
                             .C = C.data<T>(), .ldc = N, .stride_c = M * N, .batch = nb,
                             .alpha = 1, .beta = static_cast<kernels::compute_t<T>>(beta),
                             .bias = data_or_null<T>(bias), .relu = relu};
    if (ua && ub && nb > 1 && sb == 0 && !A.trans && sa == M * A.ld) {
      // One shared B and a batch of row-major A blocks one after another: fold the batch into M.
      p.M = nb * M;
      p.batch = 1;
      run_gemm(exec, p);
    } else if (ua && ub) {
      run_gemm(exec, p);
    } else {
      p.batch = 1;
      for (int64_t i = 0; i < nb; ++i) {
        p.A = A.t.data<T>() + A.offsets[i];
        p.B = B.t.data<T>() + B.offsets[i];
        p.C = C.data<T>() + i * M * N;
        run_gemm(exec, p);
      }
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
  dispatch<kernels::kGemmDTypes>("matmul", C, [&]<typename T>(auto exec) {
    int64_t sa = 0, sb = 0;
    const bool ua = uniform_step(A.offsets, &sa), ub = uniform_step(B.offsets, &sb);
    kernels::GemmParams<T> p{.trans_a = A.trans, .trans_b = B.trans, .M = M, .N = N, .K = K,
                             .A = A.t.data<T>() + A.offsets[0], .lda = A.ld,
                             .B = B.t.data<T>() + B.offsets[0], .ldb = B.ld,
                             .C = C.data<T>(), .ldc = N,
                             .alpha = 1, .beta = static_cast<kernels::compute_t<T>>(beta)};
    if (ua && ub && A.trans && !B.trans && (nb == 1 || (sa == K * A.ld && sb == K * B.ld))) {
      // A stored (K, M) and B stored (K, N) blocks one after another: fold the batch into K.
      p.K = nb * K;
      run_gemm(exec, p);
    } else {
      for (int64_t i = 0; i < nb; ++i) {
        p.A = A.t.data<T>() + A.offsets[i];
        p.B = B.t.data<T>() + B.offsets[i];
        p.beta = static_cast<kernels::compute_t<T>>(i == 0 ? beta : 1.0);
        run_gemm(exec, p);
      }
    }
  });
}

Shape batch_of(const Tensor& x) { return Shape(x.shape().begin(), x.shape().end() - 2); }

Shape with_matrix(Shape batch, int64_t rows, int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

// A bf16 product on a backend without bf16 GEMMs: f32 copies, autocast off for the inner call
// (it would cast them back), the result rounded to bf16.
template <typename Op, typename... Args>
Tensor gemm_in_f32(Op op, DType result, const Args&... args) {
  AutocastGuard off(std::nullopt);
  auto f32 = [](const Tensor& t) { return t.defined() ? to_dtype(t, DType::F32) : t; };
  return to_dtype(op(f32(args)...), result);
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  FF_CHECK(a_in.defined() && b_in.defined(), "matmul: undefined operand");
  const Tensor a = autocast_low(a_in), b = autocast_low(b_in);
  if (computes_in_f32<kernels::kGemmDTypes>(a)) return gemm_in_f32(matmul, a.dtype(), a, b);
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

Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, Activation act) {
  FF_CHECK(x_in.defined() && w_in.defined(), "linear: undefined input or weight");
  const Tensor x = autocast_low(x_in), w = autocast_low(w_in), b = autocast_low(b_in);
  if (computes_in_f32<kernels::kGemmDTypes>(x)) {
    auto with_act = [act](const Tensor& x, const Tensor& w, const Tensor& b) { return linear(x, w, b, act); };
    return gemm_in_f32(with_act, x.dtype(), x, w, b);
  }
  FF_CHECK(w.dim() == 2, "linear: weight must be (out, in), got {}", shape_str(w.shape()));
  FF_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input {} does not match weight {} (expected last dim {})",
           shape_str(x.shape()), shape_str(w.shape()), w.size(1));
  FF_CHECK(!b.defined() || (b.dim() == 1 && b.size(0) == w.size(0)), "linear: bias {} does not match weight {}",
           shape_str(b.defined() ? b.shape() : Shape{}), shape_str(w.shape()));
  check_same_device("linear", {&x, &w, &b});
  check_same_dtype("linear", {&x, &w, &b});
  const int64_t in = w.size(1), out_features = w.size(0);
  const int64_t rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
  const bool relu = act == Activation::ReLU;

  Tensor x2 = as_rows_raw(x.detach(), rows, in);
  Tensor y2 = Tensor::empty({rows, out_features}, x.dtype(), x.device());
  gemm_into(y2, x2, mT_raw(w.detach()), 0.0, b.defined() ? contiguous_raw(b.detach()) : Tensor(), relu);
  Shape out_shape = x.shape();
  out_shape.back() = out_features;
  Tensor y = view_raw(y2, out_shape);

  record_op(y, relu ? "linear_relu" : "linear", {x, w, b},
            [x2, w = w.detach(), x_shape = x.shape(), rows, y2 = relu ? y2 : Tensor()](
                const Tensor& g_out, const std::vector<bool>& needs) {
              Tensor g2 = as_rows_raw(g_out, rows, w.size(0));
              if (y2.defined()) g2 = relu_backward(contiguous_raw(g2), y2);  // zero where the output is 0
              Tensor gx, gw, gb;
              if (needs[0]) {  // dX = dY @ W
                Tensor d = Tensor::empty({rows, w.size(1)}, g2.dtype(), g2.device());
                gemm_into(d, g2, w, 0.0);
                gx = view_raw(d, x_shape);
              }
              if (needs[1]) {  // dW = dY^T @ X over all rows
                gw = Tensor::empty(w.shape(), g2.dtype(), g2.device());
                gemm_into(gw, mT_raw(g2), x2, 0.0);
              }
              if (needs[2]) gb = sum(g2, {0});  // column sums
              return Grads{gx, gw, gb};
            });
  return y;
}

}  // namespace ff
