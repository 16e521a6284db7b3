// MultiHeadAttention: the whole module gradient-checked in float64, parameter names, maps,
// and the causal mask over [memory, segment] against a materialised reference.
#include <catch2/catch.hpp>
#include <cmath>

#include "core/ops/ops.h"
#include "models/attention/multi_head_attention.h"
#include "support/gradcheck.h"

using namespace ff;
using models::AttentionConfig;
using models::MultiHeadAttention;
using testing::gradcheck;
using testing::max_abs_diff;
using testing::random_tensor;
using Inputs = std::vector<Tensor>;

namespace {

// Gradient check of the module output with respect to its input, memory and every parameter:
// the parameters are swapped for the gradcheck's leaves inside f.
std::string check_module(MultiHeadAttention& mha, const Tensor& x, const Tensor& memory, bool causal) {
  std::vector<Tensor*> slots;
  slots = {&mha.q_net->weight, &mha.kv_net->weight, &mha.o_net->weight};
  if (mha.R.defined()) slots.push_back(&mha.R);
  if (mha.flt) {
    for (Tensor* t : {&mha.flt->mixture_logits, &mha.flt->mixture_means, &mha.flt->mixture_log_scales})
      slots.push_back(t);
  }
  Inputs inputs{x, memory};
  for (Tensor* p : slots) inputs.push_back(p->detach());
  return gradcheck(
      [&](const Inputs& in) {
        for (size_t i = 0; i < slots.size(); ++i) *slots[i] = in[2 + i];
        return mha.forward(in[0], in[1], causal);
      },
      inputs);
}

struct Reference {
  std::vector<double> out;   // (B, T, d_model)
  std::vector<double> maps;  // (B, H, T, M + T)
};

// Softmax attention by the textbook formula, the mask materialised: query t of a segment after
// M memory positions sees keys j <= M + t (all the memory, the segment up to itself).
Reference softmax_reference(const MultiHeadAttention& mha, const Tensor& x, const Tensor& memory) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2), M = memory.size(1), Nk = M + T;
  const int64_t H = mha.n_head, D = mha.d_head;
  const std::vector<double> xs = x.to_vector<double>(), mem = memory.to_vector<double>();
  const std::vector<double> wq = mha.q_net->weight.to_vector<double>(), wkv = mha.kv_net->weight.to_vector<double>(),
                            wo = mha.o_net->weight.to_vector<double>();
  // Row `row` of weight w (rows of C inputs) applied to the token at key position j of row b.
  auto project = [&](const std::vector<double>& w, int64_t row, int64_t b, int64_t j) {
    const double* in = j < M ? &mem[(b * M + j) * C] : &xs[(b * T + j - M) * C];
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += w[row * C + c] * in[c];
    return s;
  };
  Reference r{std::vector<double>(B * T * C, 0.0), std::vector<double>(B * H * T * Nk, 0.0)};
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        const int64_t visible = M + t + 1;
        std::vector<double> score(visible), head(D, 0.0);
        for (int64_t j = 0; j < visible; ++j) {
          for (int64_t d = 0; d < D; ++d)
            score[j] += project(wq, h * D + d, b, M + t) * project(wkv, h * D + d, b, j);
          score[j] /= std::sqrt(static_cast<double>(D));
        }
        double top = score[0], total = 0;
        for (double s : score) top = std::max(top, s);
        for (double& s : score) total += (s = std::exp(s - top));
        for (int64_t j = 0; j < visible; ++j) {
          const double w = score[j] / total;
          r.maps[((b * H + h) * T + t) * Nk + j] = w;
          for (int64_t d = 0; d < D; ++d) head[d] += w * project(wkv, H * D + h * D + d, b, j);
        }
        for (int64_t o = 0; o < C; ++o)
          for (int64_t d = 0; d < D; ++d) r.out[(b * T + t) * C + o] += wo[o * H * D + h * D + d] * head[d];
      }
  return r;
}

// x (B, N, C) with position i shifted by 0.5 in every feature.
Tensor shifted_at(const Tensor& x, int64_t i) {
  return concat({slice(x, 1, 0, i), add(slice(x, 1, i, i + 1), 0.5), slice(x, 1, i + 1, x.size(1))}, 1);
}

}  // namespace

