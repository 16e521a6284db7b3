#include "apps/tasks/lm_task.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdlib>
#include <optional>

#include "apps/tasks/attention_config.h"
#include "core/autograd/autograd.h"
#include "core/dist/communicator.h"
#include "core/ops/ops.h"
#include "data/text/lm_stream_iterator.h"
#include "data/text/sliding_window_iterator.h"
#include "data/text/text_corpus.h"
#include "models/attention/head_diversity.h"
#include "models/transformer_lm/transformer_lm.h"

namespace ff::apps {

namespace fs = std::filesystem;

namespace {

struct LmDataConfig {
  fs::path path;
  int64_t batch_size = 16;
  int64_t tgt_len = 64;
  bool cache = true;
};

struct LmEvalConfig {
  int64_t tgt_len = 64;      // eval_tgt_len: segment length, and the sliding window's length
  int64_t batch_size = 10;   // columns of the non-overlapping evaluation
  bool sliding_window = false;
  int64_t window_batch_size = 32;  // windows per batch in the sliding-window evaluation
  int64_t head_diversity_segments = 0;
};

struct LmTaskConfig {
  LmDataConfig data;
  LmEvalConfig eval;
  models::TransformerLmConfig model;
};

// `path` as one shell word, for a command to copy.
std::string shell_word(const std::string& path) {
  const bool plain = !path.empty() && path.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789_-./+:@%") == std::string::npos;
  if (plain) return path;
  std::string out = "'";
  for (char ch : path) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

// The command that writes the missing corpus `dir` (both scripts take the directory to write).
// The configs name the Brown corpus .../brown (FF_BROWN_DIR) and WikiText-103 .../wikitext-103
// (FF_WT103_DIR), the scripts' default directories under FF_DATA_DIR; the path is spelled out
// because with FF_BROWN_DIR or FF_WT103_DIR set the configs and the scripts' defaults differ.
std::string how_to_prepare(const fs::path& dir, const std::string& raw_path) {
  const std::string name = (dir.has_filename() ? dir : dir.parent_path()).filename().string();
  const std::string word = shell_word(dir.string());
  if (name == "brown" || raw_path.find("FF_BROWN_DIR") != std::string::npos)
    return fmt::format("prepare the Brown corpus there with scripts/data/prepare-brown.sh {} (docs/data.md)", word);
  if (name == "wikitext-103" || raw_path.find("FF_WT103_DIR") != std::string::npos)
    return fmt::format("download WikiText-103 there with scripts/data/get-wikitext103.sh {} (docs/data.md)", word);
  return fmt::format(
      "prepare a corpus there with scripts/data/prepare-brown.sh {0} (the Brown corpus) or "
      "scripts/data/get-wikitext103.sh {0} (WikiText-103); docs/data.md describes both",
      word);
}

LmTaskConfig parse_lm_config(const config::Section& root) {
  using namespace config;
  LmTaskConfig c;
  const Section d = root.section("data");
  const std::string raw_path = d.require<std::string>("path");
  c.data.path = config::expand_env(raw_path);
  if (!fs::is_directory(c.data.path))
    d.fail("path", fmt::format("must be a corpus directory (train/valid/test text), '{}' does not exist{}; {}",
                               c.data.path.string(),
                               c.data.path.string() != raw_path ? fmt::format(" (from '{}')", raw_path) : "",
                               how_to_prepare(c.data.path, raw_path)));
  try {
    data::find_corpus_files(c.data.path);  // here, so that an incomplete corpus stops the run before any work
  } catch (const UserError& e) {
    // The scripts refuse to write into a directory of other files, so they get a new one.
    d.fail("path", fmt::format("is incomplete: {}; scripts/data/prepare-brown.sh DIR and scripts/data/get-wikitext103.sh "
                               "DIR write a complete corpus into a new DIR (docs/data.md)",
                               e.what()));
  }
  c.data.batch_size = d.get<int64_t>("batch_size", 16, at_least(1));
  c.data.tgt_len = d.get<int64_t>("tgt_len", 64, at_least(1));
  c.data.cache = d.get<bool>("cache", true);

  const Section m = root.section("model");
  models::TransformerLmConfig& lm = c.model;
  lm.n_layer = m.get<int64_t>("n_layer", 16, at_least(1));
  lm.d_model = m.get<int64_t>("d_model", 128, at_least(2));
  lm.n_head = m.get<int64_t>("n_head", 8, at_least(1));
  lm.d_head = m.get<int64_t>("d_head", 16, at_least(1));
  lm.d_inner = m.get<int64_t>("d_inner", 2048, at_least(1));
  lm.dropout = m.get<double>("dropout", 0.1, probability());
  lm.cutoffs = m.get<std::vector<int64_t>>("cutoffs", {}, at_least(1));
  lm.mem_len = m.get<int64_t>("mem_len", 0, at_least(0));
  lm.init_std = m.get<double>("init_std", 0.02, positive());
  const Section a = m.section("attention");
  models::AttentionConfig lm_defaults;
  lm_defaults.R_init = 2.0;
  lm.attention = parse_attention_config(a, lm_defaults, {"softmax", "fourier", "fourier_rf", "rfa", "flt"});
  if (lm.d_model % 2 != 0) m.fail("d_model", fmt::format("must be even (sinusoidal positions), got {}", lm.d_model));
  for (size_t i = 1; i < lm.cutoffs.size(); ++i)
    if (lm.cutoffs[i] <= lm.cutoffs[i - 1]) m.fail("cutoffs", "must be ascending");

  const Section e = root.section("eval");
  c.eval.tgt_len = e.get<int64_t>("tgt_len", c.data.tgt_len, at_least(1));
  c.eval.batch_size = e.get<int64_t>("batch_size", 10, at_least(1));
  c.eval.sliding_window = e.get<bool>("sliding_window", false);
  c.eval.window_batch_size = e.get<int64_t>("window_batch_size", 32, at_least(1));
  c.eval.head_diversity_segments = e.get<int64_t>("head_diversity_segments", 0, at_least(0));
  if (c.eval.head_diversity_segments > 0 && lm.attention.is_linear())
    e.fail("head_diversity_segments",
           fmt::format("needs attention maps, which {} attention never forms: expected 0", lm.attention.kind));
  return c;
}

data::Split split_of(const std::string& name) {
  for (data::Split s : data::kAllSplits)
    if (data::split_name(s) == name) return s;
  throw UserError(fmt::format("unknown split '{}': expected train, valid or test", name));
}

class LmTask : public train::Task {
 public:
  LmTask(LmTaskConfig cfg, const train::TaskContext& ctx)
      : cfg_(std::move(cfg)), rank_(ctx.rank), world_(ctx.world_size), comm_(ctx.comm) {
    FF_USER_CHECK(cfg_.data.batch_size % world_ == 0,
                  "data.batch_size {} (the global batch) is not divisible by the world size {}: use a multiple of {}",
                  cfg_.data.batch_size, world_, world_);
    data::TextCorpusOptions options;
    options.use_cache = cfg_.data.cache;
    corpus_ = data::TextCorpus::load(cfg_.data.path, options);
    const auto& info = corpus_.load_info();
    spdlog::info("corpus {}: vocabulary {}, train {} / valid {} / test {} tokens ({} in {:.1f} s)",
                 cfg_.data.path.string(), corpus_.vocab().size(), corpus_.ids(data::Split::train).size(),
                 corpus_.ids(data::Split::valid).size(), corpus_.ids(data::Split::test).size(),
                 info.from_cache ? "from the cache" : "tokenised", info.seconds);
    cfg_.model.n_token = corpus_.vocab().size();
    models::validate(cfg_.model, "model");
    model_ = std::make_shared<models::TransformerLm>(cfg_.model, ctx.gen);
    model_->to(ctx.device);
    spdlog::info("model: {} layers, d_model {}, {} heads x {}, d_inner {}, {} attention{}, {:.2f}M parameters",
                 cfg_.model.n_layer, cfg_.model.d_model, cfg_.model.n_head, cfg_.model.d_head, cfg_.model.d_inner,
                 cfg_.model.attention.kind, cfg_.model.cutoffs.empty() ? ", full softmax" : ", adaptive softmax",
                 static_cast<double>(model_->num_parameters()) / 1e6);
    if (ctx.training) {
      data::LmStreamOptions o;
      o.batch_size = cfg_.data.batch_size;
      o.tgt_len = cfg_.data.tgt_len;
      o.rank = rank_;
      o.world_size = world_;
      o.name = fmt::format("train split of {}", cfg_.data.path.string());
      train_.emplace(corpus_.ids(data::Split::train), o);
    }
  }

  nn::Module& model() override { return *model_; }
  std::string unit() const override { return "tokens"; }
  int64_t global_batch_size() const override { return cfg_.data.batch_size; }

  void begin_step(int64_t step) override { model_->set_step(step); }

  train::LossOutput train_loss() override {
    FF_CHECK(train_.has_value(), "LmTask: built for evaluation only");
    train_->next(batch_);
    if (batch_.index_in_epoch == 0) memory_.clear();  // each epoch starts without memory
    models::LmInput in{batch_.rows, batch_.seq_len, batch_.inputs, batch_.targets};
    Tensor loss = model_->loss(in, cfg_.model.mem_len > 0 ? &memory_ : nullptr);
    return {loss, static_cast<double>(batch_.rows * batch_.seq_len)};
  }

  train::EvalResult evaluate(const std::string& split_name, int64_t max_batches,
                             const train::EvalProgress& progress) override {
    const data::Split split = split_of(split_name);
    const std::span<const int32_t> ids = corpus_.ids(split);
    const std::string name = split_label(split_name);
    double nll = 0, units = 0;
    if (cfg_.eval.sliding_window) {
      data::LmWindowIterator windows(ids, window_options(name));
      const int64_t rows = cfg_.eval.window_batch_size;
      const int64_t all = (windows.windows_end() - windows.windows_begin() + rows - 1) / rows;
      const int64_t batches = max_batches > 0 ? std::min(max_batches, all) : all;
      data::LmWindowBatch b;
      for (int64_t n = 0; n < batches && windows.next(b); ++n) {
        models::LmInput in{b.rows, b.window_len, b.inputs, b.targets};
        nll += model_->scored_nll_sum(in, b.score_begin).item();
        for (int64_t r = 0; r < b.rows; ++r) units += static_cast<double>(b.window_len - b.score_begin[r]);
        if (progress) progress(n + 1, batches);
      }
    } else {
      data::LmStreamIterator stream(ids, stream_options(ids, name));
      models::SegmentMemory memory;
      data::LmBatch b;
      const int64_t batches = max_batches > 0 ? std::min(max_batches, stream.batches_per_epoch()) : stream.batches_per_epoch();
      for (int64_t n = 0; n < batches && stream.rows() > 0; ++n) {  // a rank may hold no column
        stream.next(b);
        const double tokens = static_cast<double>(b.rows * b.seq_len);
        nll += model_->loss({b.rows, b.seq_len, b.inputs, b.targets}, cfg_.model.mem_len > 0 ? &memory : nullptr).item() *
               tokens;
        units += tokens;
        if (progress) progress(n + 1, batches);
      }
    }
    // Data parallel: each rank scored its columns (or windows); the split's totals are the sums.
    double totals[2] = {nll, units};
    dist::sum_over_ranks(comm_, totals);
    nll = totals[0];
    units = totals[1];
    train::EvalResult r;
    r.units = units;
    r.loss = units > 0 ? nll / units : 0.0;
    r.metrics["ppl"] = std::exp(r.loss);
    if (cfg_.eval.head_diversity_segments > 0) add_head_diversity(ids, name, r);
    return r;
  }

  void check_split(const std::string& split_name) const override {
    const std::span<const int32_t> ids = corpus_.ids(split_of(split_name));
    const std::string name = split_label(split_name);
    // The iterators refuse a split too short for their options, naming it.
    if (cfg_.eval.sliding_window)
      data::LmWindowIterator(ids, window_options(name));
    else
      data::LmStreamIterator(ids, stream_options(ids, name));
  }

  std::map<std::string, double> loss_metrics(double loss) const override { return {{"ppl", std::exp(loss)}}; }

  std::map<std::string, double> extra_metrics() override {
    std::map<std::string, double> out;
    const std::vector<double> R = model_->fourier_R();
    for (size_t i = 0; i < R.size(); ++i) out[fmt::format("R.{}", i)] = R[i];
    return out;
  }

  int64_t batches_per_epoch() const override { return train_ ? train_->batches_per_epoch() : 0; }

  nlohmann::json data_state() const override { return {{"position", train_ ? train_->position() : 0}}; }

  void load_data_state(const nlohmann::json& state) override {
    if (!state.is_object() || !state.contains("position") || !state["position"].is_number_integer())
      throw UserError(fmt::format("language-model data state must hold an integer 'position', got {}", state.dump()));
    const int64_t position = state["position"].get<int64_t>();
    if (position < 0) throw UserError(fmt::format("language-model data position {} is negative", position));
    if (train_) train_->seek(position);
    memory_.clear();  // segment memory is not saved: a resumed run starts without it
  }

 private:
  std::string split_label(const std::string& split_name) const {
    return fmt::format("{} split of {}", split_name, cfg_.data.path.string());
  }

  data::LmWindowOptions window_options(const std::string& name) const {
    data::LmWindowOptions o;
    o.window_len = cfg_.eval.tgt_len;
    o.batch_size = cfg_.eval.window_batch_size;
    o.rank = rank_;
    o.world_size = world_;
    o.name = name;
    return o;
  }

  // Non-overlapping evaluation: eval.batch_size columns, fewer for a split too short for them.
  data::LmStreamOptions stream_options(std::span<const int32_t> ids, const std::string& name) const {
    data::LmStreamOptions o;
    o.batch_size = std::min<int64_t>(cfg_.eval.batch_size, std::max<int64_t>(1, static_cast<int64_t>(ids.size()) / 2));
    o.tgt_len = cfg_.eval.tgt_len;
    o.rank = rank_;
    o.world_size = world_;
    o.equal_shares = false;  // the ranks' sums add up whatever their shares
    o.name = name;
    return o;
  }

  // The paper's Table 3 metric over the first N segments of eval.tgt_len tokens (batch size 1,
  // no memory): metrics head_div_mean, head_div_std and head_div_segments.
  void add_head_diversity(std::span<const int32_t> ids, const std::string& name, train::EvalResult& r) {
    data::LmStreamOptions o;
    o.batch_size = 1;
    o.tgt_len = cfg_.eval.tgt_len;
    o.name = name;
    data::LmStreamIterator stream(ids, o);
    models::HeadDiversity diversity;
    data::LmBatch b;
    const int64_t segments = std::min(cfg_.eval.head_diversity_segments, stream.batches_per_epoch());
    Tensor ids_t;
    for (int64_t n = 0; n < segments; ++n) {
      stream.next(b);
      Tensor t = Tensor::from_vector<int32_t>(b.inputs, {b.rows, b.seq_len});
      if (!model_->embedding_weight().device().is_cpu()) t = to_device(t, model_->embedding_weight().device());
      std::vector<Tensor> maps;
      model_->hidden(t, nullptr, &maps);
      diversity.add(maps);
    }
    r.metrics["head_div_mean"] = diversity.mean();
    r.metrics["head_div_std"] = diversity.std();
    r.metrics["head_div_segments"] = static_cast<double>(diversity.segments());
  }

  LmTaskConfig cfg_;
  int rank_ = 0, world_ = 1;
  dist::Communicator* comm_ = nullptr;
  data::TextCorpus corpus_;
  std::shared_ptr<models::TransformerLm> model_;
  std::optional<data::LmStreamIterator> train_;
  data::LmBatch batch_;
  models::SegmentMemory memory_;
};

}  // namespace

train::TaskFactory lm_task_factory() {
  return [](const config::Section& root) -> train::TaskBuilder {
    LmTaskConfig cfg = parse_lm_config(root);
    return [cfg](const train::TaskContext& ctx) -> std::unique_ptr<train::Task> {
      return std::make_unique<LmTask>(cfg, ctx);
    };
  };
}

}  // namespace ff::apps
