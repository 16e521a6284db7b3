#!/usr/bin/python3
"""PyTorch peer of one LM training step (CPU or GPU), next to `fourierformer-bench train`.

Run with Debian's interpreter (/usr/bin/python3), where `python3-torch` (1.13) and
`python3-yaml` are installed (not the pyenv python3 on PATH):

  /usr/bin/python3 scripts/bench/lm_peer.py --config configs/lm/brown-small-fourier.yaml \
      --threads 2 --warmup 3 --steps 20 [--vocab 20897] [--allocator tcmalloc] [--json OUT]

On a GPU (PyTorch 2.x: the GPU machine's python3), add --device cuda and optionally
--mode compile and --precision bf16 (peer_steps.py: the device options); scripts/device/check.sh
runs them that way.

Ours, for comparison:

  build-lead/apps/fourierformer-bench --threads 2 --json OUT train \
      --config configs/lm/brown-small-fourier.yaml --steps 20 --warmup 3

What it builds (PyTorch eager, fp32, from the config's model.* and data.* keys), the same model
as models/transformer_lm/ (docs/language-model.md, REFERENCE.md):
  x_0 = Dropout(E[ids] * sqrt(d_model) + P[T-1..0])    sinusoidal positions counted down
  per layer (post-LN): h = LN(x + Dropout(o_net(Attn(q_net(x), kv_net(x)))))
                       x = LN(h + Dropout(fc2(Dropout(ReLU(fc1(h))))))
  q_net/kv_net/o_net without bias; causal attention, materialised:
    softmax  QK^T / sqrt(d_head), -inf mask, softmax, @ V
    fourier  REFERENCE.md's formula (attention_peer.fourier_reference): prod_d sinc(R (q - k)),
             ^p, masked -> 0, / (sum + eps), @ V; R a learnable scalar per layer (R_init), or
             a per-dimension vector with attention.R_per_dim
  loss = mean over B*T targets of the tied adaptive log-softmax on Dropout(x_L), written
  directly as the reference computes it: head = shortlist [0, c_0) of E plus one cluster logit
  per tail cluster (appended, read from the end), log-softmax over all rows; each tail cluster's
  projection (E[c_{i-1}:c_i]) only for the rows whose target is in that cluster.
  Init: the reference's (Linear/embedding N(0, init_std), biases 0, LayerNorm weight
  N(1, init_std), cluster weight N(0, init_std)).
One step = zero_grad, forward, backward, clip_grad_norm_(clip_grad_norm), Adam.step (lr from
train.optimizer.lr; the LR schedule is left out: it costs nothing).

Data: random ids in [0, --vocab) drawn with probability ~ 1/(rank+1) (Zipf-like, so the
adaptive-softmax clusters see realistic traffic); batches (data.batch_size, data.tgt_len) are
drawn before timing. Timing: --warmup untimed steps, then --steps timed steps; tokens_per_s is
B*T / median step time (tokens_per_s_total: all timed tokens / total time). Peak RSS: the
process's ru_maxrss (includes the interpreter and torch).
"""

