#pragma once
// Random fills on raw pointers, stateless: each call reads the Philox stream addressed by
// (seed, offset) (layout in kernels/philox.h and docs/rng.md) and the caller (core's
// generator) advances offset by one per call. Element e of a fill depends only on
// (seed, offset, e), never on n or the device, so
//   - filling 10 then 1000 elements with the same state gives equal first 10 elements;
//   - cpu:: and cuda:: give the same numbers: bit for bit for uniform and the masks, to
//     float rounding of logf/sinf/cosf (~1e-7 relative) for normal and truncated normal.
// double outputs (CPU) hold the float values widened, so an f64 run sees the same stream.
//
// out: (n,) contiguous. Arguments are checked (ff::Error on a bad range or probability).

#include <cstdint>

#include "kernels/philox.h"

#include "kernels/dtype.h"
#include "kernels/exec.h"

namespace ff::kernels {

// Fills of floating tensors (the masks' element type: uint8 for bernoulli_mask).
inline constexpr KernelDTypes kRandomDTypes{.cpu = {DType::F32, DType::F64}, .cuda = {DType::F32}};

namespace cpu {

// Uniform in [lo, hi). (With |lo| much larger than hi - lo, float rounding can give hi.)
template <typename T>
void uniform(Exec, T* out, int64_t n, float lo, float hi, PhiloxState state);

// Normal N(mean, std^2) by Box-Muller.
template <typename T>
void normal(Exec, T* out, int64_t n, float mean, float std, PhiloxState state);

// N(mean, std^2) restricted to [a, b]; a and b are absolute values, not multiples of std
// (timm's trunc_normal_(std=0.02, a=-2, b=2) is truncated_normal(out, n, 0, 0.02, -2, 2, s)).
template <typename T>
void truncated_normal(Exec, T* out, int64_t n, float mean, float std, float a, float b, PhiloxState state);

// Bernoulli keep mask: mask[e] = 1 with probability p_keep, else 0.
void bernoulli_mask(Exec, uint8_t* mask, int64_t n, float p_keep, PhiloxState state);

// Dropout mask already scaled: 1 / p_keep with probability p_keep, else 0 (all 0 for
// p_keep = 0). Element e is kept exactly when bernoulli_mask keeps it with the same state.
template <typename T>
void dropout_mask(Exec, T* mask, int64_t n, float p_keep, PhiloxState state);

}  // namespace cpu

#ifdef FF_WITH_CUDA
namespace cuda {

// Same contracts as the cpu:: functions; out is device memory; asynchronous on the stream.
template <typename T>
void uniform(Exec, T* out, int64_t n, float lo, float hi, PhiloxState state);
template <typename T>
void normal(Exec, T* out, int64_t n, float mean, float std, PhiloxState state);
template <typename T>
void truncated_normal(Exec, T* out, int64_t n, float mean, float std, float a, float b, PhiloxState state);
void bernoulli_mask(Exec, uint8_t* mask, int64_t n, float p_keep, PhiloxState state);
template <typename T>
void dropout_mask(Exec, T* mask, int64_t n, float p_keep, PhiloxState state);

}  // namespace cuda
#endif

}  // namespace ff::kernels
