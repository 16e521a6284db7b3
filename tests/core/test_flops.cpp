// The model-FLOP count (core/ops/flops.h): exact counts of GEMMs, their backward, and exact
// attention's products over the visible pairs.
#include <catch2/catch.hpp>

#include "core/ops/ops.h"
#include "support/gradcheck.h"

using namespace ff;
using testing::random_tensor;

TEST_CASE("model FLOPs: GEMMs forward and backward, attention over the visible pairs", "[flops]") {
  reset_model_flops();
  {
    NoGradGuard no_grad;
    matmul(random_tensor({2, 3}, 1), random_tensor({3, 4}, 2));
  }
  CHECK(model_flops() == 2.0 * 2 * 4 * 3);

  reset_model_flops();
  Tensor x = random_tensor({5, 3}, 3).set_requires_grad(true), w = random_tensor({4, 3}, 4).set_requires_grad(true);
  Tensor y = linear(x, w, Tensor());
  CHECK(model_flops() == 2.0 * 5 * 4 * 3);
  sum(y).backward();  // dx = g w and dw = g^T x: two more products of the same size
  CHECK(model_flops() == 3 * 2.0 * 5 * 4 * 3);

  // Causal, 3 queries over 5 keys (2 of memory): rows see 3, 4, 5 keys; 2 heads: 24 pairs.
  for (bool fourier : {false, true}) {
    INFO("fourier " << fourier);
    Tensor q = random_tensor({1, 2, 3, 4}, 5, -0.4, 0.4).set_requires_grad(true);
    Tensor k = random_tensor({1, 2, 5, 4}, 6, -0.4, 0.4), v = random_tensor({1, 2, 5, 4}, 7);
    AttentionOptions o;
    o.causal = true;
    if (fourier) {
      o.score = kernels::AttentionScore::Fourier;
      o.R = Tensor::full({1}, 2.0, DType::F64);
    }
    reset_model_flops();
    Tensor out = attention(q, k, v, o);
    const double pairs = 24, D = 4;
    CHECK(model_flops() == (fourier ? 2.0 : 4.0) * D * pairs);
    sum(out).backward();
    CHECK(model_flops() == (fourier ? 6.0 : 12.0) * D * pairs);
  }
}
