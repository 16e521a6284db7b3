"""What the PyTorch training-step peers (lm_peer.py, vit_peer.py) share: reading the config and
the timed loop. A module imported by them, not a script.

run_steps(step, warmup, steps, tag) calls step(i) for i in [0, warmup + steps), timing each
call, prints one line per step to stderr, stops the process on a non-finite loss, and returns
(losses, timed step seconds). rates(times, units) gives the median step and two rates: units /
median step, and all timed units / total timed time (the mean rate, which is what
`fourierformer-bench train` reports for ours).
"""

import math
import statistics
import sys
import time


def load_config(path, tag):
    try:
        import yaml
    except ImportError:
        sys.exit(f"{tag}.py: PyYAML missing (apt install python3-yaml); run with /usr/bin/python3")
    with open(path) as f:
        return yaml.safe_load(f)


def run_steps(step, warmup, steps, tag):
    n = warmup + steps
    losses, times = [], []
    for i in range(n):
        start = time.perf_counter()
        loss = step(i)
        dt = time.perf_counter() - start
        losses.append(loss)
        timed = i >= warmup
        if timed:
            times.append(dt)
        print(f"[{tag}] step {i + 1}/{n}{'' if timed else ' (warmup)'}: loss {loss:.4f}, {dt * 1e3:.1f} ms",
              file=sys.stderr, flush=True)
        if not math.isfinite(loss):
            sys.exit(f"{tag}.py: non-finite loss at step {i + 1}")
    return losses, times


def rates(times, units):
    """{step_ms (median), step_times_ms, per_s (units / median), per_s_total (mean rate)}."""
    med = statistics.median(times)
    return {"step_ms": med * 1e3, "step_times_ms": [t * 1e3 for t in times], "per_s": units / med,
            "per_s_total": units * len(times) / sum(times)}
