// The language model: float64 gradient checks of the whole forward/backward (softmax and
// Fourier attention, adaptive softmax, segment memory), the adaptive log-softmax as a
// distribution, and a short training run on real English text.

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <sstream>

#include "core/nn/init.h"
#include "core/ops/ops.h"
#include "core/optim/adam.h"
#include "models/transformer_lm/transformer_lm.h"
#include "support/gradcheck.h"

using namespace ff;
using namespace ff::models;

namespace {

TransformerLmConfig tiny_config(const std::string& kind, std::vector<int64_t> cutoffs, int64_t mem_len = 0,
                                bool per_dim = false) {
  TransformerLmConfig c;
  c.n_token = 13;
  c.n_layer = 2;
  c.d_model = 8;
  c.n_head = 2;
  c.d_head = 4;
  c.d_inner = 12;
  c.dropout = 0.0;
  c.cutoffs = std::move(cutoffs);
  c.mem_len = mem_len;
  c.attention.kind = kind;
  c.attention.R_per_dim = per_dim;
  // Larger weights than the reference's 0.02 so every path carries a gradient well above the
  // finite-difference noise.
  c.init_std = 0.3;
  return c;
}

std::vector<int32_t> token_ids(int64_t n, uint64_t seed, int32_t vocab) {
  std::vector<int32_t> ids(n);
  uint64_t s = seed;
  for (auto& id : ids) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    id = static_cast<int32_t>((s >> 33) % vocab);
  }
  return ids;
}

// Every parameter, as float64 leaves shared with the model (gradcheck perturbs them in place).
std::string check_model_gradients(TransformerLm& model, int64_t B, int64_t T, SegmentMemory memory = {}) {
  const std::vector<int32_t> inputs = token_ids(B * T, 7, static_cast<int32_t>(model.config().n_token));
  const std::vector<int32_t> targets = token_ids(B * T, 8, static_cast<int32_t>(model.config().n_token));
  LmInput batch{B, T, inputs, targets};
  auto f = [&](const std::vector<Tensor>&) {
    SegmentMemory mem = memory;  // the memory stays fixed: it is detached from the parameters
    return model.loss(batch, &mem);
  };
  testing::GradcheckOptions options;
  options.atol = 1e-6;
  options.rtol = 1e-4;
  return testing::gradcheck(f, model.parameters(), options);
}

}  // namespace

TEST_CASE("lm: parameter names and shapes follow the reference", "[models][lm]") {
  Generator gen(1);
  TransformerLm model(tiny_config("fourier", {4, 8}), gen);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : model.named_parameters()) shapes[name] = t.shape();
  CHECK(shapes.at("word_emb.emb_layers.0.weight") == Shape{13, 8});
  CHECK(shapes.at("layers.1.dec_attn.R") == Shape{1});
  CHECK(shapes.at("layers.0.dec_attn.q_net.weight") == Shape{8, 8});
  CHECK(shapes.at("layers.0.dec_attn.kv_net.weight") == Shape{16, 8});
  CHECK(shapes.at("layers.0.dec_attn.o_net.weight") == Shape{8, 8});
  CHECK(shapes.at("layers.0.dec_attn.layer_norm.weight") == Shape{8});
  CHECK(shapes.at("layers.0.pos_ff.CoreNet.0.weight") == Shape{12, 8});
  CHECK(shapes.at("layers.0.pos_ff.CoreNet.3.bias") == Shape{8});
  CHECK(shapes.at("layers.0.pos_ff.layer_norm.bias") == Shape{8});
  CHECK(shapes.at("crit.cluster_weight") == Shape{2, 8});
  CHECK(shapes.at("crit.cluster_bias") == Shape{2});
  CHECK(shapes.at("crit.out_layers.0.bias") == Shape{13});
  CHECK(shapes.size() == 1 + 2 * 12 + 3);  // no q/k/v/o biases, no second output matrix
  CHECK(model.fourier_R() == std::vector<double>{2.0, 2.0});
}

