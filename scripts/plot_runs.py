#!/usr/bin/python3
"""Plots fourierformer-train runs into one PNG: train and evaluation loss and perplexity (and
top-1 / top-5 accuracy when the records have them) against steps and against wall time, one
colour per run, each run labelled by its name, so runs compare at a glance:

  scripts/plot_runs.py runs/brown-small-softmax runs/brown-small-fourier --out compare.png

Reads <work_dir>/metrics.jsonl (docs/training.md). A run's name is `name` in its config.yaml,
else its directory name. Wall time is the records' elapsed_s; for a run whose records lack it,
it is estimated from step_seconds (each train record covers the steps since the previous one)
plus the evaluations' seconds, leaving out start-up and checkpoint time. A line that is not a
JSON record (a run killed while writing it) is skipped with a warning. A resumed run writes its
records again from its checkpoint's step on: the later records replace the earlier ones.

Runs on Debian's interpreter with python3-matplotlib and python3-yaml (scripts/setup.sh
installs them); draws with the Agg backend, so no display is needed.
"""

import argparse
import json
import math
import os
import sys

# (record key, axis label, log scale)
METRICS = [("loss", "loss", False), ("ppl", "perplexity", True), ("top1", "top-1 accuracy", False),
           ("top5", "top-5 accuracy", False)]
WALL_UNITS = [(120.0, "s", 1.0), (7200.0, "min", 60.0), (math.inf, "h", 3600.0)]


def fail(message):
    """Bad input: one line, exit code 2, before anything is written."""
    print(f"plot_runs.py: {message}", file=sys.stderr)
    sys.exit(2)


def warn(message):
    print(f"plot_runs.py: warning: {message}", file=sys.stderr)


def number(record, key):
    """The finite number under `key`, else None (the trainer writes NaN and inf as null)."""
    v = record.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def position(record):
    # Within a step the train record is written before the evaluations.
    return record["step"], 0 if record["type"] == "train" else 1


def add_record(series, key, record):
    """Appends `record` to series[key], first dropping what a resumed run is writing again: a
    record comes after everything written before it in the same timeline."""
    pos = position(record)
    dropped = 0
    for k, s in series.items():
        while s and (position(s[-1]) >= pos if k == key else position(s[-1]) > pos):
            s.pop()
            dropped += 1
    series.setdefault(key, []).append(record)
    return dropped


def read_run(work_dir):
    """The run's train records, its eval records by split, and what reading them found."""
    path = os.path.join(work_dir, "metrics.jsonl")
    series, bad_lines, replaced = {"train": []}, [], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad_lines.append(line_no)
                continue
            kind = record.get("type") if isinstance(record, dict) else None
            if kind not in ("train", "eval"):
                continue  # a record type this script does not draw
            if isinstance(record.get("step"), bool) or not isinstance(record.get("step"), int):
                bad_lines.append(line_no)
                continue
            key = "train" if kind == "train" else "eval " + str(record.get("split", "valid"))
            replaced += add_record(series, key, record)
    if bad_lines:
        lines = ", ".join(map(str, bad_lines[:5])) + (" ..." if len(bad_lines) > 5 else "")
        warn(f"{path}: skipped {len(bad_lines)} line(s) that are not complete records (line {lines})")
    train = series.pop("train")
    evals = {k[len("eval "):]: v for k, v in series.items() if v}
    return train, evals, {"skipped_lines": bad_lines, "replaced_records": replaced}


def add_wall_times(records, train):
    """Sets r["wall_s"] on every record; returns where the times came from."""
    if all(number(r, "elapsed_s") is not None for r in records):
        for r in records:
            r["wall_s"] = number(r, "elapsed_s")
        return "elapsed_s"
    # Training time at each train record's step, linear in between (step_seconds is the mean
    # over the record's window), plus the evaluations done so far.
    steps, cumulative, t, last = [0], [0.0], 0.0, 0
    for r in train:
        t += (number(r, "step_seconds") or 0.0) * (r["step"] - last)
        last = r["step"]
        steps.append(last)
        cumulative.append(t)
    eval_seconds = 0.0
    for r in sorted(records, key=position):
        if r["type"] == "eval":
            eval_seconds += number(r, "seconds") or 0.0
        r["wall_s"] = float(numpy.interp(r["step"], steps, cumulative)) + eval_seconds
    return "estimated"


def run_name(work_dir):
    """`name` from the run's config.yaml, else the directory's name."""
    fallback = os.path.basename(os.path.abspath(work_dir))
    config = os.path.join(work_dir, "config.yaml")
    if not os.path.exists(config):
        return fallback
    try:
        with open(config, encoding="utf-8") as f:
            name = (yaml.safe_load(f) or {}).get("name")
    except (OSError, yaml.YAMLError, AttributeError) as e:
        warn(f"{config}: not readable as a config ({str(e).splitlines()[0]}); naming the run '{fallback}'")
        return fallback
    return str(name) if name not in (None, "") else fallback


