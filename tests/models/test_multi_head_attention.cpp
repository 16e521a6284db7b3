// MultiHeadAttention: the whole module gradient-checked in float64, parameter names, maps.
#include <catch2/catch.hpp>

#include "core/ops/ops.h"
#include "models/attention/multi_head_attention.h"
#include "support/gradcheck.h"

using namespace ff;
using models::AttentionConfig;
using models::MultiHeadAttention;
using testing::gradcheck;
using testing::random_tensor;
using Inputs = std::vector<Tensor>;

namespace {

// Gradient check of the module output with respect to its input, memory and every parameter:
// the parameters are swapped for the gradcheck's leaves inside f.
std::string check_module(MultiHeadAttention& mha, const Tensor& x, const Tensor& memory, bool causal) {
  std::vector<Tensor*> slots;
  slots = {&mha.q_net->weight, &mha.kv_net->weight, &mha.o_net->weight};
  if (mha.is_fourier()) slots.push_back(&mha.R);
  Inputs inputs{x, memory};
  for (Tensor* p : slots) inputs.push_back(p->detach());
  return gradcheck(
      [&](const Inputs& in) {
        for (size_t i = 0; i < slots.size(); ++i) *slots[i] = in[2 + i];
        return mha.forward(in[0], in[1], causal);
      },
      inputs);
}

}  // namespace

TEST_CASE("MultiHeadAttention: float64 gradient check of the whole module", "[mha][gradcheck]") {
  for (std::string kind : {"softmax", "fourier"}) {
    for (bool per_dim : {false, true}) {
      if (kind == "softmax" && per_dim) continue;
      INFO(kind << " per_dim " << per_dim);
      Generator gen(7);
      AttentionConfig config;
      config.kind = kind;
      config.R_per_dim = per_dim;
      MultiHeadAttention mha(6, 2, 3, config, gen, /*bias=*/false, DType::F64);
      // Small inputs keep the Fourier scores at the realistic scale.
      Tensor x = random_tensor({2, 3, 6}, 1, -1, 1), memory = random_tensor({2, 2, 6}, 2, -1, 1);
      CHECK(check_module(mha, x, memory, /*causal=*/true) == "");
    }
  }
}

TEST_CASE("MultiHeadAttention: parameter names and Fourier R", "[mha]") {
  Generator gen(1);
  AttentionConfig config;
  config.kind = "fourier";
  config.R_per_dim = true;
  MultiHeadAttention mha(8, 2, 4, config, gen);
  std::vector<std::string> names;
  for (auto& [name, t] : mha.named_parameters()) names.push_back(name + shape_str(t.shape()));
  CHECK(names == std::vector<std::string>{"R[4]", "q_net.weight[8, 8]", "kv_net.weight[16, 8]", "o_net.weight[8, 8]"});
  CHECK(mha.R.to_vector<float>() == std::vector<float>(4, 2.0f));
  config.kind = "cosine";
  CHECK_THROWS_WITH(MultiHeadAttention(8, 2, 4, config, gen), Catch::Contains("softmax or fourier"));
}

TEST_CASE("MultiHeadAttention: attention maps are causal distributions over memory + segment", "[mha]") {
  Generator gen(3);
  MultiHeadAttention mha(8, 2, 4, AttentionConfig{}, gen);
  Tensor x = random_tensor({1, 4, 8}, 3, -1, 1, DType::F32), memory = random_tensor({1, 2, 8}, 4, -1, 1, DType::F32);
  Tensor maps;
  Tensor y = mha.forward(x, memory, true, &maps);
  CHECK(y.shape() == Shape{1, 4, 8});
  REQUIRE(maps.shape() == Shape{1, 2, 4, 6});
  std::vector<float> m = maps.to_vector<float>();
  for (int h = 0; h < 2; ++h)
    for (int t = 0; t < 4; ++t) {
      double total = 0;
      for (int j = 0; j < 6; ++j) {
        float w = m[(h * 4 + t) * 6 + j];
        if (j > t + 2) CHECK(w == 0.0f);  // memory (2 keys) is visible to every query
        total += w;
      }
      CHECK(total == Approx(1.0).epsilon(1e-5));
    }
}