TEST_CASE("lm: initialisation is the reference's", "[models][lm]") {
  TransformerLmConfig c = tiny_config("softmax", {100, 400});
  c.n_token = 1000;
  c.d_model = 64;
  c.d_inner = 256;
  c.init_std = 0.02;
  Generator gen(3);
  TransformerLm model(c, gen);
  auto stats = [](const Tensor& t) {
    std::vector<double> v = t.to_vector<double>();
    double m = 0, s = 0;
    for (double x : v) m += x;
    m /= v.size();
    for (double x : v) s += (x - m) * (x - m);
    return std::pair{m, std::sqrt(s / v.size())};
  };
  auto [em, es] = stats(model.embedding_weight());
  CHECK(std::abs(em) < 1e-3);
  CHECK(es == Approx(0.02).epsilon(0.05));
  auto [lm, ls] = stats(model.layers[0]->dec_attn->layer_norm->weight);
  CHECK(lm == Approx(1.0).epsilon(0.01));
  CHECK(ls == Approx(0.02).epsilon(0.3));
  CHECK(stats(model.layers[0]->pos_ff->fc1->bias).second == 0.0);
  CHECK(stats(model.crit->cluster_weight).second == Approx(0.02).epsilon(0.3));
  CHECK(stats(model.crit->cluster_bias).second == 0.0);
}

TEST_CASE("lm: float64 gradient check, softmax attention, adaptive softmax", "[models][lm][gradcheck]") {
  Generator gen(11);
  TransformerLm model(tiny_config("softmax", {4, 8}), gen, DType::F64);
  REQUIRE(check_model_gradients(model, 2, 5) == "");
}

TEST_CASE("lm: float64 gradient check, Fourier attention (scalar and per-dim R)", "[models][lm][gradcheck]") {
  for (bool per_dim : {false, true}) {
    Generator gen(12);
    TransformerLm model(tiny_config("fourier", {4, 8}, 0, per_dim), gen, DType::F64);
    INFO("per_dim " << per_dim);
    REQUIRE(check_model_gradients(model, 2, 5) == "");
  }
}

TEST_CASE("lm: float64 gradient check, full softmax without cutoffs", "[models][lm][gradcheck]") {
  Generator gen(13);
  TransformerLm model(tiny_config("fourier", {}), gen, DType::F64);
  REQUIRE(check_model_gradients(model, 1, 4) == "");
}

TEST_CASE("lm: float64 gradient check with segment memory", "[models][lm][gradcheck]") {
  for (const std::string kind : {"softmax", "fourier"}) {
    Generator gen(14);
    TransformerLm model(tiny_config(kind, {4, 8}, /*mem_len=*/3), gen, DType::F64);
    // A first segment fills the memory; the checked loss is the second segment's.
    SegmentMemory memory;
    const std::vector<int32_t> first = token_ids(2 * 4, 21, 13);
    {
      NoGradGuard no_grad;
      model.loss(LmInput{2, 4, first, first}, &memory);
    }
    REQUIRE(memory.layers.size() == 2);
    REQUIRE(memory.layers[0].shape() == Shape{2, 3, 8});
    INFO(kind);
    REQUIRE(check_model_gradients(model, 2, 4, memory) == "");
  }
}

TEST_CASE("lm: segment memory changes the prediction and keeps the last mem_len positions", "[models][lm]") {
  Generator gen(15);
  TransformerLm model(tiny_config("softmax", {4, 8}, /*mem_len=*/6), gen, DType::F64);
  model.eval();
  NoGradGuard no_grad;
  const std::vector<int32_t> a = token_ids(4, 31, 13), b = token_ids(4, 32, 13);
  SegmentMemory memory;
  const double without = model.loss(LmInput{1, 4, b, a}).item();
  model.loss(LmInput{1, 4, a, a}, &memory);
  CHECK(memory.length() == 4);
  const double with = model.loss(LmInput{1, 4, b, a}, &memory).item();
  CHECK(memory.length() == 6);
  CHECK(std::abs(with - without) > 1e-6);
}