TEST_CASE("MultiHeadAttention: with memory, the causal output and maps are the masked softmax's", "[mha]") {
  Generator gen(11);
  MultiHeadAttention mha(8, 2, 4, AttentionConfig{}, gen, /*bias=*/false, DType::F64);
  const Tensor x = random_tensor({2, 4, 8}, 12, -1, 1), memory = random_tensor({2, 3, 8}, 13, -1, 1);
  Tensor maps;
  const Tensor y = mha.forward(x, memory, /*causal=*/true, &maps);
  const Reference want = softmax_reference(mha, x, memory);
  REQUIRE(maps.shape() == Shape{2, 2, 4, 7});
  const std::vector<double> got_out = y.to_vector<double>(), got_maps = maps.to_vector<double>();
  for (size_t i = 0; i < want.maps.size(); ++i) {
    INFO("map element " << i);
    CHECK(got_maps[i] == Approx(want.maps[i]).margin(1e-12));
  }
  for (size_t i = 0; i < want.out.size(); ++i) {
    INFO("output element " << i);
    CHECK(got_out[i] == Approx(want.out[i]).margin(1e-12));
  }
}

TEST_CASE("MultiHeadAttention: with memory, query t depends on every memory key and no later token", "[mha]") {
  for (std::string kind : {"softmax", "fourier", "flt"}) {
    INFO(kind);
    Generator gen(21);
    AttentionConfig config;
    config.kind = kind;
    config.features = 8;
    MultiHeadAttention mha(8, 2, 4, config, gen, /*bias=*/false, DType::F64);
    const int64_t T = 4, M = 3;
    const Tensor x = random_tensor({2, T, 8}, 22, -1, 1), memory = random_tensor({2, M, 8}, 23, -1, 1);
    const Tensor y = mha.forward(x, memory, true);
    auto position = [](const Tensor& out, int64_t t) { return slice(out, 1, t, t + 1); };
    // The last segment token is a key only for the last query.
    const Tensor y_future = mha.forward(shifted_at(x, T - 1), memory, true);
    CHECK(max_abs_diff(slice(y_future, 1, 0, T - 1), slice(y, 1, 0, T - 1)) == 0.0);
    CHECK(max_abs_diff(position(y_future, T - 1), position(y, T - 1)) > 1e-6);
    // The last memory position is a key for every query, the first one included.
    const Tensor y_memory = mha.forward(x, shifted_at(memory, M - 1), true);
    for (int64_t t = 0; t < T; ++t) {
      INFO("query " << t);
      CHECK(max_abs_diff(position(y_memory, t), position(y, t)) > 1e-6);
    }
  }
}

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
  CHECK_THROWS_WITH(MultiHeadAttention(8, 2, 4, config, gen), Catch::Contains("softmax, fourier, fourier_rf, rfa or flt"));
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

TEST_CASE("MultiHeadAttention: fourier_rf gradients, names and the frequencies' buffer", "[mha][fourier-rf]") {
  Generator gen(5);
  AttentionConfig config;
  config.kind = "fourier_rf";
  config.features = 16;
  MultiHeadAttention mha(6, 2, 3, config, gen, /*bias=*/false, DType::F64);
  std::vector<std::string> names, buffers;
  for (auto& [name, t] : mha.named_parameters()) names.push_back(name + shape_str(t.shape()));
  for (auto& [name, t] : mha.named_buffers()) buffers.push_back(name + shape_str(t.shape()));
  CHECK(names == std::vector<std::string>{"R[1]", "q_net.weight[6, 6]", "kv_net.weight[12, 6]", "o_net.weight[6, 6]"});
  CHECK(buffers == std::vector<std::string>{"freqs[16, 3]"});
  CHECK_FALSE(mha.is_fourier());
  CHECK(mha.is_random_feature());
  Tensor x = random_tensor({2, 3, 6}, 1, -1, 1), memory = random_tensor({2, 2, 6}, 2, -1, 1);
  CHECK(check_module(mha, x, memory, /*causal=*/true) == "");
  CHECK(check_module(mha, x, memory, /*causal=*/false) == "");
  Tensor maps;
  CHECK_THROWS_WITH(mha.forward(x, memory, true, &maps), Catch::Contains("not available for fourier_rf"));
}

