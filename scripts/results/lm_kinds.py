#!/usr/bin/env python3
"""Train the Brown LM with each attention kind and seed for the same steps, evaluate valid and
test perplexity, and tabulate mean and spread (docs/results.md).

  scripts/results/lm_kinds.py --steps 300 --kinds softmax,fourier,fourier_rf,rfa \
      --seeds 1111,2222,3333 --out runs/kinds --json docs/results/brown-kinds.json

Each (kind, seed) runs configs/lm/brown-small-<kind>.yaml (underscores as dashes) with
`--set seed=S --set train.max_steps=N`, then `fourierformer-eval --split valid,test`. A run whose
eval.json exists is not run again, so an interrupted sweep continues where it stopped.
Standard library only.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build", help="build directory with apps/ (default: build)")
    p.add_argument("--steps", type=int, required=True, help="training steps of every run")
    p.add_argument("--kinds", default="softmax,fourier,fourier_rf,rfa", help="comma-separated attention kinds")
    p.add_argument("--seeds", default="1111,2222,3333", help="comma-separated seeds")
    p.add_argument("--out", required=True, help="directory of the runs (created)")
    p.add_argument("--json", help="write the per-run results and the summary here")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of every run (default 2)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra config override for every run (repeatable)")
    a = p.parse_args()
    if a.steps < 1:
        p.error(f"--steps: expected >= 1, got {a.steps}")
    a.kinds = [k for k in a.kinds.split(",") if k]
    try:
        a.seeds = [int(s) for s in a.seeds.split(",") if s]
    except ValueError:
        p.error(f"--seeds: expected comma-separated integers, got '{a.seeds}'")
    for k in a.kinds:
        config = f"configs/lm/brown-small-{k.replace('_', '-')}.yaml"
        if not os.path.isfile(config):
            p.error(f"--kinds: no config {config} for kind '{k}'")
    for app in ("fourierformer-train", "fourierformer-eval"):
        if not os.access(os.path.join(a.build, "apps", app), os.X_OK):
            p.error(f"--build: {a.build}/apps/{app} does not exist (build first)")
    return a


def run_one(a, kind, seed, env):
    work = os.path.join(a.out, f"{kind}-seed{seed}")
    result_path = os.path.join(work, "eval.json")
    if os.path.isfile(result_path):
        with open(result_path) as f:
            return json.load(f)
    config = f"configs/lm/brown-small-{kind.replace('_', '-')}.yaml"
    train = [os.path.join(a.build, "apps", "fourierformer-train"), "--config", config, "--no-progress",
             "--work-dir", work, "--set", f"seed={seed}", "--set", f"train.max_steps={a.steps}",
             "--set", "train.eval_interval=0", "--set", f"train.checkpoint.interval={a.steps}",
             # The trainer's own end-of-run evaluation on one batch: fourierformer-eval scores the splits.
             "--set", "train.eval_max_batches=1"]
    for s in a.set:
        train += ["--set", s]
    start = time.time()
    with open(work + ".train.log", "w") as log:
        subprocess.run(train, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    train_s = time.time() - start
    eval_json = os.path.join(work, "eval-splits.json")
    with open(work + ".eval.log", "w") as log:
        subprocess.run([os.path.join(a.build, "apps", "fourierformer-eval"), "--checkpoint", work,
                        "--split", "valid,test", "--json", eval_json],
                       env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    with open(eval_json) as f:
        ev = json.load(f)
    r = {"kind": kind, "seed": seed, "steps": a.steps, "train_seconds": round(train_s, 1),
         "command": " ".join(train), "step": ev["step"]}
    for split in ("valid", "test"):
        r[split] = {"loss": ev["splits"][split]["loss"], "ppl": ev["splits"][split]["ppl"]}
    with open(result_path, "w") as f:
        json.dump(r, f, indent=1)
    return r


def mean_std(xs):
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, s


def main():
    a = parse_args()
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OMP_WAIT_POLICY="PASSIVE")
    runs = []
    for kind in a.kinds:
        for seed in a.seeds:
            r = run_one(a, kind, seed, env)
            print(f"{kind} seed {seed}: valid ppl {r['valid']['ppl']:.2f}, test ppl {r['test']['ppl']:.2f}"
                  f" ({r['train_seconds']} s)", flush=True)
            runs.append(r)
    summary = []
    print(f"\n| kind | seeds | valid ppl (mean ± std) | test ppl (mean ± std) |")
    print("|---|---|---|---|")
    for kind in a.kinds:
        rs = [r for r in runs if r["kind"] == kind]
        vm, vs = mean_std([r["valid"]["ppl"] for r in rs])
        tm, ts = mean_std([r["test"]["ppl"] for r in rs])
        summary.append({"kind": kind, "seeds": [r["seed"] for r in rs], "valid_ppl_mean": vm, "valid_ppl_std": vs,
                        "test_ppl_mean": tm, "test_ppl_std": ts})
        print(f"| {kind} | {len(rs)} | {vm:.2f} ± {vs:.2f} | {tm:.2f} ± {ts:.2f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"steps": a.steps, "threads": a.threads, "overrides": a.set, "runs": runs, "summary": summary},
                      f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
