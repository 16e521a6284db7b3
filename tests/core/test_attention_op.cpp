// The attention op: float64 gradient checks through autograd (q, k, v and R), strided inputs,
// probs output, and CUDA against CPU.
#include <catch2/catch.hpp>

#include "core/ops/ops.h"
#include "support/gradcheck.h"
#include "support/skip.h"

using namespace ff;
using kernels::AttentionScore;
using testing::gradcheck;
using testing::random_tensor;
using Inputs = std::vector<Tensor>;

namespace {

// q, k, v leaves in (B, N, H, D) layout, as a projection produces them; f permutes them.
Tensor bhnd(const Tensor& x) { return permute(x, {0, 2, 1, 3}); }

}  // namespace

TEST_CASE("softmax attention op: float64 gradients for q, k, v", "[attention-op][gradcheck]") {
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    Tensor q = random_tensor({2, 3, 2, 5}, 1), k = random_tensor({2, 4, 2, 5}, 2), v = random_tensor({2, 4, 2, 5}, 3);
    AttentionOptions o;
    o.causal = causal;
    CHECK(gradcheck([o](const Inputs& x) { return attention(bhnd(x[0]), bhnd(x[1]), bhnd(x[2]), o); }, {q, k, v}) == "");
  }
}

TEST_CASE("Fourier attention op: float64 gradients for q, k, v and R", "[attention-op][gradcheck]") {
  for (bool per_dim : {false, true}) {
    for (bool causal : {false, true}) {
      INFO("per_dim " << per_dim << " causal " << causal);
      // The realistic scale (DESIGN.md): entries with std ~0.25, R = 2.
      Tensor q = random_tensor({1, 3, 2, 4}, 4, -0.45, 0.45), k = random_tensor({1, 5, 2, 4}, 5, -0.45, 0.45);
      Tensor v = random_tensor({1, 5, 2, 4}, 6);
      Tensor R = per_dim ? random_tensor({4}, 7, 1.5, 2.5) : Tensor::full({1}, 2.0, DType::F64);
      AttentionOptions o;
      o.score = AttentionScore::Fourier;
      o.causal = causal;
      CHECK(gradcheck(
                [o](const Inputs& x) {
                  AttentionOptions with_r = o;
                  with_r.R = x[3];
                  return attention(bhnd(x[0]), bhnd(x[1]), bhnd(x[2]), with_r);
                },
                {q, k, v, R}) == "");
    }
  }
}

TEST_CASE("attention op: output layout and probs", "[attention-op]") {
  Tensor q = random_tensor({2, 6, 3, 8}, 8), k = random_tensor({2, 6, 3, 8}, 9), v = random_tensor({2, 6, 3, 8}, 10);
  AttentionOptions o;
  o.causal = true;
  Tensor probs;
  Tensor out = attention(bhnd(q), bhnd(k), bhnd(v), o, &probs);
  CHECK(out.shape() == Shape{2, 3, 6, 8});
  // Permuting back to (B, N, H, D) gives a contiguous tensor: merging heads is free.
  CHECK(permute(out, {0, 2, 1, 3}).is_contiguous());
  REQUIRE(probs.shape() == Shape{2, 3, 6, 6});
  std::vector<double> p = probs.to_vector<double>();
  for (int64_t row = 0; row < 2 * 3 * 6; ++row) {
    int64_t i = row % 6;
    double total = 0;
    for (int64_t j = 0; j < 6; ++j) {
      double w = p[row * 6 + j];
      if (j > i) CHECK(w == 0.0);
      total += w;
    }
    CHECK(total == Approx(1.0).epsilon(1e-12));
  }
  // out = probs @ v, head by head.
  Tensor expected = sum(mul(unsqueeze(probs, -1), unsqueeze(bhnd(v), 2)), {3});
  CHECK(testing::max_abs_diff(out, expected) < 1e-12);
}

TEST_CASE("CUDA attention op matches the CPU, values and gradients", "[attention-op][cuda]") {
  FF_REQUIRE_CUDA();
  for (auto score : {AttentionScore::Dot, AttentionScore::Fourier}) {
    Tensor q = random_tensor({2, 37, 4, 32}, 11, -0.4, 0.4, DType::F32);
    Tensor k = random_tensor({2, 45, 4, 32}, 12, -0.4, 0.4, DType::F32);
    Tensor v = random_tensor({2, 45, 4, 32}, 13, -1, 1, DType::F32);
    Tensor R = Tensor::full({1}, 2.0);
    std::vector<Tensor> grads[2], outs(2);
    for (int dev = 0; dev < 2; ++dev) {
      Device d = dev ? Device::cuda() : Device::cpu();
      Tensor qd = to_device(q, d).set_requires_grad(true), kd = to_device(k, d).set_requires_grad(true);
      Tensor vd = to_device(v, d).set_requires_grad(true), Rd = to_device(R, d).set_requires_grad(true);
      AttentionOptions o;
      o.score = score;
      o.causal = true;
      if (score == AttentionScore::Fourier) o.R = Rd;
      outs[dev] = attention(bhnd(qd), bhnd(kd), bhnd(vd), o);
      sum(mul(outs[dev], to_device(random_tensor(outs[dev].shape(), 14, -1, 1, DType::F32), d))).backward();
      grads[dev] = {qd.grad(), kd.grad(), vd.grad()};
      if (score == AttentionScore::Fourier) grads[dev].push_back(Rd.grad());
    }
    CHECK(testing::max_abs_diff(outs[0], outs[1]) < 1e-4);
    for (size_t i = 0; i < grads[0].size(); ++i) CHECK(testing::max_abs_diff(grads[0][i], grads[1][i]) < 1e-3);
  }
}
