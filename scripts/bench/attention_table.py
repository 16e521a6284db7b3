#!/usr/bin/env python3
"""Markdown table of ours vs the PyTorch peer from two attention-bench JSON files.

  attention_table.py OURS.json PEER.json

Ratios are peer / ours (above 1: ours is faster or smaller). Cases missing on one side are
listed with '-'. Targets (DESIGN.md, "Speed") are checked on the forward+backward ratio.
"""
import argparse
import json

# (kind, case) -> minimum fwd+bwd speed-up over the peer (DESIGN.md).
TARGETS = {("fourier", "lm-small"): 500.0, ("softmax", "lm-small"): 10.0, ("softmax", "deit-tiny"): 5.0}
ORDER = ["lm-small", "lm-medium", "deit-tiny"]


def load(path):
    with open(path) as f:
        report = json.load(f)
    return report, {(r["kind"], r["name"]): r for r in report["results"]}


def fmt_ms(x):
    return "-" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:.1f}")


def fmt_mib(b):
    return "-" if b is None else f"{b / 2**20:,.1f}"


def ratio(peer, ours):
    return "-" if peer is None or ours is None or ours <= 0 else f"{peer / ours:,.1f}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ours", help="fourierformer-bench --json output")
    ap.add_argument("peer", help="attention_peer.py --json output")
    args = ap.parse_args()
    ours_report, ours = load(args.ours)
    peer_report, peer = load(args.peer)
    print(f"Ours: {ours_report.get('version', '?')}, {ours_report.get('threads', '?')} threads. "
          f"Peer: torch {peer_report.get('torch', '?')}, {peer_report.get('threads', '?')} threads.\n")
    print("| case (B x H x Nq x Nk x D) | kind | ours fwd ms | peer fwd ms | fwd ratio | ours fwd+bwd ms "
          "| peer fwd+bwd ms | fwd+bwd ratio | ours peak extra MiB | peer peak extra MiB (RSS) | memory ratio "
          "| target (fwd+bwd) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    keys = sorted(set(ours) | set(peer), key=lambda k: (k[0], ORDER.index(k[1]) if k[1] in ORDER else 99, k[1]))
    for key in keys:
        o, p = ours.get(key, {}), peer.get(key, {})
        shape = (o or p)["shape"]
        causal = (o or p)["causal"]
        g = lambda r, f: r.get(f) if r else None
        target = TARGETS.get(key)
        verdict = ""
        if target is not None:
            if o and p:
                r = p["forward_backward_ms"] / o["forward_backward_ms"]
                verdict = (f">= {target:g}x: met ({r / target:.2f}x the target)" if r >= target
                           else f">= {target:g}x: missed ({r / target:.2f}x the target)")
            else:
                verdict = f">= {target:g}x: not measured"
        print(f"| {key[1]} ({' x '.join(map(str, shape))}{', causal' if causal else ''}) | {key[0]} "
              f"| {fmt_ms(g(o, 'forward_ms'))} | {fmt_ms(g(p, 'forward_ms'))} "
              f"| {ratio(g(p, 'forward_ms'), g(o, 'forward_ms'))} "
              f"| {fmt_ms(g(o, 'forward_backward_ms'))} | {fmt_ms(g(p, 'forward_backward_ms'))} "
              f"| {ratio(g(p, 'forward_backward_ms'), g(o, 'forward_backward_ms'))} "
              f"| {fmt_mib(g(o, 'peak_extra_bytes'))} | {fmt_mib(g(p, 'peak_extra_bytes'))} "
              f"| {ratio(g(p, 'peak_extra_bytes'), g(o, 'peak_extra_bytes'))} | {verdict} |")


if __name__ == "__main__":
    main()
