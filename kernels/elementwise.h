#pragma once
// Elementwise kernels over strided operands: copies with dtype conversion, unary and binary
// math with broadcasting (a broadcast dimension has stride 0). The math itself is in
// kernels/elementwise_math.h, shared by the CPU loop and the CUDA kernel.
//
// An Indexer describes N operands over one iteration shape: operand 0 is the output.
// Dimensions that are contiguous in every operand are merged first, so the common case runs
// as a flat loop. Math on bf16 runs in f32 (compute_t) and rounds once per stored element.

#include <cstdint>
#include <vector>

#include "kernels/common.h"
#include "kernels/dtype.h"
#include "kernels/elementwise_math.h"
#include "kernels/exec.h"

namespace ff::kernels {

constexpr int kMaxDims = 8;

template <int N>
struct Indexer {
  int ndim = 0;
  int64_t numel = 1;
  int64_t size[kMaxDims] = {};
  int64_t stride[N][kMaxDims] = {};

  // Element offsets of every operand for the linear index `i` of the iteration shape.
  FF_HD void offsets(int64_t i, int64_t* off) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t coord = i % size[d];
      i /= size[d];
      for (int k = 0; k < N; ++k) off[k] += coord * stride[k][d];
    }
  }
  // True when every operand is contiguous over the whole shape (after merging).
  bool contiguous() const {
    if (ndim == 0) return true;
    if (ndim != 1) return false;
    for (int k = 0; k < N; ++k)
      if (stride[k][0] != 1) return false;
    return true;
  }
};

// Builds an Indexer for `shape` with one stride vector per operand (same rank as shape),
// merging dimensions that are contiguous across all operands and dropping size-1 dims.
template <int N>
Indexer<N> make_indexer(const std::vector<int64_t>& shape,
                        const std::vector<std::vector<int64_t>>& strides) {
  FF_CHECK(static_cast<int>(strides.size()) == N, "indexer needs {} stride vectors", N);
  Indexer<N> ix;
  std::vector<int64_t> sizes;
  std::vector<std::vector<int64_t>> st(N);
  for (size_t d = 0; d < shape.size(); ++d) {
    ix.numel *= shape[d];
    if (shape[d] == 1) continue;
    bool merge = !sizes.empty();
    for (int k = 0; k < N && merge; ++k) merge = st[k].back() == strides[k][d] * shape[d];
    if (merge) {
      sizes.back() *= shape[d];
      for (int k = 0; k < N; ++k) st[k].back() = strides[k][d];
    } else {
      sizes.push_back(shape[d]);
      for (int k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
    }
  }
  FF_CHECK(sizes.size() <= static_cast<size_t>(kMaxDims), "elementwise op over more than {} dims", kMaxDims);
  ix.ndim = static_cast<int>(sizes.size());
  for (int d = 0; d < ix.ndim; ++d) {
    ix.size[d] = sizes[d];
    for (int k = 0; k < N; ++k) ix.stride[k][d] = st[k][d];
  }
  return ix;
}

// copy: every dtype pair, both backends; the math (unary, binary, where): float types.
inline constexpr KernelDTypes kCopyDTypes{.cpu = kEveryDType, .cuda = kEveryDType};
inline constexpr KernelDTypes kElementwiseDTypes{.cpu = kFloatDTypes, .cuda = kFloatDTypes};

namespace cpu {
// dst[ix 0] = convert(src[ix 1])
template <typename Dst, typename Src>
void copy(Exec, const Indexer<2>& ix, Dst* dst, const Src* src);
// y[ix 0] = f(x[ix 1]; a, b)
template <typename T>
void unary(Exec, UnaryOp op, const Indexer<2>& ix, T* y, const T* x, double a, double b);
// z[ix 0] = f(x[ix 1], y[ix 2])
template <typename T>
void binary(Exec, BinaryOp op, const Indexer<3>& ix, T* z, const T* x, const T* y);
// out[ix 0] = cond[ix 1] ? x[ix 2] : y[ix 3]
template <typename T>
void where(Exec, const Indexer<4>& ix, T* out, const uint8_t* cond, const T* x, const T* y);
}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {
template <typename Dst, typename Src>
void copy(Exec, const Indexer<2>& ix, Dst* dst, const Src* src);
template <typename T>
void unary(Exec, UnaryOp op, const Indexer<2>& ix, T* y, const T* x, double a, double b);
template <typename T>
void binary(Exec, BinaryOp op, const Indexer<3>& ix, T* z, const T* x, const T* y);
template <typename T>
void where(Exec, const Indexer<4>& ix, T* out, const uint8_t* cond, const T* x, const T* y);
}  // namespace cuda
#endif

}  // namespace ff::kernels
