#!/usr/bin/env python3
"""Training throughput and peak memory of effnet against PyTorch, side by side in one run.

    python Tools/bench_train_peers.py --effnet .build/release/effnet --variant EfficientNetB0 \
        --batch 16 --threads 2 [--steps 8] [--warmup 2] [--peers eager,compile] [--recompute-activations] \
        [--rounds 3]

Each runtime runs in its own child process so that its peak RSS (ru_maxrss of that child) is its
own. One step = train-mode forward, mean cross-entropy, backward and an SGD (momentum 0.9) update
on a fixed random batch, dropout and stochastic depth as in training. PyTorch uses torchvision's
model built from the plan (Tools/reference_model.py); torch.compile's compile time is excluded
(warm-up). Prints img/s (median step), peak RSS and effnet's ratios.

--rounds R (default 1) repeats everything R times, the runtimes alternating within each round: this
machine's speed drifts from one minute to the next, so each round's ratios compare runs close in time.
The table then shows each runtime's median img/s and largest peak RSS over the rounds, and for each
peer the median of the rounds' speed ratios with the per-round values beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time, statistics, numpy as np, torch
sys.path.insert(0, {tools!r})
from reference_model import build_reference
torch.set_num_threads({threads})
plan = json.load(open({plan!r}))
model = build_reference(plan).train()
if {compile}:
    model = torch.compile(model)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
r = plan["resolution"]
x = torch.randn({batch}, plan["inputChannels"], r, r)
y = torch.arange({batch}) % plan["classes"]
times = []
for i in range({warmup} + {steps}):
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    if i >= {warmup}:
        times.append(time.perf_counter() - t)
print(json.dumps({{"median_s": statistics.median(times)}}))
"""


def run_child(cmd: list[str]) -> tuple[dict, int]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read()
    err = proc.stderr.read()
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed: {err.strip()[-800:]}")
    line = [l for l in out.splitlines() if l.strip().startswith("{")][-1]
    return json.loads(line), usage.ru_maxrss * 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--effnet", required=True)
    ap.add_argument("--variant", default="EfficientNetB0")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--peers", default="eager,compile")
    ap.add_argument("--recompute-activations", action="store_true",
                    help="also run effnet with its low-memory plan (a second effnet row)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat everything this many times, alternating")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    tools = os.path.dirname(os.path.abspath(__file__))
    plan_json = subprocess.run([args.effnet, "info", args.variant, "--json"], check=True, capture_output=True,
                               text=True).stdout
    results = {}
    with tempfile.TemporaryDirectory(prefix="effnet-train-bench-") as tmp:
        plan_path = os.path.join(tmp, "plan.json")
        with open(plan_path, "w") as f:
            f.write(plan_json)
        bench = [args.effnet, "bench", "--variant", args.variant, "--train", "--batch", str(args.batch),
                 "--iterations", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads), "--json"]
        rounds = []
        for r in range(args.rounds):
            one = {}
            out, rss = run_child(bench)
            one["effnet"] = {"images_per_second": out["images_per_second"], "peak_rss_bytes": rss}
            if args.recompute_activations:
                out, rss = run_child(bench + ["--recompute-activations"])
                one["effnet-recompute"] = {"images_per_second": out["images_per_second"], "peak_rss_bytes": rss}
            for peer in [p for p in args.peers.split(",") if p]:
                code = CHILD.format(tools=tools, threads=args.threads, plan=plan_path, compile=peer == "compile",
                                    batch=args.batch, warmup=args.warmup if peer == "eager" else max(args.warmup, 3),
                                    steps=args.steps)
                try:
                    out, rss = run_child([sys.executable, "-c", code])
                    one[f"pytorch-{peer}"] = {"images_per_second": args.batch / out["median_s"], "peak_rss_bytes": rss}
                except RuntimeError as e:
                    one[f"pytorch-{peer}"] = {"error": str(e)}
            if args.rounds > 1:
                print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                    f"{k} {v['images_per_second']:.2f} img/s" for k, v in one.items() if "error" not in v), flush=True)
            rounds.append(one)
    results = combine_rounds(rounds)
    mine = results["effnet"]
    print(f"{args.variant} training, batch {args.batch}, {args.threads} threads"
          + (f", {args.rounds} alternating rounds (speed: median of the rounds' own ratios)" if args.rounds > 1 else ""))
    print(f"{'runtime':18s} {'img/s':>8s} {'peak RSS':>10s} {'effnet speed':>13s} {'effnet RSS':>11s}  per round")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:18s} failed: {r['error'][:200]}")
            continue
        ours = name.startswith("effnet")
        speed = "" if ours else f"{r['effnet_speedup']:.2f}x"
        memory = "" if ours else f"{mine['peak_rss_bytes'] / r['peak_rss_bytes']:.2f}x"
        per_round = " ".join(f"{x:.2f}x" for x in r.get("effnet_speedup_per_round", [])) if args.rounds > 1 else ""
        print(f"{name:18s} {r['images_per_second']:8.2f} {r['peak_rss_bytes'] / 1e9:8.2f} GB {speed:>13s} {memory:>11s}"
              f"  {per_round}")
    print(json.dumps(results))
    return 0


def combine_rounds(rounds: list[dict]) -> dict:
    """One entry per runtime: median img/s and largest peak RSS over the rounds; for each peer, effnet's
    speed ratio in every round (effnet img/s / peer img/s of the same round) and their median. A runtime
    that failed in any round keeps that round's error."""
    results = {}
    for name in rounds[0]:
        failed = [one[name] for one in rounds if "error" in one[name]]
        if failed:
            results[name] = failed[0]
            continue
        rs = [one[name] for one in rounds]
        results[name] = {"images_per_second": statistics.median(x["images_per_second"] for x in rs),
                         "peak_rss_bytes": max(x["peak_rss_bytes"] for x in rs),
                         "rounds_images_per_second": [x["images_per_second"] for x in rs]}
        if not name.startswith("effnet"):
            per_round = [one["effnet"]["images_per_second"] / one[name]["images_per_second"] for one in rounds]
            results[name]["effnet_speedup_per_round"] = per_round
            results[name]["effnet_speedup"] = statistics.median(per_round)
    return results


if __name__ == "__main__":
    sys.exit(main())
