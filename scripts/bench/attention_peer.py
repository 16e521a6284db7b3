#!/usr/bin/python3
"""PyTorch peers for `fourierformer-bench attention --shapes paper` (CPU).

Run with Debian's interpreter (/usr/bin/python3), where `python3-torch` (1.13) is installed
(scripts/bench/setup-peers.sh).

Peers, written for this project:
  fourier  the paper's Fourier attention as the reference computes it (REFERENCE.md):
           q, k cast to fp32; score = prod_d sinc(R (q_id - k_jd)) with sinc(x) = sin(x)/x,
           materialised over a (B, Hc, Nq, Nk, D) broadcast; prob = score^4; masked -> 0;
           prob / (sum_j prob + 1e-6); prob @ v; autograd for the backward.
           R is a learnable scalar tensor (2.0). To bound memory the heads are processed in
           chunks of Hc heads (--max-broadcast-mib caps one (B, Hc, Nq, Nk, D) fp32 tensor);
           each chunk's forward (and backward, for fwd+bwd) runs before the next, which
           computes the same values and gradients (R.grad accumulates over chunks).
  softmax  materialised softmax attention: QK^T / sqrt(D), causal mask with -inf, softmax,
           @ V (torch 1.13 has no scaled_dot_product_attention).

Shapes, inputs and timing follow fourierformer-bench: q, k, v ~ N(0, 0.25^2) (fp32), the
output gradient is ones, forward under no_grad, median of --repeats after --warmup.

Allocator: --allocator default|tcmalloc|tunables re-runs the script with glibc's malloc,
tcmalloc preloaded or glibc's tunables that keep freed memory (peer_allocator.py); the JSON
records which, with LD_PRELOAD and GLIBC_TUNABLES as the process saw them.

Memory: peak RSS above the RSS after the inputs exist, read from /proc/self/status (VmHWM,
reset through /proc/self/clear_refs before each phase; each case runs in its own process so
memory retained by earlier cases does not hide the peak). Also reported: the analytic size of
the materialised tensors (the (B, H, Nq, Nk) fp32 score matrix, and for Fourier one
(B, Hc, Nq, Nk, D) fp32 broadcast tensor).
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_allocator  # noqa: E402

CASES = {
    "lm-small": (48, 8, 256, 256, 16, True),
    "lm-medium": (28, 8, 384, 384, 32, True),
    "deit-tiny": (256, 3, 197, 197, 64, False),
}
KINDS = ("fourier", "softmax")
ALL = [f"{kind}:{name}" for kind in KINDS for name in CASES]


def proc_status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss():
    """Resets VmHWM to the current RSS (Linux >= 4.0); returns False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def causal_mask(torch, nq, nk):
    # Key j is masked for query i when j > i + (nk - nq) (queries are the last nq positions).
    i = torch.arange(nq).unsqueeze(1)
    j = torch.arange(nk).unsqueeze(0)
    return j > i + (nk - nq)


def fourier_reference(torch, q, k, v, R, mask, p=4, eps=1e-6):
    """One chunk of heads: q (B, Hc, Nq, D), k, v (B, Hc, Nk, D), R scalar tensor."""
    q = q.float()
    k = k.float()
    diff = q.unsqueeze(3) - k.unsqueeze(2)  # (B, Hc, Nq, Nk, D)
    # sinc(x) = sin(x) / x with sinc(0) = 1; torch.sinc is the normalised sin(pi t) / (pi t).
    score = torch.sinc(diff * (R / math.pi)).prod(dim=-1)  # (B, Hc, Nq, Nk)
    prob = score.pow(p)
    if mask is not None:
        prob = prob.masked_fill(mask, 0.0)
    prob = prob / (prob.sum(dim=-1, keepdim=True) + eps)
    return torch.matmul(prob, v)


def softmax_attention(torch, q, k, v, mask):
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.matmul(torch.softmax(scores, dim=-1), v)


def attention_rates(kind, shape, forward_s, forward_backward_s):
    """The rates fourierformer-bench reports: Fourier in (query, key, dim) triples of the
    forward, softmax in FLOPs (4 D per visible pair forward, 14 D forward+backward)."""
    B, H, Nq, Nk, D, causal = shape
    pairs = B * H * (Nq * (Nq + 1) / 2 + Nq * (Nk - Nq)) if causal else B * H * Nq * Nk
    if kind == "fourier":
        return {"forward_gtriples_per_s": D * pairs / forward_s / 1e9}
    return {"forward_tflops": 4.0 * D * pairs / forward_s / 1e12,
            "forward_backward_tflops": 14.0 * D * pairs / forward_backward_s / 1e12}


def median_seconds(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], times


