#!/usr/bin/env python3
"""Training throughput and peak memory of effnet against PyTorch, side by side in one run.

    python Tools/bench_train_peers.py --effnet .build/release/effnet --variant EfficientNetB0 \
        --batch 16 --threads 2 [--steps 8] [--warmup 2] [--peers eager,compile] [--recompute-activations]

Each runtime runs in its own child process so that its peak RSS (ru_maxrss of that child) is its
own. One step = train-mode forward, mean cross-entropy, backward and an SGD (momentum 0.9) update
on a fixed random batch, dropout and stochastic depth as in training. PyTorch uses torchvision's
model built from the plan (Tools/reference_model.py); torch.compile's compile time is excluded
(warm-up). Prints img/s (median step), peak RSS and effnet's ratios.
"""
from __future__ import annotations

import argparse
import json
import os
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
    args = ap.parse_args(argv)
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
        out, rss = run_child(bench)
        results["effnet"] = {"images_per_second": out["images_per_second"], "peak_rss_bytes": rss}
        if args.recompute_activations:
            out, rss = run_child(bench + ["--recompute-activations"])
            results["effnet-recompute"] = {"images_per_second": out["images_per_second"], "peak_rss_bytes": rss}
        for peer in [p for p in args.peers.split(",") if p]:
            code = CHILD.format(tools=tools, threads=args.threads, plan=plan_path, compile=peer == "compile",
                                batch=args.batch, warmup=args.warmup if peer == "eager" else max(args.warmup, 3),
                                steps=args.steps)
            try:
                out, rss = run_child([sys.executable, "-c", code])
                results[f"pytorch-{peer}"] = {"images_per_second": args.batch / out["median_s"], "peak_rss_bytes": rss}
            except RuntimeError as e:
                results[f"pytorch-{peer}"] = {"error": str(e)}
    mine = results["effnet"]
    print(f"{args.variant} training, batch {args.batch}, {args.threads} threads")
    print(f"{'runtime':18s} {'img/s':>8s} {'peak RSS':>10s} {'effnet speed':>13s} {'effnet RSS':>11s}")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:18s} failed: {r['error'][:200]}")
            continue
        ours = name.startswith("effnet")
        speed = "" if ours else f"{mine['images_per_second'] / r['images_per_second']:.2f}x"
        memory = "" if ours else f"{mine['peak_rss_bytes'] / r['peak_rss_bytes']:.2f}x"
        print(f"{name:18s} {r['images_per_second']:8.2f} {r['peak_rss_bytes'] / 1e9:8.2f} GB {speed:>13s} {memory:>11s}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
