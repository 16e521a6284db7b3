#include "apps/tasks/image_task.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>

#include "apps/tasks/attention_config.h"
#include "core/autograd/autograd.h"
#include "core/dist/communicator.h"
#include "core/ops/ops.h"
#include "data/image/image_source.h"
#include "data/image/loader.h"
#include "data/image/samplers.h"
#include "data/image/transforms.h"
#include "data/image/transforms_mixup.h"
#include "models/attention/head_diversity.h"
#include "models/vit/vit.h"

namespace ff::apps {

namespace fs = std::filesystem;

namespace {

struct ImageDataConfig {
  std::string format = "imagefolder";  // imagefolder | idx
  fs::path path;
  int64_t batch_size = 256;  // global: over all ranks and before gradient accumulation
  int workers = 4;
  int64_t prefetch = 2;
  bool skip_unreadable = false;
  bool scaled_decode = true;
  bool repeated_aug = true;
  int64_t repeats = 3;
  int64_t valid_size = 0;  // idx: images of the train file held out as `valid`
  double label_smoothing = 0.1;
  bool mixup = true;
  data::TrainTransformConfig train;
  data::EvalTransformConfig eval;
  data::MixupConfig mix;
};

struct ImageEvalConfig {
  int64_t batch_size = 256;
  int64_t head_diversity_segments = 0;  // images
};

struct ImageTaskConfig {
  ImageDataConfig data;
  ImageEvalConfig eval;
  models::VitConfig model;
};

std::array<double, 2> pair(const config::Section& s, const char* key, std::array<double, 2> fallback) {
  const std::vector<double> v = s.get<std::vector<double>>(key, {fallback[0], fallback[1]});
  if (v.size() != 2 || !(v[0] <= v[1])) s.fail(key, fmt::format("must be two numbers [low, high], got {} values", v.size()));
  return {v[0], v[1]};
}

ImageTaskConfig parse_image_config(const config::Section& root) {
  using namespace config;
  ImageTaskConfig c;
  const Section d = root.section("data");
  ImageDataConfig& data = c.data;
  data.format = d.choice("format", data.format, {"imagefolder", "idx"});
  const std::string raw_path = d.require<std::string>("path");
  data.path = expand_env(raw_path);
  if (!fs::is_directory(data.path))
    d.fail("path", fmt::format("must be a directory ({}), '{}' does not exist{}{}",
                               data.format == "idx" ? "the IDX files, e.g. /usr/share/datasets/fashion-mnist"
                                                    : "an ImageFolder root with train/ and val/, docs/imagenet.md",
                               data.path.string(), data.path.string() != raw_path ? fmt::format(" (from '{}')", raw_path) : "",
                               data.format == "idx" ? "; scripts/data/prepare-fashion-mnist.sh installs Fashion-MNIST" : ""));
  data.batch_size = d.get<int64_t>("batch_size", data.batch_size, at_least(1));
  data.workers = d.get<int>("workers", data.workers, between(0, 256));
  data.prefetch = d.get<int64_t>("prefetch", data.prefetch, at_least(1));
  data.skip_unreadable = d.get<bool>("skip_unreadable", data.skip_unreadable);
  data.scaled_decode = d.get<bool>("scaled_decode", data.scaled_decode);
  data.repeated_aug = d.get<bool>("repeated_aug", data.repeated_aug);
  data.repeats = d.get<int64_t>("repeats", data.repeats, at_least(1));
  data.valid_size = d.get<int64_t>("valid_size", data.valid_size, at_least(0));
  if (data.format != "idx" && data.valid_size > 0) d.fail("valid_size", "holds out train images of IDX data only");
  data.label_smoothing = d.get<double>("label_smoothing", data.label_smoothing, probability());

  const Section m = root.section("model");
  models::VitConfig& vit = c.model;
  vit.image_size = m.get<int64_t>("image_size", vit.image_size, at_least(1));
  vit.patch_size = m.get<int64_t>("patch_size", vit.patch_size, at_least(1));
  vit.embed_dim = m.get<int64_t>("embed_dim", vit.embed_dim, at_least(1));
  vit.depth = m.get<int64_t>("depth", vit.depth, at_least(1));
  vit.num_heads = m.get<int64_t>("num_heads", vit.num_heads, at_least(1));
  vit.mlp_ratio = m.get<double>("mlp_ratio", vit.mlp_ratio, positive());
  vit.qkv_bias = m.get<bool>("qkv_bias", vit.qkv_bias);
  vit.dropout = m.get<double>("dropout", vit.dropout, probability());
  vit.drop_path = m.get<double>("drop_path", vit.drop_path, probability());
  vit.init_std = m.get<double>("init_std", vit.init_std, positive());
  const Section a = m.section("attention");
  vit.attention = parse_attention_config(a, vit.attention, {"softmax", "fourier", "flt"});

  // The transforms: sizes follow the model; the rest per key, switchable.
  const bool grey = data.format == "idx";
  const std::vector<double> default_mean = grey ? std::vector<double>{0.5} : data::kImageNetMean;
  const std::vector<double> default_std = grey ? std::vector<double>{0.5} : data::kImageNetStd;
  const Section t = d.section("train_transform");
  data::TrainTransformConfig& tr = data.train;
  tr.image_size = vit.image_size;
  tr.random_resized_crop = t.get<bool>("random_resized_crop", tr.random_resized_crop);
  tr.scale = pair(t, "scale", tr.scale);
  tr.ratio = pair(t, "ratio", tr.ratio);
  tr.hflip = t.get<double>("hflip", tr.hflip, between(0.0, 1.0));
  tr.auto_augment = t.get<std::string>("auto_augment", tr.auto_augment);
  tr.interpolation = t.choice("interpolation", tr.interpolation, {"bilinear", "bicubic", "random"});
  tr.mean = t.get<std::vector<double>>("mean", default_mean);
  tr.std = t.get<std::vector<double>>("std", default_std);
  tr.reprob = t.get<double>("reprob", tr.reprob, between(0.0, 1.0));
  tr.remode = t.choice("remode", tr.remode, {"const", "rand", "pixel"});
  tr.recount = t.get<int64_t>("recount", tr.recount, at_least(1));
  const Section e = d.section("eval_transform");
  data::EvalTransformConfig& ev = data.eval;
  ev.image_size = vit.image_size;
  ev.crop_pct = e.get<double>("crop_pct", ev.crop_pct, positive());
  ev.resize = e.get<bool>("resize", ev.resize);
  ev.interpolation = e.choice("interpolation", ev.interpolation, {"bilinear", "bicubic"});
  ev.mean = e.get<std::vector<double>>("mean", tr.mean);
  ev.std = e.get<std::vector<double>>("std", tr.std);
  const Section x = d.section("mixup");
  data::MixupConfig& mix = data.mix;
  mix.mixup_alpha = x.get<double>("mixup_alpha", mix.mixup_alpha, non_negative());
  mix.cutmix_alpha = x.get<double>("cutmix_alpha", mix.cutmix_alpha, non_negative());
  mix.prob = x.get<double>("prob", mix.prob, between(0.0, 1.0));
  mix.switch_prob = x.get<double>("switch_prob", mix.switch_prob, between(0.0, 1.0));
  mix.label_smoothing = data.label_smoothing;
  data.mixup = mix.prob > 0 && (mix.mixup_alpha > 0 || mix.cutmix_alpha > 0);

  const Section ev_section = root.section("eval");
  c.eval.batch_size = ev_section.get<int64_t>("batch_size", c.eval.batch_size, at_least(1));
  c.eval.head_diversity_segments = ev_section.get<int64_t>("head_diversity_segments", 0, at_least(0));
  if (c.eval.head_diversity_segments > 0 && vit.attention.is_linear())
    ev_section.fail("head_diversity_segments",
                    fmt::format("needs attention maps, which {} attention never forms: expected 0",
                                vit.attention.kind));
  return c;
}

fs::path idx_file(const fs::path& dir, const std::string& stem) {
  for (const std::string& name : {stem, stem + ".gz"})
    if (fs::exists(dir / name)) return dir / name;
  throw UserError(fmt::format("data.path '{}': no {} or {}.gz (expected MNIST-style IDX files{})", dir.string(), stem,
                              stem, dir == "/usr/share/datasets/fashion-mnist"
                                        ? "; scripts/data/prepare-fashion-mnist.sh installs them"
                                        : ""));
}

class ImageTask : public train::Task {
 public:
  ImageTask(ImageTaskConfig cfg, const train::TaskContext& ctx)
      : cfg_(std::move(cfg)),
        seed_(ctx.train.seed),
        device_(ctx.device),
        rank_(ctx.rank),
        world_(ctx.world_size),
        comm_(ctx.comm) {
    open_splits(ctx.training);
    cfg_.model.in_chans = cfg_.data.format == "idx" ? 1 : 3;
    cfg_.model.num_classes = num_classes_;
    cfg_.data.mix.num_classes = num_classes_;
    train_transform_.emplace(cfg_.data.train, "data.train_transform");
    eval_transform_.emplace(cfg_.data.eval, "data.eval_transform");
    FF_USER_CHECK(train_transform_->channels() == cfg_.model.in_chans,
                  "data.train_transform.mean/std: {} values for {}-channel images", train_transform_->channels(),
                  cfg_.model.in_chans);
    FF_USER_CHECK(cfg_.data.batch_size % world_ == 0, "data.batch_size {} is not divisible by the world size {}",
                  cfg_.data.batch_size, world_);
    rank_batch_ = cfg_.data.batch_size / world_;
    if (cfg_.data.mixup) {
      FF_USER_CHECK(rank_batch_ % 2 == 0, "data.batch_size per rank must be even for mixup/cutmix, got {}",
                    rank_batch_);
      mixup_.emplace(cfg_.data.mix, "data.mixup");
    }
    models::validate(cfg_.model, "model");
    model_ = std::make_shared<models::VisionTransformer>(cfg_.model, ctx.gen);
    model_->to(device_);
    spdlog::info("model: ViT {}x{} patch {}, {} blocks, dim {}, {} heads, {} attention, {} classes, {:.2f}M parameters",
                 cfg_.model.image_size, cfg_.model.image_size, cfg_.model.patch_size, cfg_.model.depth,
                 cfg_.model.embed_dim, cfg_.model.num_heads, cfg_.model.attention.kind, num_classes_,
                 static_cast<double>(model_->num_parameters()) / 1e6);
    if (ctx.training) start_training_data();
  }

