// The Vision Transformer (models/vit): timm's parameter names and shapes, DeiT-tiny's size,
// initialisation, a float64 gradient check of a tiny model with each attention, stochastic
// depth rates, the cls-token read-out, attention maps, and learning a toy image task.

#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/optim/adam.h"
#include "models/vit/vit.h"
#include "support/gradcheck.h"

using namespace ff;
using namespace ff::models;

namespace {

VitConfig tiny_config(const std::string& kind) {
  VitConfig c;
  c.image_size = 8;
  c.patch_size = 4;
  c.in_chans = 2;
  c.num_classes = 3;
  c.embed_dim = 8;
  c.depth = 2;
  c.num_heads = 2;
  c.mlp_ratio = 2.0;
  c.drop_path = 0.0;
  c.attention.kind = kind;
  c.attention.features = 4;  // flt: small features, so the gradient check stays fast
  c.attention.position_features = 3;
  c.attention.components = 2;
  return c;
}

std::pair<double, double> mean_std(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / static_cast<double>(v.size()))};
}

}  // namespace

TEST_CASE("vit: deit_tiny_patch16_224 has timm's parameter names, shapes and count", "[models][vit]") {
  VitConfig c;  // the defaults are DeiT-tiny
  Generator gen(1);
  VisionTransformer model(c, gen);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : model.named_parameters()) shapes[name] = t.shape();
  CHECK(shapes.at("cls_token") == Shape{1, 1, 192});
  CHECK(shapes.at("pos_embed") == Shape{1, 197, 192});
  CHECK(shapes.at("patch_embed.proj.weight") == Shape{192, 3, 16, 16});
  CHECK(shapes.at("patch_embed.proj.bias") == Shape{192});
  CHECK(shapes.at("blocks.0.norm1.weight") == Shape{192});
  CHECK(shapes.at("blocks.0.attn.qkv.weight") == Shape{576, 192});
  CHECK(shapes.at("blocks.0.attn.qkv.bias") == Shape{576});
  CHECK(shapes.at("blocks.11.attn.proj.weight") == Shape{192, 192});
  CHECK(shapes.at("blocks.11.mlp.fc1.weight") == Shape{768, 192});
  CHECK(shapes.at("blocks.11.mlp.fc2.bias") == Shape{192});
  CHECK(shapes.at("norm.bias") == Shape{192});
  CHECK(shapes.at("head.weight") == Shape{1000, 192});
  CHECK(shapes.size() == 4 + 12 * 12 + 4);
  // timm's deit_tiny_patch16_224 has 5,717,416 parameters.
  CHECK(model.num_parameters() == 5717416);
  CHECK(model.fourier_R().empty());

  c.attention.kind = "fourier";
  VisionTransformer fourier(c, gen);
  CHECK(fourier.num_parameters() == 5717416 + 12);  // one R per block
  CHECK(fourier.fourier_R() == std::vector<double>(12, 1.0));
}

TEST_CASE("vit: fourier_rf and rfa attention are refused with the key named", "[models][vit]") {
  for (const char* kind : {"fourier_rf", "rfa"}) {
    Generator gen(1);
    CHECK_THROWS_WITH(VisionTransformer(tiny_config(kind), gen),
                      Catch::Contains("model.attention.kind: expected softmax, fourier or flt") && Catch::Contains(kind));
  }
}

