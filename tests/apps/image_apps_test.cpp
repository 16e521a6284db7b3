// fourierformer-train / -eval on the image task, run as the user runs them: a small ViT on a
// subset of the real Fashion-MNIST files (Debian's dataset-fashion-mnist, which
// scripts/setup.sh installs), the DeiT-tiny configs on an ImageFolder of JPEGs the test writes,
// top-1/top-5 from fourierformer-eval, an exact mid-epoch resume with a different number of
// loader threads, and data-parallel training under mpirun.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/image/idx.h"
#include "data/image_fixtures.h"
#include "dist_support.h"
#include "support/command.h"
#include "support/paths.h"

namespace fs = std::filesystem;
using ff::testing::CommandResult;

namespace {

const fs::path kFashionMnist = "/usr/share/datasets/fashion-mnist";

CommandResult run(const std::string& args) {
  return ff::testing::run_command(std::string("cd '") + ff::testing::source_dir() + "' && " + args);
}

std::string app(const std::string& name) { return std::string(ff::testing::binary_dir()) + "/apps/" + name; }

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("ff-image-apps-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

// The first `n` images and labels of a real IDX pair, written as a new (uncompressed) pair.
void write_idx_subset(const fs::path& images_in, const fs::path& labels_in, int64_t first, int64_t n,
                      const fs::path& images_out, const fs::path& labels_out) {
  const ff::data::IdxDataset d = ff::data::read_idx_dataset(images_in, labels_in);
  REQUIRE(first + n <= d.images.count);
  const int64_t px = d.images.rows * d.images.cols;
  std::vector<uint8_t> images, labels;
  put_be32(images, 0x00000803);
  put_be32(images, static_cast<uint32_t>(n));
  put_be32(images, static_cast<uint32_t>(d.images.rows));
  put_be32(images, static_cast<uint32_t>(d.images.cols));
  images.insert(images.end(), d.images.pixels.begin() + first * px, d.images.pixels.begin() + (first + n) * px);
  put_be32(labels, 0x00000801);
  put_be32(labels, static_cast<uint32_t>(n));
  labels.insert(labels.end(), d.labels.begin() + first, d.labels.begin() + first + n);
  ff::data::testing::write_bytes(images_out, images);
  ff::data::testing::write_bytes(labels_out, labels);
}

// 1,000 training images (900 + 100 held out as valid) and 300 test images of Fashion-MNIST.
fs::path fmnist_subset(const std::string& name) {
  const fs::path dir = fresh_dir(name);
  write_idx_subset(kFashionMnist / "train-images-idx3-ubyte.gz", kFashionMnist / "train-labels-idx1-ubyte.gz", 0, 1000,
                   dir / "train-images-idx3-ubyte", dir / "train-labels-idx1-ubyte");
  write_idx_subset(kFashionMnist / "t10k-images-idx3-ubyte.gz", kFashionMnist / "t10k-labels-idx1-ubyte.gz", 0, 300,
                   dir / "t10k-images-idx3-ubyte", dir / "t10k-labels-idx1-ubyte");
  return dir;
}

// A smaller ViT than the config's (patch 7: 16 patches), on the subset: seconds on a CPU.
std::string tiny_vit(const fs::path& data) {
  return " --set data.path=" + data.string() +
         " --set data.valid_size=100 --set data.batch_size=50 --set model.embed_dim=32 --set model.depth=2"
         " --set model.num_heads=2 --set model.patch_size=7 --set train.max_epochs=0 --set train.log_interval=10"
         " --set eval.batch_size=100";
}

std::vector<nlohmann::json> records(const fs::path& work, const std::string& type) {
  std::vector<nlohmann::json> out;
  std::ifstream in(work / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == type) out.push_back(j);
  }
  return out;
}

}  // namespace