  nn::Module& model() override { return *model_; }
  std::string unit() const override { return "images"; }
  void begin_step(int64_t step) override { model_->set_step(step); }
  int64_t batches_per_epoch() const override { return loader_ ? loader_->batches_per_epoch() : 0; }
  int64_t global_batch_size() const override { return cfg_.data.batch_size; }

  std::vector<optim::ParamGroup> param_groups(const std::vector<std::string>& no_decay) override {
    return optim::decay_groups(model_->named_parameters(), 0.0, 0.0, no_decay);
  }

  train::LossOutput train_loss() override {
    FF_CHECK(loader_, "ImageTask: built for evaluation only");
    const data::SampleBatch* batch = loader_->next();
    if (batch == nullptr) {  // the epoch is over: the next one
      ++epoch_;
      start_epoch(epoch_, 0);
      batch = loader_->next();
    }
    const int64_t B = batch->size, C = cfg_.model.in_chans, S = cfg_.model.image_size;
    Tensor images = Tensor::empty({B, C, S, S});
    std::memcpy(images.data<float>(), batch->images.data(), sizeof(float) * static_cast<size_t>(B * C * S * S));
    Tensor loss;
    if (mixup_) {
      // The batch's own stream: (seed, epoch, batch index) in the batch kind.
      data::SampleRng rng(seed_, static_cast<uint64_t>(epoch_), static_cast<uint64_t>(batch->index), 0,
                          data::RngStream::kBatch);
      Tensor targets = Tensor::empty({B, num_classes_});
      (*mixup_)(images.data<float>(), B, C, S, S, batch->labels.data(), targets.data<float>(), rng);
      loss = cross_entropy(model_->forward(to_device(images, device_)), to_device(targets, device_));
    } else {
      Tensor labels = Tensor::from_vector<int64_t>(std::vector<int64_t>(batch->labels.begin(), batch->labels.begin() + B), {B});
      CrossEntropyOptions smoothing;
      smoothing.label_smoothing = cfg_.data.label_smoothing;
      loss = cross_entropy(model_->forward(to_device(images, device_)), to_device(labels, device_), smoothing);
    }
    return {loss, static_cast<double>(B)};
  }

