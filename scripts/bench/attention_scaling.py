#!/usr/bin/env python3
"""Attention time and memory against sequence length (docs/perf/linear-attention.md): every
kind through `fourierformer-bench attention` at B,H,N,N,D for N = 256 ... 32768, forward and
forward+backward, the peak extra memory, and the crossover lengths.

  scripts/bench/attention_scaling.py --bench build/apps/fourierformer-bench --threads 2 \
      --kinds softmax,fourier,fourier_rf,rfa --heads 4 --dim 32 --causal \
      --json docs/perf/linear-attention-run1.json

A case whose forward+backward is predicted (from the previous length, times 4 for the exact
kinds and 2 for the linear ones) to exceed --max-seconds is not run and is reported so.
Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

LINEAR = {"fourier_rf", "rfa", "flt"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", default="build/apps/fourierformer-bench")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--kinds", default="softmax,fourier,fourier_rf,rfa")
    p.add_argument("--lengths", default="256,512,1024,2048,4096,8192,16384,32768")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--features", type=int, default=256, help="random frequencies of the linear kinds")
    p.add_argument("--causal", action="store_true")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--max-seconds", type=float, default=60.0, help="skip a case predicted to take longer")
    p.add_argument("--json", help="write every result here")
    a = p.parse_args()
    if not os.access(a.bench, os.X_OK):
        p.error(f"--bench: {a.bench} is not an executable (build first)")
    a.kinds = [k for k in a.kinds.split(",") if k]
    try:
        a.lengths = [int(n) for n in a.lengths.split(",") if n]
    except ValueError:
        p.error(f"--lengths: expected comma-separated integers, got '{a.lengths}'")
    return a


def bench_one(a, kind, n):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        cmd = [a.bench, "--threads", str(a.threads), "--warmup", str(a.warmup), "--repeats", str(a.repeats),
               "--json", out, "attention", "--kind", kind, "--shape", f"{a.batch},{a.heads},{n},{n},{a.dim}"]
        if a.causal:
            cmd.append("--causal")
        if kind in LINEAR:
            cmd += ["--features", str(a.features)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            r = json.load(f)["results"][0]
        r["command"] = " ".join(c if c != out else "OUT.json" for c in cmd)
        return r


def main():
    a = parse_args()
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    rows = []
    for kind in a.kinds:
        last = None
        for n in a.lengths:
            if last is not None:
                factor = (n / last_n) ** (1 if kind in LINEAR else 2)
                predicted = last * factor
                if predicted > a.max_seconds:
                    rows.append({"kind": kind, "N": n, "skipped": f"predicted {predicted:.0f} s forward+backward"})
                    print(f"{kind} N={n}: skipped (predicted {predicted:.0f} s)", flush=True)
                    continue
            r = bench_one(a, kind, n)
            last, last_n = r["forward_backward_ms"] / 1e3, n
            rows.append({"kind": kind, "N": n, "forward_ms": r["forward_ms"],
                         "forward_backward_ms": r["forward_backward_ms"], "peak_extra_bytes": r["peak_extra_bytes"],
                         "command": r["command"]})
            print(f"{kind} N={n}: fwd {r['forward_ms']:.1f} ms, fwd+bwd {r['forward_backward_ms']:.1f} ms, "
                  f"peak extra {r['peak_extra_bytes'] / 2**20:.1f} MiB", flush=True)
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    # Crossover: the first length from which a linear kind's forward+backward is faster than an
    # exact kind's at every measured longer length.
    crossovers = {}
    by = {(r["kind"], r["N"]): r for r in rows if "skipped" not in r}
    for lin in [k for k in a.kinds if k in LINEAR]:
        for ex in [k for k in a.kinds if k not in LINEAR]:
            common = [n for n in a.lengths if (lin, n) in by and (ex, n) in by]
            cross = None
            for n in common:
                if all(by[(lin, m)]["forward_backward_ms"] < by[(ex, m)]["forward_backward_ms"] for m in common if m >= n):
                    cross = n
                    break
            crossovers[f"{lin} vs {ex}"] = cross
    print("crossovers (first N from which the linear kind is faster, forward+backward):", crossovers)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"shape": {"B": a.batch, "H": a.heads, "D": a.dim, "causal": a.causal},
                       "features": a.features, "threads": a.threads, "repeats": a.repeats, "warmup": a.warmup,
                       "loadavg_before": load_before, "loadavg_after": load_after, "rows": rows,
                       "crossovers": crossovers}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
