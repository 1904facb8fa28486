#!/usr/bin/env python3
"""Where ONNX Runtime spends its time on a variant: per-node kernel times from ORT's own profiler,
to hold beside `effnet bench --profile` layer by layer.

    python Tools/ort_profile.py --variant EfficientNetB0 --batch 1 --threads 2 [--runs 50] [--top 30] \
        [--effnet .build/release/effnet] [--json-out ort-profile.json]

The model is the same reference network Tools/bench_peers.py exports (random weights, eval mode,
ONNX opset 17, ORT_ENABLE_ALL graph optimisations, intra_op_num_threads=threads). ORT fuses nodes
(Conv+activation, BatchNorm into Conv), so one ORT node may stand for several PyTorch modules; each
node is reported under the module path its name starts with (e.g. features.2.0.block.0), which is
also how effnet names its layers. Times are medians over the profiled runs, in ms per run.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import statistics
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_peers import export_onnx, get_plan  # noqa: E402


def module_path(node_name: str) -> str:
    """'/features/features.2/features.2.0/block/block.0/block.0.0/Conv' -> 'features.2.0.block.0'."""
    parts = [p for p in node_name.split("/") if p]
    if len(parts) <= 1:
        return node_name
    # Each dotted component extends its parent's (features.2 -> features.2.0, block.0 -> block.0.0):
    # keep the longest of each run and join the runs.
    runs: list[str] = []
    for p in parts[:-1]:
        if "." not in p:
            continue
        if runs and p.startswith(runs[-1] + "."):
            runs[-1] = p
        else:
            runs.append(p)
    if not runs:
        return parts[0]
    text = ".".join(runs)
    # Conv2dNormActivation children (x.0 its conv, x.1 its BN, x.2 its activation) belong to x.
    text = re.sub(r"^(features\.\d+\.\d+\.block\.\d+)\.\d+$", r"\1", text)
    text = re.sub(r"^(features\.\d+)\.\d+$", r"\1", text) if text.count(".") == 2 else text
    return text


def profile(path: str, shape, batch: int, threads: int, warmup: int, runs: int, tmp: str):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tmp, "ort")
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((batch, *shape)).astype(np.float32)
    for _ in range(warmup):
        sess.run(None, {"input": x})
    for _ in range(runs):
        sess.run(None, {"input": x})
    events = json.load(open(sess.end_profiling()))
    # Kernel times per node, per run: the warm-up runs come first.
    per_node: dict[str, list[float]] = collections.defaultdict(list)
    op_of: dict[str, str] = {}
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        name = e["name"][: -len("_kernel_time")]
        per_node[name].append(e["dur"] / 1000.0)
        op_of[name] = e.get("args", {}).get("op_name", "?")
    rows = []
    for name, times in per_node.items():
        times = times[-runs:]
        rows.append({"node": name, "op": op_of[name], "module": module_path(name),
                     "ms": statistics.median(times)})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", default="EfficientNetB0")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--effnet", help="effnet binary, for the plan (else Generated/<V>/plan.json)")
    ap.add_argument("--json-out")
    args = ap.parse_args(argv)

    import torch
    torch.set_num_threads(args.threads)
    from reference_model import build_reference
    plan = get_plan(args.variant, args.effnet)
    model = build_reference(plan).eval()
    shape = (plan.get("inputChannels", 3), plan["resolution"], plan["resolution"])
    with tempfile.TemporaryDirectory(prefix="ort-profile-") as tmp:
        path = os.path.join(tmp, "model.onnx")
        export_onnx(model, shape, args.batch, path)
        rows = profile(path, shape, args.batch, args.threads, args.warmup, args.runs, tmp)

    total = sum(r["ms"] for r in rows)
    print(f"ONNX Runtime, {args.variant} batch {args.batch}, {args.threads} threads: node kernel times sum to "
          f"{total:.3f} ms per run (median per node over {args.runs} runs)")
    print(f"{'module':28} {'op':18} {'ms':>8} {'share':>7}")
    for r in sorted(rows, key=lambda r: -r["ms"])[: args.top]:
        print(f"{r['module'][:28]:28} {r['op'][:18]:18} {r['ms']:8.3f} {100 * r['ms'] / total:6.1f}%")
    by_op: dict[str, float] = collections.defaultdict(float)
    counts: dict[str, int] = collections.Counter()
    for r in rows:
        by_op[r["op"]] += r["ms"]
        counts[r["op"]] += 1
    print("by op type:")
    for op, ms in sorted(by_op.items(), key=lambda kv: -kv[1]):
        print(f"  {op:24} {counts[op]:4d} nodes {ms:8.3f} ms {100 * ms / total:6.1f}%")
    if args.json_out:
        json.dump({"variant": args.variant, "batch": args.batch, "threads": args.threads, "nodes": rows},
                  open(args.json_out, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
