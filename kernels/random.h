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

struct CUstream_st;  // cudaStream_t without the CUDA headers

namespace ff::kernels {

namespace cpu {

// Uniform in [lo, hi). (With |lo| much larger than hi - lo, float rounding can give hi.)
void uniform(float* out, int64_t n, float lo, float hi, PhiloxState state);
void uniform(double* out, int64_t n, float lo, float hi, PhiloxState state);

// Normal N(mean, std^2) by Box-Muller.
void normal(float* out, int64_t n, float mean, float std, PhiloxState state);
void normal(double* out, int64_t n, float mean, float std, PhiloxState state);

// N(mean, std^2) restricted to [a, b]; a and b are absolute values, not multiples of std
// (timm's trunc_normal_(std=0.02, a=-2, b=2) is truncated_normal(out, n, 0, 0.02, -2, 2, s)).
void truncated_normal(float* out, int64_t n, float mean, float std, float a, float b, PhiloxState state);
void truncated_normal(double* out, int64_t n, float mean, float std, float a, float b, PhiloxState state);

// Bernoulli keep mask: mask[e] = 1 with probability p_keep, else 0.
void bernoulli_mask(uint8_t* mask, int64_t n, float p_keep, PhiloxState state);

// Dropout mask already scaled: 1 / p_keep with probability p_keep, else 0 (all 0 for
// p_keep = 0). Element e is kept exactly when bernoulli_mask keeps it with the same state.
void dropout_mask(float* mask, int64_t n, float p_keep, PhiloxState state);
void dropout_mask(double* mask, int64_t n, float p_keep, PhiloxState state);

}  // namespace cpu

namespace cuda {

using Stream = CUstream_st*;  // same type as cudaStream_t

// Same contracts as the cpu:: functions; out is device memory; asynchronous on stream.
void uniform(float* out, int64_t n, float lo, float hi, PhiloxState state, Stream stream);
void normal(float* out, int64_t n, float mean, float std, PhiloxState state, Stream stream);
void truncated_normal(float* out, int64_t n, float mean, float std, float a, float b, PhiloxState state,
                      Stream stream);
void bernoulli_mask(uint8_t* mask, int64_t n, float p_keep, PhiloxState state, Stream stream);
void dropout_mask(float* mask, int64_t n, float p_keep, PhiloxState state, Stream stream);

}  // namespace cuda

}  // namespace ff::kernels