TEST_CASE("apps: a small ViT learns real Fashion-MNIST images and fourierformer-eval reports top-1/top-5",
          "[apps][image]") {
  REQUIRE(fs::exists(kFashionMnist / "train-images-idx3-ubyte.gz"));  // scripts/setup.sh installs it
  const fs::path data = fmnist_subset("fmnist-learn");
  for (const std::string kind : {"softmax", "fourier"}) {
    INFO(kind);
    const fs::path work = fresh_dir("fmnist-learn-" + kind);
    CommandResult t = run(app("fourierformer-train") + " --config configs/vit/vit-fmnist-" + kind + ".yaml --no-progress" +
                          tiny_vit(data) + " --set train.max_steps=150 --set train.eval_interval=150" +
                          " --set train.scheduler.warmup=20 --set data.train_transform.scale=[0.9,1.0]" +
                          " --set data.label_smoothing=0 --work-dir " + work.string());
    INFO(t.output);
    REQUIRE(t.code == 0);
    const auto train = records(work, "train");
    REQUIRE(train.size() == 15);
    CHECK(train[0].contains("images_per_s"));
    CHECK(train[0]["epoch"].get<double>() == Approx(10.0 / 18.0));  // 900 images / 50 = 18 steps an epoch
    const auto evals = records(work, "eval");
    REQUIRE(evals.size() == 1);
    CHECK(evals[0]["split"] == "valid");
    CHECK(evals[0]["units"] == 100);

    const fs::path json = work / "eval.json";
    CommandResult e = run(app("fourierformer-eval") + " --checkpoint " + work.string() + " --split valid,test --json " +
                          json.string());
    INFO(e.output);
    REQUIRE(e.code == 0);
    CHECK(e.output.find("test: loss ") != std::string::npos);
    CHECK(e.output.find(" | top1 ") != std::string::npos);
    CHECK(e.output.find(" | top5 ") != std::string::npos);
    CHECK(e.output.find(" | 300 images") != std::string::npos);
    const auto results = nlohmann::json::parse(read_text(json));
    const auto& test = results["splits"]["test"];
    CHECK(test["units"] == 300);
    // Ten classes: chance is 10% top-1 and 50% top-5. 150 steps on 900 images reach 53.3% /
    // 97.0% (softmax) and 57.0% / 97.0% (Fourier) here; a model that has not learnt stays near
    // chance.
    const double top1 = test["top1"].get<double>(), top5 = test["top5"].get<double>();
    INFO("top-1 " << top1 << ", top-5 " << top5);
    CHECK(top1 > 40.0);
    CHECK(top5 > 85.0);
    CHECK(top5 >= top1);
    // The evaluation the trainer logged for valid is the one eval reproduces from the checkpoint.
    CHECK(results["splits"]["valid"]["loss"].get<double>() == Approx(evals[0]["loss"].get<double>()).epsilon(1e-6));

    // The paper's head-redundancy metric for the ViT: over the first 20 test images.
    CommandResult h = run(app("fourierformer-eval") + " --checkpoint " + work.string() +
                          " --split test --head-diversity --segments 20 --json " + json.string());
    INFO(h.output);
    REQUIRE(h.code == 0);
    const auto div = nlohmann::json::parse(read_text(json))["splits"]["test"];
    CHECK(div["head_div_segments"] == 20);
    // Two heads' maps over 17 tokens: rows of 17 weights that sum to one, so distances lie in
    // (0, sqrt(2 * 17)); trained heads differ.
    CHECK(div["head_div_mean"].get<double>() > 0.01);
    CHECK(div["head_div_mean"].get<double>() < std::sqrt(34.0));
    CHECK(div["units"] == 300);  // the accuracy still covers the whole split
  }
}

TEST_CASE("apps: an image run resumed mid-epoch with other loader threads continues exactly", "[apps][image]") {
  const fs::path data = fmnist_subset("fmnist-resume");
  // The whole recipe: RandAugment, erasing, mixup/cutmix, repeated augmentation (of the 900
  // images per epoch, 768, as DeiT rounds 900 down to a multiple of 256).
  const std::string recipe = tiny_vit(data) +
                             " --set data.train_transform.auto_augment=rand-m9-mstd0.5-inc1"
                             " --set data.train_transform.reprob=0.25 --set data.mixup.prob=1.0"
                             " --set data.repeated_aug=true --set data.batch_size=32"
                             " --set train.max_steps=12 --set train.log_interval=4 --set train.eval_interval=0"
                             " --set train.eval_max_batches=1 --set train.checkpoint.interval=5";
  const std::string base = app("fourierformer-train") + " --config configs/vit/vit-fmnist-fourier.yaml --no-progress";
  const fs::path straight = fresh_dir("resume-straight"), resumed = fresh_dir("resume-resumed");
  CommandResult a = run(base + recipe + " --set data.workers=2 --set train.checkpoint.keep_last=3 --work-dir " +
                        straight.string());
  INFO(a.output);
  REQUIRE(a.code == 0);
  // From step 5 (24 steps an epoch: 768 / 32), with the loader on the main thread instead.
  CommandResult b = run(base + recipe + " --set data.workers=0 --resume " + (straight / "checkpoints/step-000005").string() +
                        " --work-dir " + resumed.string());
  INFO(b.output);
  REQUIRE(b.code == 0);
  CHECK(b.output.find("resumed from") != std::string::npos);
  const auto x = records(straight, "train"), y = records(resumed, "train");
  REQUIRE(x.size() == 3);  // steps 4, 8, 12
  REQUIRE(y.size() == 2);  // steps 8, 12 (the window of step 8 began before the checkpoint)
  for (size_t i = 0; i < 2; ++i) {
    INFO("record " << i);
    CHECK(y[i]["step"] == x[i + 1]["step"]);
    CHECK(y[i]["loss"].get<double>() == x[i + 1]["loss"].get<double>());  // the same bits
  }
  CHECK(read_text(straight / "checkpoints/step-000012/model.safetensors") ==
        read_text(resumed / "checkpoints/step-000012/model.safetensors"));
}

