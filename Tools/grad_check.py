#!/usr/bin/env python3
"""Whole-tensor gradient parity of `effnet grad` against torch autograd in float64.

    python Tools/grad_check.py --effnet .build/release/effnet --variants EfficientNetB3,EfficientNetLite0 [--batch 2]
        [--recompute-activations]

For each variant: the plan from `effnet info V --json`; synthetic weights (seed) with BatchNorm
running statistics calibrated on the batch (as Tools/make_fixtures.py); labels from
np.random.default_rng(seed + 100); one train-mode step in torch (float64, dropout and stochastic
depth off) and `effnet grad` on the same files. Per tensor: PASS when
max|ours - ref| <= 1e-3 * max|ref| (or <= 1e-6 absolute where the true gradient is zero);
loss within 1e-5 relative; running statistics within 1e-4 * max|ref|. Exit status 1 on any failure.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import calibrate_batchnorm, clear_relu6_kinks, make_input, synthetic_model  # noqa: E402
from make_grad_fixtures import disable_randomness, labels_for  # noqa: E402
from parity_check import plan_from_cli  # noqa: E402
from synthetic_weights import synthetic_state  # noqa: E402


def check(args, variant: str, tmp: str) -> bool:
    from safetensors.numpy import load_file, save_file
    plan = plan_from_cli(args.effnet, variant, 600)
    x = make_input(plan, args.seed, args.batch)
    labels = labels_for(plan, args.seed, args.batch)
    model = synthetic_model(plan, args.seed)
    stats = calibrate_batchnorm(model, x)
    if plan["activation"] == "relu6":
        # Full-size layers have ~1e5 samples per channel: a 1e-5 margin (10x the float32 error
        # of a pre-activation) is what can be cleared there.
        stats.update(clear_relu6_kinks(model, x, margin=1e-5, step=2e-5))
        stats.update(calibrate_batchnorm(model, x))
    state = dict(synthetic_state(plan["parameters"], args.seed))
    state.update(stats)
    paths = {k: os.path.join(tmp, f"{variant}.{k}") for k in ("weights.safetensors", "x.npy", "y.npy", "g.safetensors")}
    save_file(state, paths["weights.safetensors"])
    np.save(paths["x.npy"], x.astype("<f4"))
    np.save(paths["y.npy"], labels.astype("<i8"))
    subprocess.run([args.effnet, "grad", "--variant", variant, "--weights", paths["weights.safetensors"],
                    "--input", paths["x.npy"], "--labels", paths["y.npy"], "--output", paths["g.safetensors"]]
                   + (["--recompute-activations"] if args.recompute_activations else []),
                   check=True, capture_output=True, text=True)
    ours = load_file(paths["g.safetensors"])

    model.train()
    disable_randomness(model)
    loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x.astype(np.float64))), torch.from_numpy(labels))
    loss.backward()
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    worst, failures = 0.0, []
    for p in plan["parameters"]:
        name = p["name"]
        ref = (params[name].grad if p["trainable"] else buffers[name]).numpy()
        tol = 1e-3 if p["trainable"] else 1e-4
        diff = float(np.abs(ours[name].astype(np.float64) - ref).max())
        bound = max(tol * float(np.abs(ref).max()), 1e-6)
        if float(np.abs(ref).max()) > 1e-6:
            worst = max(worst, diff / float(np.abs(ref).max()))
        if diff > bound:
            failures.append(f"{name}: max|diff| {diff:.3e} > {bound:.3e}")
    loss = loss.detach()
    loss_ok = abs(float(ours["loss"][0]) - float(loss)) <= 1e-5 * abs(float(loss))
    ok = not failures and loss_ok
    print(f"{variant:24s} {'PASS' if ok else 'FAIL'}  loss {float(ours['loss'][0]):.6f} vs {float(loss):.6f}  "
          f"{len(plan['parameters'])} tensors, worst max|diff|/max|ref| {worst:.2e} (tensors with a non-zero gradient)")
    for line in failures[-12:]:
        print("    " + line)
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--effnet", required=True)
    ap.add_argument("--variants", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recompute-activations", action="store_true",
                    help="run `effnet grad` with the low-memory plan (activations recomputed in the backward pass)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory(prefix="effnet-grad-") as tmp:
        for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
            try:
                results.append(check(args, variant, tmp))
            except subprocess.CalledProcessError as e:
                print(f"{variant:24s} FAIL  effnet grad exited {e.returncode}: {e.stderr.strip()[-500:]}")
                results.append(False)
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