  train::EvalResult evaluate(const std::string& split_name, int64_t max_batches,
                             const train::EvalProgress& progress) override {
    const data::ImageSource& split = split_of(split_name);
    const int64_t C = cfg_.model.in_chans, S = cfg_.model.image_size;
    // Rank r scores r, r + W, ... (no padding, so the ranks together score every image once).
    std::vector<int64_t> order;
    for (int64_t i = rank_; i < split.size(); i += world_) order.push_back(i);
    data::BatchLoader loader(loader_options(cfg_.eval.batch_size, /*drop_last=*/false), eval_fill(split),
                             [&split](int64_t i) { return split.file(i); });
    loader.start_epoch(0, order);
    const int64_t batches = max_batches > 0 ? std::min(max_batches, loader.batches_per_epoch()) : loader.batches_per_epoch();
    double loss_sum = 0, top1 = 0, top5 = 0, units = 0;
    for (int64_t n = 0; n < batches; ++n) {
      const data::SampleBatch* b = loader.next();
      const int64_t B = b->size;
      Tensor images = Tensor::empty({B, C, S, S});
      std::memcpy(images.data<float>(), b->images.data(), sizeof(float) * static_cast<size_t>(B * C * S * S));
      const std::vector<int64_t> labels(b->labels.begin(), b->labels.begin() + B);
      Tensor logits = model_->forward(to_device(images, device_));
      CrossEntropyOptions sum;
      sum.reduction = Reduction::Sum;
      loss_sum += cross_entropy(logits, to_device(Tensor::from_vector<int64_t>(labels, {B}), device_), sum).item();
      const std::vector<float> host = to_dtype(logits, DType::F32).to_vector<float>();
      for (int64_t i = 0; i < B; ++i) {
        const float* row = host.data() + i * num_classes_;
        const float mine = row[labels[static_cast<size_t>(i)]];
        // Rank of the label's logit: classes scoring higher (ties broken towards the label).
        int64_t above = 0;
        for (int64_t k = 0; k < num_classes_; ++k) above += row[k] > mine;
        top1 += above < 1;
        top5 += above < 5;
      }
      units += static_cast<double>(B);
      if (progress) progress(n + 1, batches);
    }
    // Data parallel: the ranks' shares are disjoint and cover the split; its totals are the sums.
    double totals[4] = {loss_sum, top1, top5, units};
    dist::sum_over_ranks(comm_, totals);
    loss_sum = totals[0];
    top1 = totals[1];
    top5 = totals[2];
    units = totals[3];
    train::EvalResult r;
    r.units = units;
    r.loss = units > 0 ? loss_sum / units : 0.0;
    r.metrics["top1"] = units > 0 ? 100.0 * top1 / units : 0.0;
    r.metrics["top5"] = units > 0 ? 100.0 * top5 / units : 0.0;
    if (cfg_.eval.head_diversity_segments > 0) add_head_diversity(split, r);
    return r;
  }

