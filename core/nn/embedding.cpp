#include "core/nn/embedding.h"

#include "core/nn/init.h"
#include "core/ops/embedding.h"

namespace ff::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t dim, Generator& gen, DType dtype)
    : num_embeddings(num_embeddings), dim(dim) {
  FF_CHECK(num_embeddings > 0 && dim > 0, "Embedding({}, {}) needs positive sizes", num_embeddings, dim);
  register_parameter("weight", weight = Tensor::empty({num_embeddings, dim}, dtype));
  init::normal_(weight, 0.0, 1.0, gen);
}

Tensor Embedding::forward(const Tensor& ids) { return embedding(weight, ids); }

}  // namespace ff::nn
