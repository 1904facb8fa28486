#!/usr/bin/env python3
"""Inference speed of effnet against its peers, measured side by side in one run.

    python Tools/bench_peers.py --variant EfficientNetB0 --batch 1 16 --threads 2 \
        [--effnet .build/release/effnet] [--runs 30] [--warmup 5] [--rounds 3] [--json-out results.json]
        [--effnet-release-weights [--effnet-keep-resident-mib N]]

Peers (same plan, same threads, random weights: speed does not depend on values):
  * PyTorch eager, float32, eval, torch.inference_mode(), torch.set_num_threads(threads);
  * ONNX Runtime, CPU provider, intra_op_num_threads=threads, inter_op_num_threads=1,
    graph optimizations on, the model exported to ONNX (one static-shape file per batch size,
    in a temp dir);
  * effnet itself when --effnet is given: `effnet bench --variant V --batch N --json
    --threads T --iterations R --warmup W` as a subprocess (one JSON object with median_ms,
    p90_ms, images_per_second). With --effnet-release-weights, effnet's weights are first written
    by `effnet prepare-weights` (the same synthetic weights) into the temp dir, and the bench maps
    them with `--release-weights-after-use`: each block's weight pages are handed back to the page
    cache once used, so effnet's peak RSS holds one block's weights instead of all of them;
    --effnet-keep-resident-mib N keeps the first N MiB of them resident (`--keep-resident-mib`).
For each: median and p90 latency per batch over --runs timed runs after --warmup, and img/s =
batch / median. ONNX Runtime runs in a child process of its own (no torch imported there), so its
peak RSS (VmHWM) is its own, beside effnet's; PyTorch's peak RSS is that of this process. Prints a table with effnet/peer ratios (speed-up = peer median / effnet median)
and the results as JSON. Runs are sequential, never concurrent.

--rounds R (default 1) repeats the whole measurement R times, the runtimes alternating within each
round (effnet, PyTorch, ONNX Runtime, then again). This machine's speed drifts by 10-30 % from one
minute to the next (a neighbour on the host), so a ratio is only fair between runs close in time:
each round gives its own speed-up, and the table reports their median (per-round values beside it);
each runtime's row shows the median of its rounds' medians and its largest peak RSS.
The plan comes from `effnet info V --json` when --effnet is given, else
Generated/<V>/plan.json, else Tools/bootstrap_plans.py.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)


def get_plan(variant: str, effnet: str | None) -> dict:
    if effnet:
        out = subprocess.run([effnet, "info", variant, "--json"], capture_output=True, text=True,
                             check=True).stdout
        return json.loads(out)
    path = os.path.join(ROOT, "Generated", variant, "plan.json")
    if os.path.exists(path):
        return json.load(open(path))
    from bootstrap_plans import make
    return make(variant)


def summarize(times_s: list[float], batch: int) -> dict:
    ms = sorted(t * 1000.0 for t in times_s)
    med = statistics.median(ms)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return {"median_ms": med, "p90_ms": p90, "images_per_second": batch * 1000.0 / med,
            "runs": len(ms)}


def time_fn(fn, warmup: int, runs: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bench_torch(model, shape, batch, warmup, runs):
    import torch
    x = torch.randn(batch, *shape)
    with torch.inference_mode():
        return summarize(time_fn(lambda: model(x), warmup, runs), batch)


def export_onnx(model, shape, batch, path):
    import torch
    x = torch.randn(batch, *shape)
    try:
        torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["logits"],
                          opset_version=17, dynamo=False)
    except TypeError:  # older torch without the dynamo flag
        torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["logits"],
                          opset_version=17)


def bench_ort(path, shape, batch, threads, warmup, runs):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((batch, *shape)).astype(np.float32)
    return summarize(time_fn(lambda: sess.run(None, {"input": x}), warmup, runs), batch)


def peak_rss_bytes() -> int:
    """This process's peak resident set (VmHWM), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def bench_ort_in_child(path, shape, batch, threads, warmup, runs):
    """bench_ort in a fresh Python process: timings plus that process's peak RSS."""
    cmd = [sys.executable, os.path.abspath(__file__), "--ort-child", path, "--batch", str(batch),
           "--threads", str(threads), "--warmup", str(warmup), "--runs", str(runs),
           "--shape", ",".join(str(d) for d in shape)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"ONNX Runtime child exited {p.returncode}: {p.stderr.strip()[-1000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def prepare_effnet_weights(effnet, variant, path):
    """Synthetic weights, prepared for mapping (`effnet prepare-weights`), written to `path`."""
    cmd = [effnet, "prepare-weights", "--variant", variant, "--output", path]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-1000:]}")