  void check_split(const std::string& split_name) const override {
    const data::ImageSource& split = split_of(split_name);
    FF_USER_CHECK(split.size() > 0, "the {} split of {} is empty", split_name, cfg_.data.path.string());
  }

  std::map<std::string, double> extra_metrics() override {
    std::map<std::string, double> out;
    const std::vector<double> R = model_->fourier_R();
    for (size_t i = 0; i < R.size(); ++i) out[fmt::format("R.{}", i)] = R[i];
    if (loader_ && loader_->skipped() > 0) {
      const int64_t skipped = loader_->skipped();
      out["unreadable_skipped"] = static_cast<double>(skipped);
      if (skipped > reported_skipped_) {
        const std::vector<std::string> names = loader_->skipped_names();
        spdlog::warn("{} unreadable image{} skipped so far (data.skip_unreadable), the latest: {}", skipped,
                     skipped == 1 ? "" : "s", names.back());
        reported_skipped_ = skipped;
      }
    }
    return out;
  }

  nlohmann::json data_state() const override {
    return {{"epoch", epoch_}, {"batch", loader_ ? loader_->next_batch() : 0}};
  }

  void load_data_state(const nlohmann::json& state) override {
    if (!state.is_object() || !state.contains("epoch") || !state.contains("batch") ||
        !state["epoch"].is_number_integer() || !state["batch"].is_number_integer())
      throw UserError(fmt::format("image data state must hold integers 'epoch' and 'batch', got {}", state.dump()));
    const int64_t epoch = state["epoch"].get<int64_t>(), batch = state["batch"].get<int64_t>();
    FF_USER_CHECK(epoch >= 0 && batch >= 0, "image data state: epoch {} and batch {} must be >= 0", epoch, batch);
    if (!loader_) return;
    epoch_ = epoch;
    start_epoch(epoch_, batch);
  }