TEST_CASE("vit: flt attention has a mask per block over 2-D patch positions, the cls token at the centre",
          "[models][vit][flt]") {
  Generator gen(8);
  VisionTransformer model(tiny_config("flt"), gen, DType::F64);
  std::vector<std::string> names;
  for (auto& [name, t] : model.named_parameters())
    if (name.find(".flt.") != std::string::npos) names.push_back(name + shape_str(t.shape()));
  CHECK(names == std::vector<std::string>{
                     "blocks.0.attn.flt.mixture_logits[2, 2]", "blocks.0.attn.flt.mixture_means[2, 2, 2]",
                     "blocks.0.attn.flt.mixture_log_scales[2, 2]", "blocks.1.attn.flt.mixture_logits[2, 2]",
                     "blocks.1.attn.flt.mixture_means[2, 2, 2]", "blocks.1.attn.flt.mixture_log_scales[2, 2]"});
  std::vector<std::string> buffers;
  for (auto& [name, t] : model.named_buffers()) buffers.push_back(name + shape_str(t.shape()));
  CHECK(buffers == std::vector<std::string>{"blocks.0.attn.flt.freqs[4, 4]", "blocks.0.attn.flt.position_freqs[3, 2]",
                                            "blocks.1.attn.flt.freqs[4, 4]", "blocks.1.attn.flt.position_freqs[3, 2]"});
  // A 2x2 grid: the cls token at (0.5, 0.5), then the patches in row-major order.
  CHECK(patch_positions(2, DType::F64, Device::cpu()).to_vector<double>() ==
        std::vector<double>{0.5, 0.5, 0, 0, 0, 1, 1, 0, 1, 1});
  // No attention maps, and the head-redundancy metric says why.
  std::vector<Tensor> maps;
  const Tensor images = testing::random_tensor({1, 2, 8, 8}, 13, -1, 1, DType::F64);
  CHECK_THROWS_WITH(model.forward(images, &maps), Catch::Contains("not available for flt"));
  // Redraws reach every block (Task::begin_step -> set_step).
  VitConfig c = tiny_config("flt");
  c.attention.redraw_interval = 2;
  Generator gen2(8);
  VisionTransformer redrawn(c, gen2, DType::F64);
  const Tensor before = clone(redrawn.blocks[1]->attn->flt->position_freqs);
  redrawn.set_step(1);
  CHECK(testing::max_abs_diff(redrawn.blocks[1]->attn->flt->position_freqs, before) == 0.0);
  redrawn.set_step(2);
  CHECK(testing::max_abs_diff(redrawn.blocks[1]->attn->flt->position_freqs, before) > 0.1);
}

TEST_CASE("vit: initialisation as timm 0.3 (DeiT)", "[models][vit]") {
  VitConfig c;
  c.depth = 2;
  Generator gen(3);
  VisionTransformer model(c, gen);
  auto [qm, qs] = mean_std(model.blocks[0]->attn->qkv->weight);
  CHECK(std::abs(qm) < 1e-3);
  CHECK(qs == Approx(0.02).epsilon(0.02));
  auto [pm, ps] = mean_std(model.pos_embed);
  CHECK(ps == Approx(0.02).epsilon(0.05));
  CHECK(model.blocks[0]->attn->qkv->bias.to_vector<float>() == std::vector<float>(576, 0.0f));
  CHECK(model.head->bias.to_vector<float>() == std::vector<float>(1000, 0.0f));
  CHECK(model.blocks[1]->norm2->weight.to_vector<float>() == std::vector<float>(192, 1.0f));
  // The patch convolution keeps PyTorch's default: uniform in +-1/sqrt(3 * 16 * 16).
  const std::vector<float> w = model.patch_proj->weight.to_vector<float>();
  const float bound = 1.0f / std::sqrt(768.0f);
  CHECK(*std::max_element(w.begin(), w.end()) <= bound);
  CHECK(*std::min_element(w.begin(), w.end()) >= -bound);
  CHECK(*std::max_element(w.begin(), w.end()) > 0.95f * bound);
}

TEST_CASE("vit: stochastic depth rises linearly to drop_path", "[models][vit]") {
  VitConfig c = tiny_config("softmax");
  c.depth = 5;
  c.drop_path = 0.1;
  Generator gen(2);
  VisionTransformer model(c, gen);
  std::vector<double> rates;
  for (const auto& b : model.blocks) rates.push_back(b->drop_path->p);
  REQUIRE(rates.size() == 5);
  CHECK(rates[0] == 0.0);
  CHECK(rates[1] == Approx(0.025));
  CHECK(rates[2] == Approx(0.05));
  CHECK(rates[4] == Approx(0.1));
}