TEST_CASE("lm: with segment memory, position t sees the whole memory and no later token", "[models][lm]") {
  Generator gen(16);
  TransformerLm model(tiny_config("softmax", {4, 8}, /*mem_len=*/3), gen, DType::F64);
  model.eval();
  NoGradGuard no_grad;
  const int64_t T = 4, M = 3;
  auto hidden = [&](const std::vector<int32_t>& ids, SegmentMemory memory) {
    return model.hidden(Tensor::from_vector<int32_t>(ids, {1, T}), &memory);
  };
  SegmentMemory memory;
  model.hidden(Tensor::from_vector<int32_t>(token_ids(T, 41, 13), {1, T}), &memory);
  REQUIRE(memory.length() == M);
  const std::vector<int32_t> segment = token_ids(T, 42, 13);
  const Tensor h = hidden(segment, memory);
  auto position = [](const Tensor& x, int64_t t) { return slice(x, 1, t, t + 1); };

  std::vector<int32_t> other_last = segment;
  other_last[T - 1] = (other_last[T - 1] + 1) % 13;
  const Tensor h_future = hidden(other_last, memory);
  CHECK(testing::max_abs_diff(slice(h_future, 1, 0, T - 1), slice(h, 1, 0, T - 1)) == 0.0);
  CHECK(testing::max_abs_diff(position(h_future, T - 1), position(h, T - 1)) > 1e-6);

  // The last (most recent) memory position of the first layer: a key for every query.
  SegmentMemory other_memory = memory;
  const Tensor& m0 = memory.layers[0];
  other_memory.layers[0] = concat({slice(m0, 1, 0, M - 1), add(slice(m0, 1, M - 1, M), 0.5)}, 1);
  const Tensor h_memory = hidden(segment, other_memory);
  for (int64_t t = 0; t < T; ++t) {
    INFO("position " << t);
    CHECK(testing::max_abs_diff(position(h_memory, t), position(h, t)) > 1e-6);
  }
}

TEST_CASE("lm: adaptive log-probabilities sum to one over the vocabulary", "[models][lm]") {
  for (const std::vector<int64_t>& cutoffs : {std::vector<int64_t>{4, 8}, std::vector<int64_t>{5}, std::vector<int64_t>{}}) {
    Generator gen(16);
    TransformerLm model(tiny_config("fourier", cutoffs), gen, DType::F64);
    model.eval();
    NoGradGuard no_grad;
    const std::vector<int32_t> ids = token_ids(3 * 5, 41, 13);
    Tensor h = model.hidden(Tensor::from_vector<int32_t>(ids, {3, 5}));
    Tensor lp = model.log_prob(reshape(h, {15, 8}));
    REQUIRE(lp.shape() == Shape{15, 13});
    std::vector<double> v = lp.to_vector<double>();
    for (int64_t r = 0; r < 15; ++r) {
      double total = 0;
      for (int64_t t = 0; t < 13; ++t) total += std::exp(v[r * 13 + t]);
      CHECK(total == Approx(1.0).epsilon(1e-12));
    }
    // The training loss reads the same distribution: mean of -log p[target].
    const std::vector<int32_t> targets = token_ids(15, 42, 13);
    double expected = 0;
    for (int64_t r = 0; r < 15; ++r) expected -= v[r * 13 + targets[r]];
    expected /= 15;
    CHECK(model.loss(LmInput{3, 5, ids, targets}).item() == Approx(expected).epsilon(1e-12));
    // Scoring only some positions sums the same terms.
    std::vector<int32_t> begin = {0, 4, 2};
    double scored = 0;
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t j = begin[r]; j < 5; ++j) scored -= v[(r * 5 + j) * 13 + targets[r * 5 + j]];
    CHECK(model.scored_nll_sum(LmInput{3, 5, ids, targets}, begin).item() == Approx(scored).epsilon(1e-12));
  }
}

