#pragma once
// Lookup table. ids: (...) int32/int64 -> (..., D); weight: (V, D), N(0, 1) at init as
// torch.nn.Embedding (models re-initialise).

#include "core/nn/layer.h"
#include "core/random/generator.h"

namespace ff::nn {

class Embedding : public UnaryModule {
 public:
  Embedding(int64_t num_embeddings, int64_t dim, Generator& gen, DType dtype = DType::F32);
  Tensor forward(const Tensor& ids) override;

  int64_t num_embeddings, dim;
  Tensor weight;  // (V, D)
};

}  // namespace ff::nn