 private:
  void open_splits(bool training) {
    const fs::path& root = cfg_.data.path;
    if (cfg_.data.format == "imagefolder") {
      data::ImageFolder train = data::ImageFolder::open(root, "train");
      num_classes_ = static_cast<int64_t>(train.classes().size());
      spdlog::info("ImageFolder {}: {} classes, train {} images ({}, {:.2f} s)", root.string(), num_classes_,
                   train.size(), train.open_info().from_cache ? "file list from the cache" : "listed",
                   train.open_info().seconds);
      if (fs::is_directory(root / "val")) {
        data::ImageFolderOptions val_options;
        val_options.classes = train.classes();
        splits_.emplace_back("val", data::ImageFolder::open(root, "val", val_options));
        spdlog::info("ImageFolder {}: val {} images", root.string(), splits_.back().size());
      }
      splits_.emplace(splits_.begin(), "train", std::move(train));
    } else {
      auto train = std::make_shared<const data::IdxDataset>(data::read_idx_dataset(
          idx_file(root, "train-images-idx3-ubyte"), idx_file(root, "train-labels-idx1-ubyte")));
      const int64_t n = train->images.count;
      FF_USER_CHECK(cfg_.data.valid_size < n, "data.valid_size {} leaves no training image of {}", cfg_.data.valid_size, n);
      const fs::path images = idx_file(root, "train-images-idx3-ubyte");
      splits_.emplace_back("train", train, 0, n - cfg_.data.valid_size, images);
      if (cfg_.data.valid_size > 0) splits_.emplace_back("valid", train, n - cfg_.data.valid_size, n, images);
      const fs::path test_images = idx_file(root, "t10k-images-idx3-ubyte");
      auto test = std::make_shared<const data::IdxDataset>(
          data::read_idx_dataset(test_images, idx_file(root, "t10k-labels-idx1-ubyte")));
      FF_USER_CHECK(test->images.rows == train->images.rows && test->images.cols == train->images.cols,
                    "{}: {}x{} images, the train file has {}x{}", test_images.string(), test->images.rows,
                    test->images.cols, train->images.rows, train->images.cols);
      splits_.emplace_back("test", test, 0, test->images.count, test_images);
      int64_t max_label = 0;
      for (uint8_t l : train->labels) max_label = std::max<int64_t>(max_label, l);
      num_classes_ = max_label + 1;
      spdlog::info("IDX {}: {} classes, {}x{} images, train {} / valid {} / test {}", root.string(), num_classes_,
                   train->images.rows, train->images.cols, splits_[0].size(), cfg_.data.valid_size, test->images.count);
    }
    (void)training;
  }

  const data::ImageSource& split_of(const std::string& name) const {
    std::string names;
    for (const data::ImageSource& s : splits_) {
      if (s.name() == name) return s;
      names += (names.empty() ? "" : ", ") + s.name();
    }
    throw UserError(fmt::format("no split '{}' in {} (this {} data has {}{})", name, cfg_.data.path.string(),
                                cfg_.data.format, names,
                                cfg_.data.format == "idx" && name == "valid" ? "; set data.valid_size to hold one out" : ""));
  }

  data::LoaderOptions loader_options(int64_t batch, bool drop_last) const {
    data::LoaderOptions o;
    o.batch_size = batch;
    o.sample_floats = cfg_.model.in_chans * cfg_.model.image_size * cfg_.model.image_size;
    o.threads = cfg_.data.workers;
    o.prefetch = cfg_.data.prefetch;
    o.drop_last = drop_last;
    o.skip_unreadable = cfg_.data.skip_unreadable;
    return o;
  }

  // Training samples: the loader's sample id is the position in the epoch's SampleRef list.
  data::BatchLoader::Fill train_fill() {
    return [this](int64_t position, int64_t epoch, int64_t slot, data::SampleBatch& batch) {
      thread_local data::TransformScratch scratch;
      const data::SampleRef ref = refs_[static_cast<size_t>(position)];
      data::SampleRng rng(seed_, static_cast<uint64_t>(epoch), static_cast<uint64_t>(ref.index), ref.repeat);
      splits_[0].train_sample(ref.index, rng, *train_transform_, cfg_.data.scaled_decode, batch.image(slot), scratch);
      batch.labels[static_cast<size_t>(slot)] = splits_[0].label(ref.index);
    };
  }