TEST_CASE("vit: float64 gradient check of a tiny model, softmax, Fourier and FLT attention", "[models][vit]") {
  for (const std::string kind : {"softmax", "fourier", "flt"}) {
    INFO(kind);
    Generator gen(5);
    VisionTransformer model(tiny_config(kind), gen, DType::F64);
    model.eval();  // no dropout or drop path: a deterministic function
    const Tensor images = testing::random_tensor({2, 2, 8, 8}, 11, -1, 1, DType::F64);
    const Tensor labels = Tensor::from_vector<int64_t>({0, 2}, {2});
    auto f = [&](const std::vector<Tensor>&) { return cross_entropy(model.forward(images), labels); };
    testing::GradcheckOptions options;
    options.rtol = 1e-4;
    CHECK(testing::gradcheck(f, model.parameters(), options) == "");
    // ... and with respect to the image.
    auto g = [&](const std::vector<Tensor>& in) { return model.forward(in[0]); };
    CHECK(testing::gradcheck(g, {images}, options) == "");
  }
}

TEST_CASE("vit: the logits come from the cls token, maps are (B, H, N + 1, N + 1) per block", "[models][vit]") {
  Generator gen(6);
  VisionTransformer model(tiny_config("fourier"), gen, DType::F64);
  model.eval();
  NoGradGuard no_grad;
  const Tensor images = testing::random_tensor({3, 2, 8, 8}, 12, -1, 1, DType::F64);
  std::vector<Tensor> maps;
  const Tensor logits = model.forward(images, &maps);
  CHECK(logits.shape() == Shape{3, 3});
  REQUIRE(maps.size() == 2);
  CHECK(maps[1].shape() == Shape{3, 2, 5, 5});
  // Each map row is a distribution over the 5 tokens (up to the Fourier eps key).
  const std::vector<double> m = maps[0].to_vector<double>();
  for (size_t row = 0; row < m.size() / 5; ++row) {
    double s = 0;
    for (int j = 0; j < 5; ++j) s += m[row * 5 + j];
    CHECK(s == Approx(1.0).epsilon(1e-4));
  }
  // Changing the head's row for class 1 changes only logit 1.
  Tensor w = model.head->weight;
  Tensor before = logits;
  w.data<double>()[1 * 8 + 3] += 0.5;
  const Tensor after = model.forward(images);
  const std::vector<double> a = before.to_vector<double>(), b = after.to_vector<double>();
  for (int64_t i = 0; i < 3; ++i) {
    CHECK(a[i * 3 + 0] == b[i * 3 + 0]);
    CHECK(a[i * 3 + 1] != b[i * 3 + 1]);
    CHECK(a[i * 3 + 2] == b[i * 3 + 2]);
  }
}

TEST_CASE("vit: a tiny ViT learns which quadrant of an image is bright", "[models][vit]") {
  for (const std::string kind : {"softmax", "fourier"}) {
    INFO(kind);
    VitConfig c = tiny_config(kind);
    c.in_chans = 1;
    c.num_classes = 4;
    c.embed_dim = 16;
    Generator gen(7);
    VisionTransformer model(c, gen);
    // 64 images of noise, one quadrant brighter: the label is the quadrant.
    std::vector<float> pixels(64 * 64);
    std::vector<int64_t> labels(64);
    uint64_t s = 99;
    for (int64_t n = 0; n < 64; ++n) {
      labels[n] = n % 4;
      for (int64_t y = 0; y < 8; ++y)
        for (int64_t x = 0; x < 8; ++x) {
          s = s * 6364136223846793005ULL + 1442695040888963407ULL;
          const float noise = static_cast<float>((s >> 40) % 1000) / 1000.0f - 0.5f;
          const int64_t quadrant = (y >= 4) * 2 + (x >= 4);
          pixels[n * 64 + y * 8 + x] = noise + (quadrant == labels[n] ? 1.0f : 0.0f);
        }
    }
    const Tensor images = Tensor::from_vector(pixels, {64, 1, 8, 8});
    const Tensor y = Tensor::from_vector(labels, {64});
    optim::AdamW opt(optim::decay_groups(model.named_parameters(), 3e-3, 0.0));
    double first = 0, last = 0;
    for (int step = 0; step < 60; ++step) {
      Tensor loss = cross_entropy(model.forward(images), y);
      if (step == 0) first = loss.item();
      last = loss.item();
      loss.backward();
      opt.step();
      opt.zero_grad();
    }
    INFO("loss " << first << " -> " << last);
    CHECK(first > 1.2);  // about ln 4 = 1.39 at the start
    CHECK(last < 0.3);
  }
}