def bench_effnet(effnet, variant, batch, threads, warmup, runs, prepared=None, keep_mib=0):
    cmd = [effnet, "bench", "--variant", variant, "--batch", str(batch), "--json",
           "--threads", str(threads), "--iterations", str(runs), "--warmup", str(warmup)]
    if prepared:
        cmd += ["--weights", prepared, "--release-weights-after-use", "--keep-resident-mib", str(keep_mib)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-1000:]}")
    objs = []
    dec = json.JSONDecoder()
    s = p.stdout
    i = 0
    while True:
        j = s.find("{", i)
        if j < 0:
            break
        obj, i = dec.raw_decode(s, j)
        objs.append(obj)
    objs = [o for o in objs if o.get("batch", batch) == batch] or objs
    if not objs:
        raise RuntimeError(f"no JSON in effnet bench output: {s[:500]}")
    o = objs[-1]
    return {"median_ms": float(o["median_ms"]), "p90_ms": float(o["p90_ms"]),
            "images_per_second": float(o["images_per_second"]), "runs": runs,
            **{k: v for k, v in o.items() if k not in ("median_ms", "p90_ms", "images_per_second")}}


def combine_rounds(rounds: list[dict]) -> dict:
    """One row per runtime from the rounds of one batch size: the median of the rounds' medians, p90s and
    img/s, the largest peak RSS; for each peer, effnet's speed-up in every round (peer median / effnet
    median of the same round) and their median, and the RSS ratio of the largest peaks."""
    row = {}
    for name in rounds[0]:
        rs = [one[name] for one in rounds]
        med = statistics.median(x["median_ms"] for x in rs)
        row[name] = {"median_ms": med, "p90_ms": statistics.median(x["p90_ms"] for x in rs),
                     "images_per_second": statistics.median(x["images_per_second"] for x in rs),
                     "runs": sum(x["runs"] for x in rs), "rounds_median_ms": [x["median_ms"] for x in rs]}
        peaks = [x["peak_rss_bytes"] for x in rs if x.get("peak_rss_bytes")]
        if peaks:
            row[name]["peak_rss_bytes"] = max(peaks)
        extra = {k: v for k, v in rs[-1].items() if k not in row[name] and k not in ("p90_ms", "images_per_second")}
        row[name].update(extra)
    eff = row.get("effnet")
    if eff:
        for name, r in row.items():
            if name == "effnet":
                continue
            per_round = [one[name]["median_ms"] / one["effnet"]["median_ms"] for one in rounds]
            r["effnet_speedup_per_round"] = per_round
            r["effnet_speedup"] = statistics.median(per_round)
            if r.get("peak_rss_bytes") and eff.get("peak_rss_bytes"):
                r["effnet_rss_ratio"] = eff["peak_rss_bytes"] / r["peak_rss_bytes"]
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", default="EfficientNetB0")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--effnet", help="path to the effnet binary (release build)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the measurement this many times, runtimes alternating (see above)")
    ap.add_argument("--peers", default="torch,onnxruntime", help="comma list of torch, onnxruntime")
    ap.add_argument("--json-out", help="also write the JSON results to this file")
    ap.add_argument("--effnet-release-weights", action="store_true",
                    help="run effnet on prepared weights that hand each block's pages back after use")
    ap.add_argument("--effnet-keep-resident-mib", type=int, default=0,
                    help="with --effnet-release-weights: MiB of weights (the first) effnet keeps resident")
    ap.add_argument("--ort-child", help=argparse.SUPPRESS)  # internal: time this .onnx file, print JSON
    ap.add_argument("--shape", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    if args.ort_child:
        shape = tuple(int(d) for d in args.shape.split(","))
        result = bench_ort(args.ort_child, shape, args.batch[0], args.threads, args.warmup, args.runs)
        result["peak_rss_bytes"] = peak_rss_bytes()
        print(json.dumps(result))
        return 0

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    from reference_model import build_reference

    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"WARNING: load average {load:.2f}: other processes are running. Numbers will be "
              f"noisy, and PyTorch's OpenMP threads spin-wait badly when cores are oversubscribed "
              f"(seen here: 2 threads 100x slower than 1). Benchmark on a quiet machine.",
              file=sys.stderr)
    plan = get_plan(args.variant, args.effnet)
    model = build_reference(plan).eval()
    shape = (plan.get("inputChannels", 3), plan["resolution"], plan["resolution"])
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    import onnxruntime
    import platform
    results = {"variant": args.variant, "resolution": plan["resolution"], "threads": args.threads,
               "runs": args.runs, "warmup": args.warmup, "macs": plan.get("macs"),
               "machine": platform.processor() or platform.machine(), "load_average_1min": load,
               "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
               "batches": {}}
    results["rounds"] = args.rounds
    results["effnet_release_weights"] = args.effnet_release_weights
    results["effnet_keep_resident_mib"] = args.effnet_keep_resident_mib if args.effnet_release_weights else None
    with tempfile.TemporaryDirectory(prefix="effnet-bench-") as tmp:
        prepared = None
        if args.effnet and args.effnet_release_weights:
            prepared = os.path.join(tmp, f"{args.variant}.effnetw")
            prepare_effnet_weights(args.effnet, args.variant, prepared)
        for b in args.batch:
            path = os.path.join(tmp, f"{args.variant}-b{b}.onnx")
            if "onnxruntime" in peers:
                export_onnx(model, shape, b, path)
            rounds = []
            for r in range(args.rounds):
                one = {}
                tag = f"batch {b}" + (f", round {r + 1}/{args.rounds}" if args.rounds > 1 else "")
                if args.effnet:
                    one["effnet"] = bench_effnet(args.effnet, args.variant, b, args.threads,
                                                 args.warmup, args.runs, prepared, args.effnet_keep_resident_mib)
                    print(f"{tag}: effnet {one['effnet']['median_ms']:.2f} ms", flush=True)
                if "torch" in peers:
                    one["pytorch"] = bench_torch(model, shape, b, args.warmup, args.runs)
                    one["pytorch"]["peak_rss_bytes"] = peak_rss_bytes()  # of this process so far
                    print(f"{tag}: pytorch {one['pytorch']['median_ms']:.2f} ms", flush=True)
                if "onnxruntime" in peers:
                    one["onnxruntime"] = bench_ort_in_child(path, shape, b, args.threads, args.warmup, args.runs)
                    print(f"{tag}: onnxruntime {one['onnxruntime']['median_ms']:.2f} ms", flush=True)
                rounds.append(one)
            results["batches"][str(b)] = combine_rounds(rounds)

    print()
    rounds_note = f", {args.rounds} alternating rounds (speed-up: median of the rounds' own)" if args.rounds > 1 else ""
    print(f"{args.variant} @ {plan['resolution']}, {args.threads} threads, median of {args.runs} runs{rounds_note}")
    hdr = (f"{'batch':>5}  {'runtime':<12} {'median ms':>10} {'p90 ms':>10} {'img/s':>9} {'peak RSS':>9}  "
           f"{'effnet speed-up':>15} {'effnet RSS ratio':>16}  {'per round':<}")
    print(hdr)
    print("-" * len(hdr))
    for b, row in results["batches"].items():
        for name, r in row.items():
            ratio = f"{r['effnet_speedup']:.2f}x" if "effnet_speedup" in r else ""
            rss_ratio = f"{r['effnet_rss_ratio']:.2f}x" if "effnet_rss_ratio" in r else ""
            per_round = " ".join(f"{x:.2f}x" for x in r.get("effnet_speedup_per_round", [])) if args.rounds > 1 else ""
            rss = f"{r['peak_rss_bytes'] / 1e6:.0f} MB" if r.get("peak_rss_bytes") else "-"
            print(f"{b:>5}  {name:<12} {r['median_ms']:>10.2f} {r['p90_ms']:>10.2f} "
                  f"{r['images_per_second']:>9.1f} {rss:>9}  {ratio:>15} {rss_ratio:>16}  {per_round}")
    print()
    print(json.dumps(results, indent=2))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
