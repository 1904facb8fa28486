#!/usr/bin/env python3
"""Parity of the Swift `effnet` CLI against the float64 PyTorch reference.

    python Tools/parity_check.py --effnet .build/release/effnet \
        --variants EfficientNetTiny,EfficientNetTinyLite,EfficientNetB0 [--seed 1] [--batch 2]
    python Tools/parity_check.py --effnet .build/release/effnet --variants EfficientNetLite0 \
        --weights Weights/EfficientNetLite0.safetensors --input Tests/Fixtures/Lite0Photos/chelsea.input.npy

For each variant:
  1. plan JSON from `effnet info VARIANT --json` (the planner's own description of the model);
  2. the reference model from Tools/reference_model.py (asserts names/shapes == plan parameters);
  3. weights: synthetic (Tools/synthetic_weights.py, --seed) written to a temp safetensors, or --weights;
  4. input: --input .npy, or np.random.default_rng(seed).standard_normal((batch, C, R, R)) float32;
  5. `effnet infer --variant V --weights W --input X.npy --output Y.npy`;
  6. compare with the float64 reference on the same float32 input:
     ratio = max|swift - ref| / max|ref|, PASS when ratio <= --tolerance (1e-4).
`spread` = max|ref[0] - ref[1]| / max|ref| shows how strongly the logits depend on the input:
a PASS says little about errors smaller than that.
Exit status 1 when any variant fails.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import calibrate_batchnorm, float32_logits, make_input, synthetic_model  # noqa: E402
from reference_model import build_reference  # noqa: E402
from synthetic_weights import synthetic_state  # noqa: E402


def run(cmd, timeout):
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr.strip()[-2000:]}")
    return p.stdout, time.time() - t


def plan_from_cli(effnet: str, variant: str, timeout: float) -> dict:
    out, _ = run([effnet, "info", variant, "--json"], timeout)
    return json.loads(out)


def reference(plan: dict, state: dict, x: np.ndarray) -> np.ndarray:
    model = build_reference(plan)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()},
                                                strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise RuntimeError(f"weights do not fit the reference model: missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]}")
    model = model.double().eval()
    with torch.no_grad():
        return model(torch.from_numpy(x.astype(np.float64))).numpy()


def check_variant(args, variant: str, tmp: str) -> dict:
    plan = plan_from_cli(args.effnet, variant, args.timeout)
    if args.input:
        x = np.load(args.input).astype(np.float32)
        xpath = args.input
    else:
        x = make_input(plan, args.seed, args.batch)
        xpath = os.path.join(tmp, f"{variant}.input.npy")
        np.save(xpath, x.astype("<f4"))
    if args.weights:
        from safetensors.numpy import load_file
        wpath = args.weights
        state = load_file(wpath)
        model = None
    else:
        # Synthetic weights with BatchNorm statistics calibrated on the batch, as the committed
        # fixtures (Tools/make_fixtures.py explains why: uncalibrated deep variants are so badly
        # conditioned that even PyTorch's float32 differs from float64 by ~1e-2).
        model = synthetic_model(plan, args.seed)
        stats = calibrate_batchnorm(model, x)
        state = dict(synthetic_state(plan["parameters"], args.seed))
        state.update(stats)
        wpath = os.path.join(tmp, f"{variant}.safetensors")
        from safetensors.numpy import save_file
        save_file(state, wpath, metadata={"source": f"synthetic seed {args.seed}, calibrated BatchNorm"})
    ypath = os.path.join(tmp, f"{variant}.logits.npy")
    _, seconds = run([args.effnet, "infer", "--variant", variant, "--weights", wpath,
                      "--input", xpath, "--output", ypath], args.timeout)
    y = np.load(ypath).astype(np.float64)
    if model is None:
        ref = reference(plan, state, x)
        torch32 = None
    else:
        with torch.no_grad():
            ref = model(torch.from_numpy(x.astype(np.float64))).numpy()
        torch32 = float(np.abs(float32_logits(model, x) - ref).max() / np.abs(ref).max())
    if y.shape != ref.shape:
        y = y.reshape(ref.shape) if y.size == ref.size else y
    if y.shape != ref.shape:
        raise RuntimeError(f"output shape {y.shape}, expected {ref.shape}")
    diff = float(np.abs(y - ref).max())
    mref = float(np.abs(ref).max())
    ratio = diff / mref if mref > 0 else float("inf")
    spread = float(np.abs(ref[0] - ref[1]).max() / mref) if len(ref) > 1 else None
    res = {"variant": variant, "max_abs_diff": diff, "max_abs_ref": mref, "ratio": ratio,
           "spread": spread, "torch_fp32_ratio": torch32, "infer_seconds": seconds,
           "top1_agree": bool((y.argmax(1) == ref.argmax(1)).all()),
           "pass": bool(np.isfinite(ratio) and ratio <= args.tolerance)}
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        np.save(os.path.join(args.keep, f"{variant}.swift.npy"), y)
        np.save(os.path.join(args.keep, f"{variant}.ref.npy"), ref)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--effnet", required=True, help="path to the effnet binary")
    ap.add_argument("--variants", required=True, help="comma-separated variant names")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--weights", help="use these weights instead of synthetic ones")
    ap.add_argument("--input", help="use this NCHW float32 .npy instead of the seeded random batch")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--keep", help="directory to keep swift/reference logits in")
    ap.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory(prefix="effnet-parity-") as tmp:
        for v in [s.strip() for s in args.variants.split(",") if s.strip()]:
            try:
                r = check_variant(args, v, tmp)
            except Exception as e:  # report and go on with the next variant
                r = {"variant": v, "pass": False, "error": str(e)}
            results.append(r)
            if "error" in r:
                print(f"{v:24s} FAIL  {r['error']}")
            else:
                spread = "n/a" if r["spread"] is None else f"{r['spread']:.1e}"
                t32 = "" if r.get("torch_fp32_ratio") is None else f"  torch-fp32 {r['torch_fp32_ratio']:.1e}"
                print(f"{v:24s} {'PASS' if r['pass'] else 'FAIL'}  max|diff| {r['max_abs_diff']:.3e}  "
                      f"max|ref| {r['max_abs_ref']:.3e}  ratio {r['ratio']:.3e}  spread {spread}{t32}  "
                      f"top1 {'same' if r['top1_agree'] else 'DIFFERENT'}  ({r['infer_seconds']:.1f} s)")
            sys.stdout.flush()
    n_pass = sum(r["pass"] for r in results)
    print(f"{n_pass} passed, {len(results) - n_pass} failed")
    if args.json:
        print(json.dumps(results, indent=2))
    return 0 if n_pass == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
