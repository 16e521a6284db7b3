#pragma once
// The paper's head-redundancy metric (Table 3): within one layer, the L2 (Frobenius) distance
// between the attention maps of two heads, averaged over every pair of heads and every
// evaluated segment; then the mean and standard deviation of those per-layer averages over
// the layers. Larger means the heads attend more differently.

#include <cstdint>
#include <vector>

#include "core/tensor/tensor.h"

namespace ff::models {

class HeadDiversity {
 public:
  // maps: one (B, H, T, Nk) tensor per layer (TransformerLm::hidden's or
  // VisionTransformer::forward's maps); every row b is one segment (or image).
  void add(const std::vector<Tensor>& maps);

  int64_t segments() const { return segments_; }
  // The per-layer averages over pairs and segments.
  std::vector<double> per_layer() const;
  // Mean and (population) standard deviation of per_layer().
  double mean() const;
  double std() const;

 private:
  std::vector<double> sum_;    // per layer: sum over segments of the mean pair distance
  int64_t segments_ = 0;
};

}  // namespace ff::models
