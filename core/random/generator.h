#pragma once
// The random state of a run: a Philox stream (seed, offset). Each random op takes the next
// state (offset + 1), so a sequence of ops draws the same numbers on CPU and CUDA, and the
// (seed, offset) pair is all a checkpoint needs to resume the stream exactly.

#include <cstdint>

#include "core/tensor/tensor.h"
#include "kernels/philox.h"

namespace ff {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : state_{seed, 0} {}

  // The state for one random op; advances the stream.
  kernels::PhiloxState next() {
    kernels::PhiloxState s = state_;
    ++state_.offset;
    return s;
  }
  kernels::PhiloxState state() const { return state_; }
  void set_state(kernels::PhiloxState state) { state_ = state; }

 private:
  kernels::PhiloxState state_;
};

// A Philox key of its own for a stream taken from `state` (splitmix64's finaliser: distinct
// states give unrelated keys). Random-feature layers draw their frequencies from
// (stream_key(gen.next()), counter), so a draw depends on the layer and the counter only.
inline uint64_t stream_key(kernels::PhiloxState state) {
  uint64_t x = state.seed ^ (0x9E3779B97F4A7C15ull * (state.offset + 1));
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// In-place random fills (never recorded by autograd). x must be contiguous f32 or f64.
void uniform_(Tensor& x, double lo, double hi, Generator& gen);
void normal_(Tensor& x, double mean, double std, Generator& gen);
// Normal(mean, std) restricted to [a, b] (absolute bounds, as timm's trunc_normal_).
void trunc_normal_(Tensor& x, double mean, double std, double a, double b, Generator& gen);

}  // namespace ff