import argparse
import json
import math
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_allocator  # noqa: E402
from peer_steps import (add_device_options, compiled, device_info, load_config, precision_context,  # noqa: E402
                        rates, run_steps, setup_device)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="configs/lm/*.yaml")
    ap.add_argument("--vocab", type=int, default=20897, help="vocabulary size (Brown as prepared: 20897)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps")
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--batch-size", type=int, help="override data.batch_size")
    ap.add_argument("--tgt-len", type=int, help="override data.tgt_len")
    ap.add_argument("--seed", type=int, help="override the config's seed")
    ap.add_argument("--layers", type=int, help="override model.n_layer")
    add_device_options(ap)
    ap.add_argument("--json", help="write the result here")
    args = peer_allocator.parse_args(ap)

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["MKL_NUM_THREADS"] = str(args.threads)
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from attention_peer import causal_mask, fourier_reference, softmax_attention

    torch.set_num_threads(args.threads)
    dev = setup_device(torch, args, "lm_peer")

    cfg = load_config(args.config, "lm_peer")
    m = cfg["model"]
    att = m.get("attention", {}) or {}
    kind = att.get("kind", "softmax")
    if kind not in ("softmax", "fourier"):
        ap.error(f"{args.config}: model.attention.kind '{kind}' not supported (softmax, fourier)")
    if int(m.get("mem_len", 0)) != 0:
        print("lm_peer.py: model.mem_len > 0 is ignored (no segment memory in the peer)", file=sys.stderr)
    n_layer, d_model = args.layers or int(m["n_layer"]), int(m["d_model"])
    n_head, d_head, d_inner = int(m["n_head"]), int(m["d_head"]), int(m["d_inner"])
    dropout = float(m.get("dropout", 0.1))
    init_std = float(m.get("init_std", 0.02))
    V = args.vocab
    cutoffs = [int(c) for c in (m.get("cutoffs") or []) if int(c) < V]
    B = args.batch_size or int(cfg["data"]["batch_size"])
    T = args.tgt_len or int(cfg["data"]["tgt_len"])
    tr = cfg.get("train", {})
    opt_cfg = tr.get("optimizer", {}) or {}
    lr = float(opt_cfg.get("lr", 2.5e-4))
    clip = float(tr.get("clip_grad_norm", 0.25))
    p_pow = int(att.get("p", 4))
    eps = float(att.get("eps", 1e-6))
    R_init = float(att.get("R_init", 2.0))
    R_per_dim = bool(att.get("R_per_dim", False))
    seed = args.seed if args.seed is not None else int(cfg.get("seed", 1111))
    torch.manual_seed(seed)

    mask = causal_mask(torch, T, T).to(dev)  # (T, T), True = masked

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_net = nn.Linear(d_model, n_head * d_head, bias=False)
            self.kv_net = nn.Linear(d_model, 2 * n_head * d_head, bias=False)
            self.o_net = nn.Linear(n_head * d_head, d_model, bias=False)
            self.layer_norm = nn.LayerNorm(d_model)
            self.drop = nn.Dropout(dropout)
            if kind == "fourier":
                self.R = nn.Parameter(torch.full((d_head,), R_init) if R_per_dim else torch.tensor(R_init))

        def forward(self, x):  # x (B, T, d)
            b, t, _ = x.shape
            q = self.q_net(x).view(b, t, n_head, d_head).transpose(1, 2)
            k, v = self.kv_net(x).chunk(2, dim=-1)
            k = k.reshape(b, t, n_head, d_head).transpose(1, 2)
            v = v.reshape(b, t, n_head, d_head).transpose(1, 2)
            if kind == "fourier":
                o = fourier_reference(torch, q, k, v, self.R, mask, p=p_pow, eps=eps)
            else:
                o = softmax_attention(torch, q, k, v, mask)
            o = o.transpose(1, 2).reshape(b, t, n_head * d_head)
            return self.layer_norm(x + self.drop(self.o_net(o)))

    class FF(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(d_model, d_inner)
            self.fc2 = nn.Linear(d_inner, d_model)
            self.layer_norm = nn.LayerNorm(d_model)
            self.drop = nn.Dropout(dropout)

        def forward(self, x):
            return self.layer_norm(x + self.drop(self.fc2(self.drop(F.relu(self.fc1(x))))))

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.word_emb = nn.Embedding(V, d_model)
            self.layers = nn.ModuleList(nn.Sequential(Attention(), FF()) for _ in range(n_layer))
            self.drop = nn.Dropout(dropout)
            self.out_bias = nn.Parameter(torch.zeros(V))
            n_cl = len(cutoffs)
            if n_cl:
                self.cluster_weight = nn.Parameter(torch.zeros(n_cl, d_model))
                self.cluster_bias = nn.Parameter(torch.zeros(n_cl))
            self.bounds = [0] + cutoffs + [V]
            inv_freq = 1.0 / (10000 ** (torch.arange(0.0, d_model, 2.0) / d_model))
            pos = torch.arange(T - 1, -1, -1.0)
            sin_inp = torch.outer(pos, inv_freq)
            self.register_buffer("pos_emb", torch.cat([sin_inp.sin(), sin_inp.cos()], dim=-1))  # (T, d)
            # The reference's weights_init.
            for mod in self.modules():
                if isinstance(mod, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(mod.weight, 0.0, init_std)
                    if getattr(mod, "bias", None) is not None:
                        nn.init.zeros_(mod.bias)
                elif isinstance(mod, nn.LayerNorm):
                    nn.init.normal_(mod.weight, 1.0, init_std)
                    nn.init.zeros_(mod.bias)
            if n_cl:
                nn.init.normal_(self.cluster_weight, 0.0, init_std)

        def nll(self, h, target):  # h (N, d), target (N,) -> (N,) -log p
            W, b = self.word_emb.weight, self.out_bias
            if len(cutoffs) == 0:
                return F.cross_entropy(F.linear(h, W, b), target, reduction="none")
            c0 = cutoffs[0]
            head_w = torch.cat([W[:c0], self.cluster_weight], 0)
            head_b = torch.cat([b[:c0], self.cluster_bias], 0)
            head_lp = F.log_softmax(F.linear(h, head_w, head_b), dim=-1)  # (N, c0 + n)
            nll = torch.zeros_like(target, dtype=h.dtype)
            n_cl = len(cutoffs)
            for i in range(len(self.bounds) - 1):
                lo, hi = self.bounds[i], self.bounds[i + 1]
                idx = ((target >= lo) & (target < hi)).nonzero().squeeze(1)
                if idx.numel() == 0:
                    continue
                t_i = target.index_select(0, idx) - lo
                if i == 0:
                    lp = head_lp.index_select(0, idx).gather(1, t_i[:, None]).squeeze(1)
                else:
                    h_i = h.index_select(0, idx)
                    tail_lp = F.log_softmax(F.linear(h_i, W[lo:hi], b[lo:hi]), dim=-1)
                    # tail cluster i (1-based) reads head column c0 + n - i (from the end)
                    lp = head_lp[idx, c0 + n_cl - i] + tail_lp.gather(1, t_i[:, None]).squeeze(1)
                nll = nll.index_copy(0, idx, -lp)
            return nll

        def forward(self, ids, target):  # (B, T) each -> mean loss
            x = self.drop(self.word_emb(ids) * math.sqrt(d_model) + self.pos_emb)
            for layer in self.layers:
                x = layer(x)
            x = self.drop(x)
            return self.nll(x.reshape(-1, d_model), target.reshape(-1)).mean()

    model = LM().to(dev)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    # Zipf-like ids: p(id) ~ 1 / (id + 1); batches drawn before timing.
    gen = torch.Generator().manual_seed(seed)
    weights = 1.0 / torch.arange(1, V + 1, dtype=torch.float64)
    n_batches = args.warmup + args.steps
    data = torch.multinomial(weights, n_batches * B * (T + 1), replacement=True, generator=gen)
    data = data.view(n_batches, B, T + 1).to(dev)
    forward = compiled(torch, model, args.mode)

    def step(i):
        batch = data[i]
        opt.zero_grad(set_to_none=True)
        with precision_context(torch, args):
            loss = forward(batch[:, :-1], batch[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss.item()

    print(f"[lm_peer] {args.config}: {kind}, {n_layer}x d_model {d_model}, {n_head}x{d_head}, d_inner {d_inner}, "
          f"vocab {V}, cutoffs {cutoffs}, batch {B}x{T}, {n_params} params, threads {torch.get_num_threads()}, "
          f"torch {torch.__version__}; log(vocab) = {math.log(V):.3f}", file=sys.stderr, flush=True)
    losses, times = run_steps(step, args.warmup, args.steps, "lm_peer")

    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    result = {
        "benchmark": "lm-train-step", "peer": "pytorch", "config": args.config, "kind": kind,
        "threads": args.threads, "torch_version": torch.__version__, **device_info(torch, args),
        **peer_allocator.describe(),
        "vocab": V, "cutoffs": cutoffs, "batch_size": B, "tgt_len": T, "n_params": n_params,
        "warmup": args.warmup, "steps": args.steps, "losses": losses,
    }
    if times:
        r = rates(times, B * T)
        result.update({"step_ms": r["step_ms"], "step_times_ms": r["step_times_ms"], "tokens_per_s": r["per_s"],
                       "tokens_per_s_total": r["per_s_total"]})
    result["peak_rss_bytes"] = peak_rss
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    if times:
        print(f"[lm_peer] {kind}: median step {result['step_ms']:.1f} ms, {result['tokens_per_s']:.0f} tokens/s "
              f"(total {result['tokens_per_s_total']:.0f}), peak RSS {peak_rss / 2**20:.0f} MiB")
    else:
        print(f"[lm_peer] {kind}: no timed steps, peak RSS {peak_rss / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