def run_case(spec, args):
    import torch

    torch.set_num_threads(args.threads)
    kind, name = spec.split(":")
    B, H, Nq, Nk, D, causal = CASES[name]
    slow = kind == "fourier"
    warmup = args.fourier_warmup if slow else args.warmup
    repeats = args.fourier_repeats if slow else args.repeats

    gen = torch.Generator().manual_seed(1234)

    def make(n):
        return (torch.randn(B, H, n, D, generator=gen) * 0.25).requires_grad_(True)

    q, k, v = make(Nq), make(Nk), make(Nk)
    grad_out = torch.ones(B, H, Nq, D)
    mask = causal_mask(torch, Nq, Nk) if causal else None

    head_chunk = H
    if slow:
        per_head = B * Nq * Nk * D * 4
        head_chunk = max(1, min(H, (args.max_broadcast_mib << 20) // per_head))
        R = torch.tensor(2.0, requires_grad=True)
    chunks = [(h, min(H, h + head_chunk)) for h in range(0, H, head_chunk)]

    def attend(h0, h1):
        if slow:
            return fourier_reference(torch, q[:, h0:h1], k[:, h0:h1], v[:, h0:h1], R, mask)
        return softmax_attention(torch, q[:, h0:h1], k[:, h0:h1], v[:, h0:h1], mask)

    def forward():
        with torch.no_grad():
            for h0, h1 in chunks:
                attend(h0, h1)

    def forward_backward():
        for h0, h1 in chunks:
            attend(h0, h1).backward(grad_out[:, h0:h1])

    base_kib = proc_status_kib("VmRSS")
    can_reset = reset_peak_rss()
    fwd, fwd_times = median_seconds(forward, warmup, repeats)
    fwd_peak_kib = proc_status_kib("VmHWM") - base_kib if can_reset else None
    base2_kib = proc_status_kib("VmRSS")
    reset_peak_rss()
    fwd_bwd, fwd_bwd_times = median_seconds(forward_backward, warmup, repeats)
    fwd_bwd_peak_kib = proc_status_kib("VmHWM") - base2_kib if can_reset else None

    r = {
        "name": name, "kind": kind, "device": "cpu", "shape": [B, H, Nq, Nk, D], "causal": causal,
        "forward_ms": fwd * 1e3, "forward_backward_ms": fwd_bwd * 1e3,
        "forward_times_ms": [t * 1e3 for t in fwd_times],
        "forward_backward_times_ms": [t * 1e3 for t in fwd_bwd_times],
        "warmup": warmup, "repeats": repeats,
        "peak_extra_bytes": fwd_bwd_peak_kib * 1024 if fwd_bwd_peak_kib is not None else None,
        "peak_extra_bytes_method": "RSS: VmHWM - VmRSS around the forward+backward runs (clear_refs reset)",
        "forward_peak_extra_bytes": fwd_peak_kib * 1024 if fwd_peak_kib is not None else None,
        "score_matrix_bytes": B * H * Nq * Nk * 4,
    }
    if slow:
        r["head_chunk"] = head_chunk
        r["broadcast_tensor_bytes"] = B * head_chunk * Nq * Nk * D * 4
    r.update(attention_rates(kind, (B, H, Nq, Nk, D, causal), fwd, fwd_bwd))
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(ALL),
                    help="comma list of kind:name, a kind or a name (default: all): " + ",".join(ALL))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs, softmax")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs (median), softmax")
    ap.add_argument("--fourier-warmup", type=int, default=0)
    ap.add_argument("--fourier-repeats", type=int, default=1)
    ap.add_argument("--max-broadcast-mib", type=int, default=1024,
                    help="Fourier: heads per chunk so one (B, Hc, Nq, Nk, D) fp32 tensor stays under this")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = peer_allocator.parse_args(ap)

    specs = []
    for item in args.cases.split(","):
        item = item.strip()
        if not item:
            continue
        matched = [s for s in ALL if item in (s, s.split(":")[0], s.split(":")[1])]
        if not matched:
            ap.error(f"--cases '{item}': expected one of {', '.join(ALL)}, a kind or a name")
        specs += [s for s in matched if s not in specs]

    if args.child:  # one case, in this process
        json.dump(run_case(specs[0], args), sys.stdout)
        return

    import torch

    rows = []
    for spec in specs:
        print(f"[peer] {spec} ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--cases", spec,
               "--threads", str(args.threads), "--warmup", str(args.warmup), "--repeats", str(args.repeats),
               "--fourier-warmup", str(args.fourier_warmup), "--fourier-repeats", str(args.fourier_repeats),
               "--max-broadcast-mib", str(args.max_broadcast_mib)]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        r = json.loads(out)
        rows.append(r)
        print(f"[peer] {spec}: fwd {r['forward_ms']:.1f} ms, fwd+bwd {r['forward_backward_ms']:.1f} ms, "
              f"peak extra (RSS) {r['peak_extra_bytes'] / 2**20:.1f} MiB", file=sys.stderr, flush=True)

    report = {
        "benchmark": "attention", "peer": "pytorch", "torch": torch.__version__,
        "python": platform.python_version(), "threads": args.threads,
        "notes": "materialised PyTorch peers; Fourier = REFERENCE.md's formula, chunked over heads",
        **peer_allocator.describe(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "results": rows,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    print(f"allocator: {report['allocator']}", file=sys.stderr)
    print(f"{'case':10} {'kind':8} {'fwd ms':>12} {'fwd+bwd ms':>14} {'peak extra MiB':>15}")
    for r in rows:
        print(f"{r['name']:10} {r['kind']:8} {r['forward_ms']:12.1f} {r['forward_backward_ms']:14.1f} "
              f"{r['peak_extra_bytes'] / 2**20:15.1f}")


if __name__ == "__main__":
    main()