TEST_CASE("MultiHeadAttention: fourier_rf frequencies are redrawn every redraw_interval steps, reproducibly",
          "[mha][fourier-rf]") {
  AttentionConfig config;
  config.kind = "fourier_rf";
  config.features = 32;
  config.redraw_interval = 3;
  Generator gen(9);
  MultiHeadAttention first(8, 2, 4, config, gen), second(8, 2, 4, config, gen);
  const Tensor initial = clone(first.freqs);
  // Layers draw different frequencies.
  CHECK(max_abs_diff(first.freqs, second.freqs) > 0.5);
  for (int64_t step : {0, 1, 2}) {
    first.set_step(step);
    CHECK(max_abs_diff(first.freqs, initial) == 0.0);
  }
  first.set_step(3);
  const Tensor period1 = clone(first.freqs);
  CHECK(max_abs_diff(period1, initial) > 0.5);
  first.set_step(5);
  CHECK(max_abs_diff(first.freqs, period1) == 0.0);
  first.set_step(6);
  CHECK(max_abs_diff(first.freqs, period1) > 0.5);
  // A model rebuilt from the seed (a resumed run) draws the same frequencies for the same step.
  Generator again(9);
  MultiHeadAttention rebuilt(8, 2, 4, config, again);
  CHECK(max_abs_diff(rebuilt.freqs, initial) == 0.0);
  rebuilt.set_step(4);
  CHECK(max_abs_diff(rebuilt.freqs, period1) == 0.0);
  // redraw_interval 0: fixed for the run.
  config.redraw_interval = 0;
  Generator fixed_gen(9);
  MultiHeadAttention fixed(8, 2, 4, config, fixed_gen);
  fixed.set_step(1000);
  CHECK(max_abs_diff(fixed.freqs, initial) == 0.0);
}

TEST_CASE("MultiHeadAttention: fourier_rf with many features approaches the exact fourier module", "[mha][fourier-rf]") {
  // Both modules draw their projections first from the same seed, so their weights are equal.
  AttentionConfig exact_config;
  exact_config.kind = "fourier";
  exact_config.R_init = 1.0;
  AttentionConfig rf_config = exact_config;
  rf_config.kind = "fourier_rf";
  rf_config.features = 8192;
  Generator g1(4), g2(4);
  MultiHeadAttention exact(16, 2, 8, exact_config, g1, false, DType::F64), rf(16, 2, 8, rf_config, g2, false, DType::F64);
  REQUIRE(max_abs_diff(exact.kv_net->weight, rf.kv_net->weight) == 0.0);
  Tensor x = random_tensor({2, 10, 16}, 5, -1, 1);
  NoGradGuard no_grad;
  for (bool causal : {false, true}) {
    Tensor y_exact = exact.forward(x, Tensor(), causal), y_rf = rf.forward(x, Tensor(), causal);
    const double rel = std::sqrt(sum(square(sub(y_rf, y_exact))).item() / sum(square(y_exact)).item());
    INFO("causal " << causal << " relative error " << rel);
    CHECK(rel < 0.05);
  }
}

namespace {

AttentionConfig small_flt(int64_t redraw_interval = 0) {
  AttentionConfig c;
  c.kind = "flt";
  c.features = 6;
  c.position_features = 5;
  c.components = 3;
  c.redraw_interval = redraw_interval;
  return c;
}

}  // namespace

TEST_CASE("MultiHeadAttention: flt gradients (the mask's mixture included), names and buffers", "[mha][flt]") {
  Generator gen(5);
  MultiHeadAttention mha(6, 2, 3, small_flt(), gen, /*bias=*/false, DType::F64);
  std::vector<std::string> names, buffers;
  for (auto& [name, t] : mha.named_parameters()) names.push_back(name + shape_str(t.shape()));
  for (auto& [name, t] : mha.named_buffers()) buffers.push_back(name + shape_str(t.shape()));
  CHECK(names == std::vector<std::string>{"q_net.weight[6, 6]", "kv_net.weight[12, 6]", "o_net.weight[6, 6]",
                                          "flt.mixture_logits[2, 3]", "flt.mixture_means[2, 3, 1]",
                                          "flt.mixture_log_scales[2, 3]"});
  CHECK(buffers == std::vector<std::string>{"flt.freqs[6, 3]", "flt.position_freqs[5, 1]"});
  // Initially uniform weights, means 0 and scales 1, 1/2, 1/4 (masks 1, 2 and 4 tokens wide).
  CHECK(max_abs_diff(mha.flt->mixture_log_scales,
                     Tensor::from_vector<double>({0, -std::log(2.0), -std::log(4.0), 0, -std::log(2.0), -std::log(4.0)},
                                                 {2, 3})) < 1e-15);
  CHECK(sum(abs(mha.flt->mixture_means)).item() == 0.0);
  Tensor x = random_tensor({2, 3, 6}, 1, -1, 1), memory = random_tensor({2, 2, 6}, 2, -1, 1);
  CHECK(check_module(mha, x, memory, /*causal=*/true) == "");
  CHECK(check_module(mha, x, memory, /*causal=*/false) == "");
  Tensor maps;
  CHECK_THROWS_WITH(mha.forward(x, memory, true, &maps), Catch::Contains("not available for flt"));
}

