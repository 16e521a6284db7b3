#!/usr/bin/env python3
"""PyTorch attention peers on a GPU, next to `fourierformer-bench --device cuda attention --shapes paper`.

Usage:
  python3 scripts/bench/attention_gpu_peer.py [--cases LIST] [--json OUT]

Run with the python3 that holds PyTorch 2.x (on the GPU machine: the image's python3). Peers,
written for this project, at the paper's shapes (attention_peer.CASES):
  fourier:eager     REFERENCE.md's formula as attention_peer.fourier_reference computes it
                    (materialised over (B, Hc, Nq, Nk, D), autograd), fp32
  fourier:compile   the same function under torch.compile (default mode), fp32
  softmax:math      materialised QK^T / sqrt(D), -inf mask, softmax, @ V (eager), fp32 and bf16
  softmax:sdpa      torch.nn.functional.scaled_dot_product_attention, PyTorch's choice of
                    backend (flash, memory-efficient, cuDNN or math), fp32 and bf16
Each case reports forward and forward+backward time (median of --repeats after --warmup, CUDA
events around each run on CUDA, wall time on the CPU) and the peak extra memory
(torch.cuda.max_memory_allocated above what the inputs hold). Inputs as fourierformer-bench's:
q, k, v ~ N(0, 0.25^2), output gradient ones, R = 2.0 learnable. A peer the installed PyTorch
lacks (torch.compile and SDPA need 2.x) is reported as unavailable, not timed.

--device cpu with --batch 1 runs the same code on the CPU at a reduced batch: a smoke test of
the script (scripts/device/check.sh without a GPU), not a measurement.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attention_peer import CASES, attention_rates, causal_mask, fourier_reference, softmax_attention  # noqa: E402

PEERS = ["fourier:eager:fp32", "fourier:compile:fp32", "softmax:math:fp32", "softmax:math:bf16",
         "softmax:sdpa:fp32", "softmax:sdpa:bf16"]


def timed(torch, device, fn, warmup, repeats):
    """Median and all times of fn() in seconds, after warmup untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def run(torch, args, name, peer):
    kind, impl, precision = peer.split(":")
    B, H, Nq, Nk, D, causal = CASES[name]
    if args.batch:
        B = args.batch
    dev = args.device
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    row = {"name": name, "kind": kind, "impl": impl, "precision": precision, "device": dev,
           "shape": [B, H, Nq, Nk, D], "causal": causal}
    if impl == "compile" and not hasattr(torch, "compile"):
        return {**row, "unavailable": f"torch {torch.__version__} has no torch.compile"}
    F = torch.nn.functional
    if impl == "sdpa" and not hasattr(F, "scaled_dot_product_attention"):
        return {**row, "unavailable": f"torch {torch.__version__} has no scaled_dot_product_attention"}

    gen = torch.Generator(device="cpu").manual_seed(1234)

    def make(n):
        return (torch.randn(B, H, n, D, generator=gen) * 0.25).to(dev, dtype).requires_grad_(True)

    q, k, v = make(Nq), make(Nk), make(Nk)
    grad_out = torch.ones(B, H, Nq, D, device=dev, dtype=dtype)
    mask = causal_mask(torch, Nq, Nk).to(dev) if causal else None
    R = torch.tensor(2.0, device=dev, requires_grad=True)

    if kind == "fourier":
        per_head = B * Nq * Nk * D * 4
        hc = max(1, min(H, (args.max_broadcast_mib << 20) // per_head))
        def attend(q_, k_, v_, R_, mask_):
            return fourier_reference(torch, q_, k_, v_, R_, mask_)

        if impl == "compile":
            attend = torch.compile(attend)
        row["head_chunk"] = hc

        def parts():
            for h0 in range(0, H, hc):
                h1 = min(H, h0 + hc)
                yield h0, h1, attend(q[:, h0:h1], k[:, h0:h1], v[:, h0:h1], R, mask)
    else:
        def parts():
            if impl == "sdpa":
                # Nq == Nk at every paper shape, so is_causal is the memory-offset mask.
                yield 0, H, F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            else:
                yield 0, H, softmax_attention(torch, q, k, v, mask)

    def forward():
        with torch.no_grad():
            for _ in parts():
                pass

    def forward_backward():
        q.grad = k.grad = v.grad = R.grad = None
        for h0, h1, o in parts():
            o.backward(grad_out[:, h0:h1])

    def peak(fn):
        if dev != "cuda":
            fn()
            return None
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base

    warmup, repeats = args.warmup, args.repeats
    if kind == "fourier" and impl == "eager":
        warmup, repeats = min(warmup, 1), min(repeats, args.fourier_repeats)
    oom = getattr(torch.cuda, "OutOfMemoryError", RuntimeError)
    try:
        fwd, fwd_times = timed(torch, dev, forward, warmup, repeats)
        fwd_peak = peak(forward)
        fb, fb_times = timed(torch, dev, forward_backward, warmup, repeats)
        fb_peak = peak(forward_backward)
    except oom as e:
        return {**row, "unavailable": f"out of memory: {str(e).splitlines()[0]}"}
    row.update({"warmup": warmup, "repeats": repeats, "forward_ms": fwd * 1e3, "forward_backward_ms": fb * 1e3,
                "forward_times_ms": [t * 1e3 for t in fwd_times], "forward_backward_times_ms": [t * 1e3 for t in fb_times],
                "forward_peak_extra_bytes": fwd_peak, "peak_extra_bytes": fb_peak,
                "peak_extra_bytes_method": "torch.cuda.max_memory_allocated above the inputs" if dev == "cuda" else None})
    row.update(attention_rates(kind, (B, H, Nq, Nk, D, causal), fwd, fb))
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES), help="comma list of shapes: " + ",".join(CASES))
    ap.add_argument("--peers", default=",".join(PEERS), help="comma list of kind:impl:precision: " + ",".join(PEERS))
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--batch", type=int, help="override every shape's batch (a smoke test)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs (compile: includes compilation)")
    ap.add_argument("--repeats", type=int, default=10, help="timed runs (median)")
    ap.add_argument("--fourier-repeats", type=int, default=3, help="timed runs of fourier:eager (slow)")
    ap.add_argument("--max-broadcast-mib", type=int, default=16384,
                    help="Fourier: heads per chunk so one (B, Hc, Nq, Nk, D) fp32 tensor stays under this")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    peers = [p for p in args.peers.split(",") if p]
    for c in cases:
        if c not in CASES:
            ap.error(f"--cases '{c}': expected some of {', '.join(CASES)}")
    for p in peers:
        if p not in PEERS:
            ap.error(f"--peers '{p}': expected some of {', '.join(PEERS)}")

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("attention_gpu_peer.py: --device cuda but torch sees no GPU")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32, as ours computes it
    torch.backends.cudnn.allow_tf32 = False
    rows = []
    for name in cases:
        for peer in peers:
            print(f"[gpu peer] {name} {peer} ...", file=sys.stderr, flush=True)
            r = run(torch, args, name, peer)
            rows.append(r)
            if "unavailable" in r:
                print(f"[gpu peer] {name} {peer}: unavailable ({r['unavailable']})", file=sys.stderr, flush=True)
            else:
                print(f"[gpu peer] {name} {peer}: fwd {r['forward_ms']:.3f} ms, fwd+bwd {r['forward_backward_ms']:.3f} ms",
                      file=sys.stderr, flush=True)
            if args.device == "cuda":
                torch.cuda.empty_cache()
    report = {"benchmark": "attention", "peer": "pytorch", "torch": torch.__version__,
              "python": platform.python_version(), "device": args.device,
              "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
              "tf32": False, "results": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    print(f"{'case':10} {'peer':22} {'fwd ms':>10} {'fwd+bwd ms':>12} {'peak MiB':>10}")
    for r in rows:
        if "unavailable" in r:
            print(f"{r['name']:10} {r['kind'] + ':' + r['impl'] + ':' + r['precision']:22} unavailable")
            continue
        mib = "-" if r["peak_extra_bytes"] is None else f"{r['peak_extra_bytes'] / 2**20:.0f}"
        print(f"{r['name']:10} {r['kind'] + ':' + r['impl'] + ':' + r['precision']:22} {r['forward_ms']:10.3f} "
              f"{r['forward_backward_ms']:12.3f} {mib:>10}")


if __name__ == "__main__":
    main()