  data::BatchLoader::Fill eval_fill(const data::ImageSource& split) const {
    return [this, &split](int64_t index, int64_t, int64_t slot, data::SampleBatch& batch) {
      thread_local data::TransformScratch scratch;
      split.eval_sample(index, *eval_transform_, cfg_.data.scaled_decode, batch.image(slot), scratch);
      batch.labels[static_cast<size_t>(slot)] = split.label(index);
    };
  }

  void start_training_data() {
    const int64_t n = splits_[0].size();
    if (cfg_.data.repeated_aug)
      ra_sampler_.emplace(n, world_, seed_, data::RepeatedAugSamplerConfig{.repeats = cfg_.data.repeats});
    else
      shuffled_sampler_.emplace(n, world_, seed_, true);
    loader_ = std::make_unique<data::BatchLoader>(loader_options(rank_batch_, /*drop_last=*/true), train_fill(),
                                                  [this](int64_t position) {
                                                    return splits_[0].file(refs_[static_cast<size_t>(position)].index);
                                                  });
    start_epoch(0, 0);
    FF_USER_CHECK(loader_->batches_per_epoch() > 0,
                  "data.batch_size {} is larger than an epoch's {} training samples per rank", cfg_.data.batch_size,
                  refs_.size());
  }

  void start_epoch(int64_t epoch, int64_t batch) {
    refs_ = ra_sampler_ ? ra_sampler_->rank_samples(epoch, rank_) : shuffled_sampler_->rank_samples(epoch, rank_);
    std::vector<int64_t> positions(refs_.size());
    for (size_t i = 0; i < positions.size(); ++i) positions[i] = static_cast<int64_t>(i);
    loader_->start_epoch(epoch, std::move(positions), batch);
  }

  // The paper's Table 3 metric over the split's first N images, in eval batches.
  void add_head_diversity(const data::ImageSource& split, train::EvalResult& r) {
    const int64_t n = std::min(cfg_.eval.head_diversity_segments, split.size());
    const int64_t C = cfg_.model.in_chans, S = cfg_.model.image_size;
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    data::BatchLoader loader(loader_options(cfg_.eval.batch_size, false), eval_fill(split));
    loader.start_epoch(0, order);
    models::HeadDiversity diversity;
    while (const data::SampleBatch* b = loader.next()) {
      Tensor images = Tensor::empty({b->size, C, S, S});
      std::memcpy(images.data<float>(), b->images.data(), sizeof(float) * static_cast<size_t>(b->size * C * S * S));
      std::vector<Tensor> maps;
      model_->forward(to_device(images, device_), &maps);
      diversity.add(maps);
    }
    r.metrics["head_div_mean"] = diversity.mean();
    r.metrics["head_div_std"] = diversity.std();
    r.metrics["head_div_segments"] = static_cast<double>(diversity.segments());
  }

  ImageTaskConfig cfg_;
  uint64_t seed_;
  Device device_;
  int rank_ = 0, world_ = 1;
  dist::Communicator* comm_ = nullptr;
  int64_t rank_batch_ = 1, num_classes_ = 0;
  std::vector<data::ImageSource> splits_;  // train first
  std::optional<data::TrainTransform> train_transform_;
  std::optional<data::EvalTransform> eval_transform_;
  std::optional<data::Mixup> mixup_;
  std::shared_ptr<models::VisionTransformer> model_;
  std::optional<data::RepeatedAugSampler> ra_sampler_;
  std::optional<data::ShuffledSampler> shuffled_sampler_;
  std::vector<data::SampleRef> refs_;  // this epoch's samples of this rank
  std::unique_ptr<data::BatchLoader> loader_;
  int64_t epoch_ = 0;
  int64_t reported_skipped_ = 0;
};

}  // namespace

train::TaskFactory image_task_factory() {
  return [](const config::Section& root) -> train::TaskBuilder {
    ImageTaskConfig cfg = parse_image_config(root);
    return [cfg](const train::TaskContext& ctx) -> std::unique_ptr<train::Task> {
      return std::make_unique<ImageTask>(cfg, ctx);
    };
  };
}

}  // namespace ff::apps
