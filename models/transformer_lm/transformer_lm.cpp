#include "models/transformer_lm/transformer_lm.h"

#include <cmath>

#include "core/nn/init.h"
#include "core/ops/embedding.h"
#include "core/ops/ops.h"

namespace ff::models {

void validate(const TransformerLmConfig& c, const std::string& where) {
  FF_USER_CHECK(c.d_model % 2 == 0, "{}.d_model must be even (sinusoidal positions), got {}", where, c.d_model);
  for (size_t i = 1; i < c.cutoffs.size(); ++i)
    FF_USER_CHECK(c.cutoffs[i] > c.cutoffs[i - 1], "{}.cutoffs must be ascending, got {} after {}", where,
                  c.cutoffs[i], c.cutoffs[i - 1]);
  if (c.n_token > 0)
    for (int64_t cutoff : c.cutoffs)
      FF_USER_CHECK(cutoff > 0 && cutoff < c.n_token,
                    "{}.cutoffs: each must be in (0, vocabulary size {}), got {} (the last cluster ends at the "
                    "vocabulary size; lower the cutoffs for this corpus)",
                    where, c.n_token, cutoff);
  validate(c.attention, where + ".attention");
}

namespace {

// `word_emb` and its `emb_layers` list: the reference's AdaptiveEmbedding with div_val 1 is
// one embedding table, stored as word_emb.emb_layers.0.weight.
class NamedList : public nn::Module {
 public:
  template <typename M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
};

void init_linear(nn::Linear& l, double std, Generator& gen) {
  nn::init::normal_(l.weight, 0.0, std, gen);
  if (l.bias.defined()) nn::init::zeros_(l.bias);
}

void init_layer_norm(nn::LayerNorm& n, double std, Generator& gen) {
  nn::init::normal_(n.weight, 1.0, std, gen);
  nn::init::zeros_(n.bias);
}

}  // namespace

TransformerLm::TransformerLm(const TransformerLmConfig& c, Generator& gen, DType dtype) : config_(c) {
  FF_USER_CHECK(c.n_token > 0, "model: the vocabulary is empty");
  validate(c);
  auto word_emb = std::make_shared<NamedList>();
  auto emb_layers = word_emb->add("emb_layers", std::make_shared<NamedList>());
  word_emb_ = emb_layers->add("0", std::make_shared<nn::Embedding>(c.n_token, c.d_model, gen, dtype));
  register_module("word_emb", std::static_pointer_cast<nn::Module>(word_emb));
  auto list = std::make_shared<NamedList>();
  for (int64_t i = 0; i < c.n_layer; ++i)
    layers.push_back(list->add(std::to_string(i), std::make_shared<DecoderLayer>(c, gen, dtype)));
  register_module("layers", std::static_pointer_cast<nn::Module>(list));
  crit = register_module("crit",
                         std::make_shared<AdaptiveLogSoftmax>(c.n_token, c.d_model, c.cutoffs, c.init_std, gen, dtype));
  drop_ = register_module("drop", std::make_shared<nn::Dropout>(c.dropout, gen));

  // The reference's weights_init (no projections exist with div_val 1 and d_proj == d_embed).
  nn::init::normal_(word_emb_->weight, 0.0, c.init_std, gen);
  for (auto& layer : layers) {
    DecoderAttention& a = *layer->dec_attn;
    init_linear(*a.q_net, c.init_std, gen);
    init_linear(*a.kv_net, c.init_std, gen);
    init_linear(*a.o_net, c.init_std, gen);
    init_layer_norm(*a.layer_norm, c.init_std, gen);
    init_linear(*layer->pos_ff->fc1, c.init_std, gen);
    init_linear(*layer->pos_ff->fc2, c.init_std, gen);
    init_layer_norm(*layer->pos_ff->layer_norm, c.init_std, gen);
  }
}

Device TransformerLm::device() const { return word_emb_->weight.device(); }

Tensor TransformerLm::ids_tensor(std::span<const int32_t> ids, const Shape& shape) const {
  Tensor t = Tensor::from_vector<int32_t>(std::vector<int32_t>(ids.begin(), ids.end()), shape);
  return device().is_cpu() ? t : to_device(t, device());
}

Tensor TransformerLm::positions(int64_t klen, Device device, DType dtype) {
  if (!pos_table_.defined() || pos_table_.size(0) < klen || pos_table_.device() != device ||
      pos_table_.dtype() != dtype) {
    const int64_t K = std::max<int64_t>(klen, pos_table_.defined() ? pos_table_.size(0) : 0);
    const int64_t d = config_.d_model, half = d / 2;
    std::vector<double> table(K * d);
    for (int64_t j = 0; j < K; ++j) {
      const double p = static_cast<double>(K - 1 - j);
      for (int64_t k = 0; k < half; ++k) {
        const double inv_freq = 1.0 / std::pow(10000.0, static_cast<double>(2 * k) / static_cast<double>(d));
        table[j * d + k] = std::sin(p * inv_freq);
        table[j * d + half + k] = std::cos(p * inv_freq);
      }
    }
    Tensor t = to_dtype(Tensor::from_vector<double>(table, {K, d}), dtype);
    pos_table_ = device.is_cpu() ? t : to_device(t, device);
  }
  const int64_t K = pos_table_.size(0);
  return slice(pos_table_, 0, K - klen, K);  // P[klen-1], ..., P[0]
}

Tensor TransformerLm::hidden(const Tensor& ids, SegmentMemory* memory, std::vector<Tensor>* maps) {
  FF_CHECK(ids.dim() == 2, "TransformerLm: ids must be (B, T), got {}", ids.str());
  const int64_t T = ids.size(1);
  const Tensor& E = word_emb_->weight;
  const bool keep_memory = config_.mem_len > 0 && memory != nullptr;
  const bool use_memory = keep_memory && !memory->empty();
  const int64_t M = use_memory ? memory->length() : 0, klen = M + T;
  Tensor pos = positions(klen, E.device(), E.dtype());  // (klen, d)

  Tensor x = drop_->forward(embedding(E, ids) * std::sqrt(static_cast<double>(config_.d_model)) +
                            slice(pos, 0, M, klen));  // (B, T, d)
  std::vector<Tensor> inputs;  // each layer's input, for the next memory
  if (maps) maps->clear();
  for (size_t l = 0; l < layers.size(); ++l) {
    if (keep_memory) inputs.push_back(x);
    Tensor mem;
    if (use_memory) mem = l == 0 ? memory->layers[0] + slice(pos, 0, 0, M) : memory->layers[l];
    Tensor map;
    x = layers[l]->forward(x, mem, maps ? &map : nullptr);
    if (maps) maps->push_back(map);
  }
  if (keep_memory) {
    SegmentMemory next;
    for (size_t l = 0; l < layers.size(); ++l) {
      Tensor all = use_memory ? concat({memory->layers[l], inputs[l].detach()}, 1) : inputs[l].detach();
      const int64_t n = all.size(1), keep = std::min(n, config_.mem_len);
      next.layers.push_back(contiguous(slice(all, 1, n - keep, n)).detach());
    }
    *memory = std::move(next);
  }
  return drop_->forward(x);
}

Tensor TransformerLm::loss(const LmInput& b, SegmentMemory* memory) {
  const int64_t N = b.rows * b.seq_len;
  FF_CHECK(static_cast<int64_t>(b.inputs.size()) == N && static_cast<int64_t>(b.targets.size()) == N,
           "TransformerLm::loss: {} inputs and {} targets for a ({}, {}) batch", b.inputs.size(), b.targets.size(),
           b.rows, b.seq_len);
  Tensor h = hidden(ids_tensor(b.inputs, {b.rows, b.seq_len}), memory);
  Tensor total = crit->nll_sum(reshape(h, {N, config_.d_model}), b.targets, word_emb_->weight);
  return total * (1.0 / static_cast<double>(N));
}

Tensor TransformerLm::scored_nll_sum(const LmInput& b, std::span<const int32_t> score_begin) {
  const int64_t T = b.seq_len;
  FF_CHECK(static_cast<int64_t>(score_begin.size()) == b.rows, "scored_nll_sum: {} score_begin for {} rows",
           score_begin.size(), b.rows);
  Tensor h = hidden(ids_tensor(b.inputs, {b.rows, T}));
  std::vector<int32_t> rows, targets;
  for (int64_t r = 0; r < b.rows; ++r)
    for (int64_t j = score_begin[r]; j < T; ++j) {
      rows.push_back(static_cast<int32_t>(r * T + j));
      targets.push_back(b.targets[r * T + j]);
    }
  Tensor scored = embedding(reshape(h, {b.rows * T, config_.d_model}),
                            ids_tensor(rows, {static_cast<int64_t>(rows.size())}));  // (n, d)
  return crit->nll_sum(scored, targets, word_emb_->weight);
}

Tensor TransformerLm::log_prob(const Tensor& hidden) const { return crit->log_prob(hidden, word_emb_->weight); }

void TransformerLm::set_step(int64_t step) {
  for (const auto& layer : layers) layer->dec_attn->set_step(step);
}

std::vector<double> TransformerLm::fourier_R() const {
  std::vector<double> out;
  for (const auto& layer : layers) {
    if (!layer->dec_attn->R.defined()) continue;
    const std::vector<double> r = layer->dec_attn->R.detach().to_vector<double>();
    double sum = 0;
    for (double v : r) sum += v;
    out.push_back(sum / static_cast<double>(r.size()));
  }
  return out;
}

}  // namespace ff::models