TEST_CASE("lm: a head column per tail cluster, read from the end", "[models][lm]") {
  Generator gen(17);
  TransformerLm model(tiny_config("softmax", {4, 8}), gen, DType::F64);
  model.eval();
  NoGradGuard no_grad;
  Tensor h = testing::random_tensor({1, 8}, 5);
  // Tail 1 ([4, 8)) uses the last cluster row: raising cluster_bias[1] raises p(tokens 4..7)
  // and leaves the ratio between tail-2 tokens and shortlist tokens unchanged.
  std::vector<double> before = model.log_prob(h).to_vector<double>();
  model.crit->cluster_bias.data<double>()[1] += 1.0;
  std::vector<double> after = model.log_prob(h).to_vector<double>();
  CHECK(after[5] - before[5] > 0.1);
  CHECK((after[10] - after[0]) == Approx(before[10] - before[0]).epsilon(1e-12));
  CHECK(after[10] - before[10] < 0);
}

namespace {

// About 4 KB of plain English, repeated with variations so that a small model can learn it.
std::string english_text() {
  const char* sentences[] = {
      "the cat sat on the mat and looked at the door .",
      "a dog ran across the field to find the old ball .",
      "the children went to school in the morning and came home at night .",
      "she opened the window because the room was warm .",
      "the river runs through the town and into the sea .",
      "he wrote a letter to his mother every week .",
      "the farmer planted corn in the spring and cut it in the fall .",
      "we walked along the road until the sun went down .",
      "the old man told the story of the long winter .",
      "they built a small house near the river .",
  };
  std::ostringstream out;
  for (int rep = 0; rep < 12; ++rep)
    for (int i = 0; i < 10; ++i) out << sentences[(i * 3 + rep) % 10] << "\n";
  return out.str();
}

}  // namespace

TEST_CASE("lm: the loss of a tiny model on English text drops in 120 steps", "[models][lm][training]") {
  std::map<std::string, int32_t> vocab{{"<eos>", 0}};
  std::vector<int32_t> ids;
  std::istringstream lines(english_text());
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    for (std::string w; words >> w;) ids.push_back(vocab.emplace(w, static_cast<int32_t>(vocab.size())).first->second);
    ids.push_back(0);
  }
  REQUIRE(vocab.size() > 60);

  for (const std::string kind : {"softmax", "fourier"}) {
    TransformerLmConfig c;
    c.n_token = static_cast<int64_t>(vocab.size());
    c.n_layer = 2;
    c.d_model = 32;
    c.n_head = 2;
    c.d_head = 16;
    c.d_inner = 64;
    c.dropout = 0.0;
    c.cutoffs = {20, 40};
    c.attention.kind = kind;
    Generator gen(1111);
    TransformerLm model(c, gen);
    optim::Adam opt(model.parameters(), 3e-3);
    const int64_t B = 8, T = 16, C = static_cast<int64_t>(ids.size()) / B;
    std::vector<int32_t> in(B * T), tg(B * T);
    double first = 0, last = 0;
    for (int step = 0; step < 120; ++step) {
      const int64_t start = (step * T) % (C - T - 1);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) {
          in[b * T + t] = ids[b * C + start + t];
          tg[b * T + t] = ids[b * C + start + t + 1];
        }
      Tensor loss = model.loss(LmInput{B, T, in, tg});
      loss.backward();
      opt.step();
      opt.zero_grad();
      if (step < 5) first += loss.item() / 5;
      if (step >= 115) last += loss.item() / 5;
    }
    INFO(kind << ": first " << first << " last " << last);
    CHECK(first > 4.0);     // about log(vocabulary size) at init
    CHECK(last < first - 2.0);
  }
}
