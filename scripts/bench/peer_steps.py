"""What the PyTorch training-step peers (lm_peer.py, vit_peer.py) share: reading the config and
the timed loop. A module imported by them, not a script.

run_steps(step, warmup, steps, tag) calls step(i) for i in [0, warmup + steps), timing each
call, prints one line per step to stderr, stops the process on a non-finite loss, and returns
(losses, timed step seconds). rates(times, units) gives the median step and two rates: units /
median step, and all timed units / total timed time (the mean rate, which is what
`fourierformer-bench train` reports for ours).

The device options (add_device_options): --device cpu|cuda, --mode eager|compile (the model's
forward under torch.compile, PyTorch 2.x), --precision fp32|bf16 (bf16: torch.autocast around
the forward and loss, fp32 weights and optimizer, as ours with train.precision: bf16). On CUDA
fp32 means fp32: TF32 matmuls are off. The step ends in loss.item(), so wall time per step is
also the GPU's time.
"""

import contextlib

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


def add_device_options(ap):
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--mode", default="eager", choices=("eager", "compile"), help="compile: torch.compile(model)")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"), help="bf16: autocast")


def setup_device(torch, args, tag):
    if args.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit(f"{tag}.py: --device cuda but torch {torch.__version__} sees no GPU")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if args.mode == "compile" and not hasattr(torch, "compile"):
        sys.exit(f"{tag}.py: --mode compile needs torch.compile (PyTorch 2.x); this is torch {torch.__version__}")
    return torch.device(args.device)


def compiled(torch, model, mode):
    return torch.compile(model) if mode == "compile" else model


def precision_context(torch, args):
    if args.precision == "bf16":
        return torch.autocast(device_type=args.device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def device_info(torch, args):
    info = {"device": args.device, "mode": args.mode, "precision": args.precision}
    if args.device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
        info["peak_cuda_bytes"] = torch.cuda.max_memory_allocated()
    return info