TEST_CASE("MultiHeadAttention: flt reads positions relative to the memory: key j at j, query t at M + t",
          "[mha][flt]") {
  Generator gen(6);
  MultiHeadAttention mha(6, 2, 3, small_flt(), gen, /*bias=*/false, DType::F64);
  const int64_t B = 2, T = 3, M = 4, H = 2, Dh = 3;
  const Tensor x = random_tensor({B, T, 6}, 3, -1, 1), memory = random_tensor({B, M, 6}, 4, -1, 1);
  // The projections by hand, then the op with the positions written out (and shifted by 7: only
  // differences count).
  const Tensor q = permute(reshape(matmul(x, transpose(mha.q_net->weight, 0, 1)), {B, T, H, Dh}), {0, 2, 1, 3});
  const Tensor kv = reshape(matmul(concat({memory, x}, 1), transpose(mha.kv_net->weight, 0, 1)), {B, M + T, 2, H, Dh});
  const Tensor k = permute(select(kv, 2, 0), {0, 2, 1, 3}), v = permute(select(kv, 2, 1), {0, 2, 1, 3});
  std::vector<double> qp, kp;
  for (int64_t t = 0; t < T; ++t) qp.push_back(double(M + t + 7));
  for (int64_t j = 0; j < M + T; ++j) kp.push_back(double(j + 7));
  const FltAttentionInputs in{.feature_freqs = mha.flt->freqs,
                              .position_freqs = mha.flt->position_freqs,
                              .q_positions = Tensor::from_vector<double>(qp, {T, 1}),
                              .k_positions = Tensor::from_vector<double>(kp, {M + T, 1}),
                              .mixture = mha.flt->mixture()};
  const LinearAttentionOptions o{.causal = true, .eps = 1e-6, .floor = 0.1};
  const Tensor out = flt_attention(q, k, v, in, o);
  const Tensor want = matmul(reshape(permute(out, {0, 2, 1, 3}), {B, T, H * Dh}), transpose(mha.o_net->weight, 0, 1));
  CHECK(max_abs_diff(mha.forward(x, memory, true), want) < 1e-12);
}

TEST_CASE("MultiHeadAttention: flt frequencies are redrawn every redraw_interval steps, reproducibly", "[mha][flt]") {
  Generator gen(9);
  MultiHeadAttention first(8, 2, 4, small_flt(3), gen), second(8, 2, 4, small_flt(3), gen);
  const Tensor freqs0 = clone(first.flt->freqs), pos0 = clone(first.flt->position_freqs);
  CHECK(max_abs_diff(first.flt->freqs, second.flt->freqs) > 0.1);  // layers draw their own
  first.set_step(2);
  CHECK(max_abs_diff(first.flt->freqs, freqs0) == 0.0);
  first.set_step(3);
  const Tensor freqs1 = clone(first.flt->freqs), pos1 = clone(first.flt->position_freqs);
  CHECK(max_abs_diff(freqs1, freqs0) > 0.1);
  CHECK(max_abs_diff(pos1, pos0) > 0.1);
  // Rebuilt from the seed (a resumed run): the same draws for the same step.
  Generator again(9);
  MultiHeadAttention rebuilt(8, 2, 4, small_flt(3), again);
  CHECK(max_abs_diff(rebuilt.flt->freqs, freqs0) == 0.0);
  rebuilt.set_step(5);
  CHECK(max_abs_diff(rebuilt.flt->freqs, freqs1) == 0.0);
  CHECK(max_abs_diff(rebuilt.flt->position_freqs, pos1) == 0.0);
  // redraw_interval 0: fixed for the run.
  Generator fixed_gen(9);
  MultiHeadAttention fixed(8, 2, 4, small_flt(0), fixed_gen);
  fixed.set_step(1000);
  CHECK(max_abs_diff(fixed.flt->position_freqs, pos0) == 0.0);
}

