#!/usr/bin/python3
"""The SGEMM rate that kernel FLOP rates are held against (docs/perf/): torch's fp32 a @ b
at N x N x N on the CPU, median of --repeats after --warmup, with --threads threads.

  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 \\
      /usr/bin/python3 scripts/bench/sgemm_rate.py --threads 2 [--n 2048] [--json OUT]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_allocator  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--json", help="write the result here")
    args = peer_allocator.parse_args(ap)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    n = args.n
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(args.warmup):
        a @ b
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    times.sort()
    med = times[len(times) // 2]
    result = {"benchmark": "sgemm", "n": n, "threads": args.threads, "torch": torch.__version__,
              **peer_allocator.describe(), "median_s": med, "gflops": 2 * n**3 / med / 1e9, "times_s": times}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    print(f"sgemm {n}^3, {args.threads} threads: {result['gflops']:.1f} GFLOP/s (median of {args.repeats})")


if __name__ == "__main__":
    main()