TEST_CASE("apps: the flt ViT config trains, and its attention keys are checked with the key named, exit 2",
          "[apps][image][flt]") {
  const fs::path data = fmnist_subset("fmnist-flt");
  const std::string base = app("fourierformer-train") + " --config configs/vit/vit-fmnist-flt.yaml --no-progress" +
                           tiny_vit(data) +
                           " --set train.max_steps=4 --set train.log_interval=2 --set train.eval_interval=0";
  const fs::path work = fresh_dir("flt-run");
  CommandResult r = run(base + " --work-dir " + work.string());
  INFO(r.output);
  REQUIRE(r.code == 0);
  const auto train = records(work, "train");
  REQUIRE(train.size() == 2);
  for (const auto& t : train) CHECK(std::isfinite(t["loss"].get<double>()));
  struct Case {
    std::string args, key, expect;
  };
  for (const Case& c : {Case{" --set model.attention.position_features=0", "'model.attention.position_features'", "0"},
                        Case{" --set model.attention.components=0", "'model.attention.components'", "0"},
                        Case{" --set model.attention.features=-3", "'model.attention.features'", "-3"},
                        Case{" --set model.attention.den_floor=0", "'model.attention.den_floor'", "0"},
                        Case{" --set model.attention.kind=fourier_rf", "'model.attention.kind'", "flt"},
                        Case{" --set eval.head_diversity_segments=4", "'eval.head_diversity_segments'",
                             "flt attention never forms"}}) {
    CommandResult e = run(base + c.args + " --work-dir " + fresh_dir("flt-error").string());
    INFO(c.args << "\n" << e.output);
    CHECK(e.code == 2);
    CHECK(e.output.find(c.key) != std::string::npos);
    CHECK(e.output.find(c.expect) != std::string::npos);
    CHECK(e.output.find("internal error") == std::string::npos);
  }
}

