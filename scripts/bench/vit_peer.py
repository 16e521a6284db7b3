#!/usr/bin/python3
"""PyTorch peer of one ViT training step (CPU or GPU), next to `fourierformer-bench train` on an image
config (configs/vit/*.yaml): DeiT-tiny or the Fashion-MNIST ViT.

Run with Debian's interpreter (/usr/bin/python3), where `python3-torch` (1.13, installed by
scripts/bench/setup-peers.sh) and `python3-yaml` are:

  /usr/bin/python3 scripts/bench/vit_peer.py --config configs/vit/deit-tiny-imagenet-softmax.yaml \\
      --threads 2 --batch-size 32 --warmup 2 --steps 5 [--allocator tcmalloc] [--json OUT]

On a GPU (PyTorch 2.x: the GPU machine's python3), add --device cuda and optionally
--mode compile and --precision bf16 (peer_steps.py: the device options); scripts/device/check.sh
runs them that way (--timm: timm's VisionTransformer for the softmax model).

What it builds (PyTorch eager, fp32, from the config's model.* keys), the same model as
models/vit/ (timm's VisionTransformer as DeiT uses it, docs/image-classification.md):
  x = conv P x P stride P (patch_embed.proj) -> (B, N, E); [cls; x] + pos_embed
  per block (pre-LN): x = x + DropPath(proj(Attn(qkv(LN(x))))); x = x + DropPath(fc2(GELU(fc1(LN(x)))))
  logits = head(LN(x)[:, 0])
  attention materialised (torch 1.13 has no fused attention on the CPU):
    softmax  QK^T / sqrt(head_dim), softmax, @ V
    fourier  REFERENCE.md's formula (attention_peer.fourier_reference), R a learnable scalar
  loss: cross entropy against soft targets (mixup's output), as DeiT's SoftTargetCrossEntropy.
  Init: timm 0.3's (trunc_normal 0.02 for Linear weights and pos_embed/cls_token, zero biases).
One step = zero_grad, forward, backward, AdamW.step (weight decay 0.05 off for 1-D parameters,
pos_embed and cls_token, as the configs). The data pipeline is left out: the peer's images
and soft targets are random tensors drawn before timing, so it times the model alone (ours
includes its loader; `fourierformer-bench data` times that part alone).
Timing: --warmup untimed steps, then --steps timed; images_per_s = B / median step time,
images_per_s_total = all timed images / total time (the mean rate, as fourierformer-bench reports).
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
    ap.add_argument("--config", required=True, help="configs/vit/*.yaml")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps")
    ap.add_argument("--steps", type=int, default=5, help="timed steps")
    ap.add_argument("--batch-size", type=int, help="override data.batch_size")
    ap.add_argument("--classes", type=int, help="classes (default: 1000 for ImageFolder configs, 10 for IDX)")
    ap.add_argument("--depth", type=int, help="override model.depth")
    ap.add_argument("--timm", action="store_true",
                    help="softmax: timm's VisionTransformer (deit_tiny_patch16_224's class) instead of this file's")
    add_device_options(ap)
    ap.add_argument("--json", help="write the result here")
    args = peer_allocator.parse_args(ap)

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from attention_peer import fourier_reference

    torch.set_num_threads(args.threads)
    dev = setup_device(torch, args, "vit_peer")
    cfg = load_config(args.config, "vit_peer")
    m, d = cfg["model"], cfg["data"]
    att = m.get("attention", {}) or {}
    kind = att.get("kind", "softmax")
    idx = d.get("format", "imagefolder") == "idx"
    S, P = int(m.get("image_size", 224)), int(m.get("patch_size", 16))
    E, depth, H = int(m.get("embed_dim", 192)), args.depth or int(m.get("depth", 12)), int(m.get("num_heads", 3))
    mlp = int(E * float(m.get("mlp_ratio", 4.0)))
    C = 1 if idx else 3
    classes = args.classes or (10 if idx else 1000)
    B = args.batch_size or int(d.get("batch_size", 256))
    drop_path = float(m.get("drop_path", 0.1))
    R_init = float(att.get("R_init", 1.0))
    p_pow, eps = int(att.get("p", 4)), float(att.get("eps", 1e-6))
    opt_cfg = cfg.get("train", {}).get("optimizer", {}) or {}
    lr, wd = float(opt_cfg.get("lr", 5e-4)), float(opt_cfg.get("weight_decay", 0.05))
    torch.manual_seed(int(cfg.get("seed", 0)))
    N = (S // P) ** 2

    class DropPath(nn.Module):
        def __init__(self, p):
            super().__init__()
            self.p = p

        def forward(self, x):
            if self.p == 0.0 or not self.training:
                return x
            keep = torch.rand(x.shape[0], 1, 1, device=x.device) >= self.p
            return x * keep / (1 - self.p)

    class Block(nn.Module):
        def __init__(self, rate):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(E, eps=1e-6), nn.LayerNorm(E, eps=1e-6)
            self.qkv, self.proj = nn.Linear(E, 3 * E), nn.Linear(E, E)
            self.fc1, self.fc2 = nn.Linear(E, mlp), nn.Linear(mlp, E)
            self.drop_path = DropPath(rate)
            if kind == "fourier":
                self.R = nn.Parameter(torch.tensor(R_init))

        def attn(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(x).view(b, t, 3, H, E // H).permute(2, 0, 3, 1, 4)
            if kind == "fourier":
                o = fourier_reference(torch, q, k, v, self.R, None, p=p_pow, eps=eps)
            else:
                o = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(E // H), dim=-1) @ v
            return self.proj(o.transpose(1, 2).reshape(b, t, E))

        def forward(self, x):
            x = x + self.drop_path(self.attn(self.norm1(x)))
            return x + self.drop_path(self.fc2(F.gelu(self.fc1(self.norm2(x)))))

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Conv2d(C, E, P, P)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, E))
            self.pos_embed = nn.Parameter(torch.zeros(1, N + 1, E))
            rates = [drop_path * i / max(depth - 1, 1) for i in range(depth)]
            self.blocks = nn.ModuleList(Block(r) for r in rates)
            self.norm = nn.LayerNorm(E, eps=1e-6)
            self.head = nn.Linear(E, classes)
            for mod in self.modules():
                if isinstance(mod, nn.Linear):
                    nn.init.trunc_normal_(mod.weight, std=0.02)
                    nn.init.zeros_(mod.bias)
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
            nn.init.trunc_normal_(self.cls_token, std=0.02)

        def forward(self, x):
            x = self.patch(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.norm(x)[:, 0])

    if args.timm:
        if kind != "softmax":
            ap.error("--timm: timm's VisionTransformer has softmax attention only")
        try:
            from timm.models.vision_transformer import VisionTransformer
        except ImportError:
            sys.exit("vit_peer.py: --timm needs timm")
        model = VisionTransformer(img_size=S, patch_size=P, in_chans=C, num_classes=classes, embed_dim=E,
                                  depth=depth, num_heads=H, mlp_ratio=mlp / E, qkv_bias=True,
                                  drop_path_rate=drop_path)
    else:
        model = ViT()
    model = model.to(dev)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and n not in ("pos_embed", "cls_token")]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and n not in ("pos_embed", "cls_token"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    n_params = sum(p.numel() for p in model.parameters())

    n_batches = args.warmup + args.steps
    gen = torch.Generator().manual_seed(1)
    images = torch.randn(n_batches, B, C, S, S, generator=gen).to(dev)
    targets = torch.softmax(torch.randn(n_batches, B, classes, generator=gen), dim=-1).to(dev)
    forward = compiled(torch, model, args.mode)

    def step(i):
        opt.zero_grad(set_to_none=True)
        with precision_context(torch, args):
            logits = forward(images[i])
            loss = torch.sum(-targets[i] * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()
        loss.backward()
        opt.step()
        return loss.item()

    print(f"[vit_peer] {args.config}: {kind}, {depth} blocks, dim {E}, {H} heads, image {S} patch {P}, "
          f"{classes} classes, batch {B}, {n_params} params, threads {torch.get_num_threads()}, "
          f"torch {torch.__version__}", file=sys.stderr, flush=True)
    losses, times = run_steps(step, args.warmup, args.steps, "vit_peer")
    result = {"benchmark": "vit-train-step", "peer": "pytorch", "config": args.config, "kind": kind,
              "threads": args.threads, "torch_version": torch.__version__, **peer_allocator.describe(), "batch_size": B,
              "model": "timm VisionTransformer" if args.timm else "vit_peer.py", "depth": depth,
              "n_params": n_params, "warmup": args.warmup, "steps": args.steps, "losses": losses,
              "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
              **device_info(torch, args)}
    if times:
        r = rates(times, B)
        result.update({"step_ms": r["step_ms"], "step_times_ms": r["step_times_ms"], "images_per_s": r["per_s"],
                       "images_per_s_total": r["per_s_total"]})
        print(f"[vit_peer] {kind}: median step {r['step_ms']:.1f} ms, {r['per_s']:.1f} images/s "
              f"(mean rate {r['per_s_total']:.1f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