def check_output(path, option):
    directory = os.path.dirname(path) or "."
    if os.path.isdir(path):
        fail(f"{option} {path}: is a directory; give a file name")
    if not os.path.isdir(directory):
        fail(f"{option} {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        fail(f"{option} {path}: directory {directory} is not writable")


def load_runs(work_dirs):
    runs = []
    for d in work_dirs:
        if not os.path.isdir(d):
            fail(f"{d}: not a directory (expected a work directory of fourierformer-train)")
        if not os.path.isfile(os.path.join(d, "metrics.jsonl")):
            fail(f"{d}: no metrics.jsonl (expected a work directory of fourierformer-train)")
    for d in work_dirs:
        train, evals, info = read_run(d)
        if not train and not evals:
            warn(f"{d}/metrics.jsonl: no records yet; left out")
            continue
        records = train + [r for s in evals.values() for r in s]
        info["wall_source"] = add_wall_times(records, train)
        runs.append({"dir": d, "name": run_name(d), "train": train, "evals": evals, "records": records, **info})
    if not runs:
        fail("no records to plot in " + ", ".join(work_dirs))
    names = [r["name"] for r in runs]
    for r in runs:
        r["label"] = r["name"] if names.count(r["name"]) == 1 else f"{r['name']} ({r['dir']})"
    return runs


def draw(runs, out):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    metrics = [m for m in METRICS if any(number(r, m[0]) is not None for run in runs for r in run["records"])]
    max_wall = max(r["wall_s"] for run in runs for r in run["records"])
    wall_unit, wall_scale = next((u, s) for limit, u, s in WALL_UNITS if max_wall < limit)

    fig, axes = plt.subplots(len(metrics), 2, figsize=(12, 3.2 * len(metrics)), squeeze=False)
    for row, (key, label, log) in enumerate(metrics):
        for col, (x_label, x_of) in enumerate([("step", lambda r: r["step"]),
                                               (f"wall time ({wall_unit})", lambda r: r["wall_s"] / wall_scale)]):
            ax = axes[row][col]
            for i, run in enumerate(runs):
                lines = [("train", run["train"], "-", None)]
                lines += [(split, s, "--", "osd^v"[j % 5]) for j, (split, s) in enumerate(sorted(run["evals"].items()))]
                for what, records, style, marker in lines:
                    points = [(x_of(r), number(r, key)) for r in records if number(r, key) is not None]
                    if not points:
                        continue
                    xs, ys = zip(*points)
                    ax.plot(xs, ys, style, color=f"C{i % 10}", marker=marker or ("." if len(points) == 1 else None),
                            markersize=4, linewidth=1.2, label=f"{run['label']} {what}")
            ax.set_xlabel(x_label)
            ax.set_ylabel(label)
            if log:
                ax.set_yscale("log")
                # Plain numbers (30, 300) rather than 3x10^1, also on the labelled minor ticks.
                ax.yaxis.set_major_formatter(ticker.LogFormatter())
                ax.yaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
            ax.grid(True, alpha=0.3)
    legend = {}
    for ax in axes.flat:
        for handle, text in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(text, handle)
    drawn = fig.legend(list(legend.values()), list(legend), loc="upper center", bbox_to_anchor=(0.5, 0.0),
                       ncol=min(4, len(legend)), frameon=False)
    fig.tight_layout()
    # Written under a temporary name and renamed, so `out` is never a half-written PNG.
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    panels = [[ax.get_ylabel(), ax.get_xlabel()] for ax in axes.flat]
    plt.close(fig)
    return [t.get_text() for t in drawn.get_texts()], panels


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work_dirs", nargs="+", metavar="WORK_DIR", help="work directories of fourierformer-train")
    ap.add_argument("--out", default="runs.png", metavar="FILE.png",
                    help="the PNG to write (default: runs.png in the current directory)")
    ap.add_argument("--json", metavar="FILE", help="also write what was drawn (runs, record counts, legend) here")
    args = ap.parse_args()
    if not args.out.lower().endswith(".png"):
        fail(f"--out {args.out}: expected a file name ending in .png")
    check_output(args.out, "--out")
    if args.json:
        check_output(args.json, "--json")

    # Imported after the arguments are parsed, so that --help works without them.
    global matplotlib, numpy, yaml
    try:
        import matplotlib
        import numpy
        import yaml
    except ImportError as e:
        sys.exit(f"plot_runs.py: {e}: run scripts/setup.sh (Debian's python3-matplotlib and python3-yaml, "
                 "for /usr/bin/python3)")
    runs = load_runs(args.work_dirs)
    legend, panels = draw(runs, args.out)

    summary = {
        "out": args.out, "legend": legend, "panels": panels,
        "runs": [{
            "name": r["label"], "dir": r["dir"], "train_records": len(r["train"]),
            "eval_records": {split: len(s) for split, s in r["evals"].items()},
            "last_step": max(x["step"] for x in r["records"]),
            "wall_s": max(x["wall_s"] for x in r["records"]),
            "wall_source": r["wall_source"], "skipped_lines": r["skipped_lines"],
            "replaced_records": r["replaced_records"],
        } for r in runs],
    }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")
    print(f"wrote {args.out}: " + ", ".join(
        f"{r['name']} (step {r['last_step']}, {r['train_records']} train records)" for r in summary["runs"]))


if __name__ == "__main__":
    main()