TEST_CASE("apps: the DeiT-tiny configs train on a generated ImageFolder of JPEGs and evaluate top-1/top-5",
          "[apps][image][paper-configs]") {
  // 4 classes x 64 train JPEGs (RGB, some greyscale and CMYK, as ImageNet has), 4 x 2 val.
  const fs::path root = fresh_dir("imagefolder");
  int n = 0;
  for (const std::string split : {"train", "val"}) {
    for (int c = 0; c < 4; ++c) {
      const fs::path dir = root / split / ("n0000000" + std::to_string(c));
      fs::create_directories(dir);
      for (int i = 0; i < (split == "train" ? 64 : 2); ++i, ++n) {
        const int w = 40 + (n % 5) * 7, h = 36 + (n % 3) * 11;
        const int format = n % 16 == 7 ? TJPF_GRAY : n % 16 == 11 ? TJPF_CMYK : TJPF_RGB;
        const int channels = format == TJPF_GRAY ? 1 : format == TJPF_CMYK ? 4 : 3;
        std::vector<uint8_t> pixels = ff::data::testing::test_pattern(w, h, channels);
        for (size_t k = 0; k < pixels.size(); ++k) pixels[k] = static_cast<uint8_t>(pixels[k] + 40 * c + 3 * i);
        ff::data::testing::write_bytes(dir / (std::to_string(i) + ".JPEG"),
                                       ff::data::testing::encode_jpeg(pixels, w, h, format,
                                                                      format == TJPF_GRAY ? TJSAMP_GRAY : TJSAMP_420, 90));
      }
    }
  }
  for (const std::string kind : {"softmax", "fourier"}) {
    INFO(kind);
    const fs::path work = fresh_dir("deit-" + kind);
    CommandResult t = run(app("fourierformer-train") + " --config configs/vit/deit-tiny-imagenet-" + kind +
                          ".yaml --no-progress --set data.path=" + root.string() +
                          " --set data.batch_size=4 --set data.workers=2 --set eval.batch_size=4"
                          " --set train.max_epochs=0 --set train.max_steps=2 --set train.log_interval=1"
                          " --set train.scheduler.unit=step --set train.scheduler.warmup=1 --work-dir " + work.string());
    INFO(t.output);
    REQUIRE(t.code == 0);
    // DeiT's linear scaling rule on the 4-image batch: 5e-4 x 4 / 512.
    CHECK(t.output.find("lr 0.0005 x batch 4 / 512 = 3.90625e-06") != std::string::npos);
    const auto train = records(work, "train");
    REQUIRE(train.size() == 2);
    CHECK(std::isfinite(train[1]["loss"].get<double>()));
    CHECK(train[0]["epoch"].get<double>() == Approx(1.0 / 64.0));  // RA: 256 samples / 4 per step
    CommandResult e = run(app("fourierformer-eval") + " --checkpoint " + work.string() + " --split val");
    INFO(e.output);
    REQUIRE(e.code == 0);
    CHECK(e.output.find("val: loss ") != std::string::npos);
    CHECK(e.output.find(" | top5 100.0000 | 8 images") != std::string::npos);  // 4 classes: top-5 is everything
  }
}

TEST_CASE("apps: 2 ranks train the small ViT to the parameters of one process on the global batch",
          "[apps][image][dist][mpi]") {
  FF_REQUIRE_MPI();
  namespace dist = ff::testing::dist;
  const fs::path data = fmnist_subset("fmnist-dist");
  const fs::path root = fresh_dir("dist");
  // Each rank reads its 25 of the sampler's 50 images per step; crops and flips are drawn per
  // image, so they agree with one process's. No stochastic depth (the ranks draw other masks).
  const std::string args = "--config configs/vit/vit-fmnist-softmax.yaml --no-progress --set device=cpu" + tiny_vit(data) +
                           " --set model.drop_path=0 --set data.workers=1 --set train.max_steps=3"
                           " --set train.log_interval=1 --set train.eval_interval=0 --set train.checkpoint.interval=0"
                           " --set train.optimizer.name=sgd --set train.optimizer.lr=0.1"
                           " --set train.optimizer.momentum=0.9 --set train.optimizer.weight_decay=0"
                           " --set train.scheduler.name=constant --set train.scheduler.warmup=0";
  const dist::Result one = dist::launch(0, root / "d1", args + " --work-dir " + (root / "w1").string());
  INFO(one.output);
  REQUIRE(one.code == 0);
  const dist::Result two = dist::launch(2, root / "d2", args + " --work-dir " + (root / "w2").string());
  INFO(two.output);
  REQUIRE(two.code == 0);
  REQUIRE(dist::max_difference(dist::params(root / "d1", 0, 1), dist::params(root / "d1", 0, 3)) > 1e-3);
  for (int step = 1; step <= 3; ++step) {
    INFO("step " << step);
    const std::vector<float> p = dist::params(root / "d2", 0, step);
    CHECK(dist::params(root / "d2", 1, step) == p);
    CHECK(dist::max_difference(p, dist::params(root / "d1", 0, step)) < dist::kTolerance);
    CHECK(dist::records(root / "d2", 1).at(step - 1)["units"] == 50);
  }
  // The final evaluation covers the 100 held-out images once, split between the ranks.
  const auto eval1 = records(root / "w1", "eval"), eval2 = records(root / "w2", "eval");
  REQUIRE(eval1.size() == 1);
  REQUIRE(eval2.size() == 1);
  CHECK(eval2[0]["units"] == 100);
  CHECK(eval2[0]["loss"].get<double>() == Approx(eval1[0]["loss"].get<double>()).epsilon(dist::kTolerance));
  CHECK(eval2[0]["top1"].get<double>() == eval1[0]["top1"].get<double>());
}