TEST_CASE("MultiHeadAttention: rfa gradients, names and Gaussian frequencies", "[mha][rfa]") {
  Generator gen(5);
  AttentionConfig config;
  config.kind = "rfa";
  config.features = 16;
  config.R_per_dim = true;
  config.R_init = 1.0;
  MultiHeadAttention mha(6, 2, 3, config, gen, /*bias=*/false, DType::F64);
  std::vector<std::string> names, buffers;
  for (auto& [name, t] : mha.named_parameters()) names.push_back(name + shape_str(t.shape()));
  for (auto& [name, t] : mha.named_buffers()) buffers.push_back(name + shape_str(t.shape()));
  CHECK(names == std::vector<std::string>{"R[3]", "q_net.weight[6, 6]", "kv_net.weight[12, 6]", "o_net.weight[6, 6]"});
  CHECK(buffers == std::vector<std::string>{"freqs[16, 3]"});
  CHECK(mha.is_random_feature());
  // Rebuilt from the seed: the same frequencies; fourier_rf from the same key draws others (sums
  // of uniforms, not normals).
  Generator again(5), other(5);
  MultiHeadAttention same(6, 2, 3, config, again, false, DType::F64);
  CHECK(max_abs_diff(mha.freqs, same.freqs) == 0.0);
  AttentionConfig sinc_config = config;
  sinc_config.kind = "fourier_rf";
  MultiHeadAttention sinc(6, 2, 3, sinc_config, other, false, DType::F64);
  CHECK(max_abs_diff(mha.freqs, sinc.freqs) > 0.1);
  Tensor x = random_tensor({2, 3, 6}, 1, -1, 1), memory = random_tensor({2, 2, 6}, 2, -1, 1);
  CHECK(check_module(mha, x, memory, /*causal=*/true) == "");
  CHECK(check_module(mha, x, memory, /*causal=*/false) == "");
  Tensor maps;
  CHECK_THROWS_WITH(mha.forward(x, memory, true, &maps), Catch::Contains("not available for rfa"));
}

TEST_CASE("MultiHeadAttention: rfa with many features approaches softmax attention of the unit rows", "[mha][rfa]") {
  // Same projections from the same seed; R = 1, so rfa estimates softmax(q^ . k^) (scale 1).
  AttentionConfig rfa_config;
  rfa_config.kind = "rfa";
  rfa_config.R_init = 1.0;
  rfa_config.features = 8192;
  Generator g(4);
  MultiHeadAttention rfa(16, 2, 8, rfa_config, g, false, DType::F64);
  Tensor x = random_tensor({2, 10, 16}, 5, -1, 1);
  NoGradGuard no_grad;
  const int64_t B = 2, T = 10;
  Tensor q = permute(reshape(rfa.q_net->forward(x), {B, T, 2, 8}), {0, 2, 1, 3});
  Tensor kv = reshape(rfa.kv_net->forward(x), {B, T, 2, 2, 8});
  Tensor k = permute(select(kv, 2, 0), {0, 2, 1, 3}), v = permute(select(kv, 2, 1), {0, 2, 1, 3});
  for (bool causal : {false, true}) {
    AttentionOptions o;
    o.causal = causal;
    o.scale = 1.0;
    Tensor heads = attention(unit_rows(q), unit_rows(k), v, o);
    Tensor y_exact = rfa.o_net->forward(reshape(permute(heads, {0, 2, 1, 3}), {B, T, 16}));
    Tensor y_rfa = rfa.forward(x, Tensor(), causal);
    const double rel = std::sqrt(sum(square(sub(y_rfa, y_exact))).item() / sum(square(y_exact)).item());
    INFO("causal " << causal << " relative error " << rel);
    CHECK(rel < 0.05);
  }
}
