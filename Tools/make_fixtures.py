#!/usr/bin/env python3
"""Reference fixtures for the Swift parity tests: synthetic weights (from the seed), a
deterministic input batch, and float64 PyTorch logits.

    python Tools/make_fixtures.py --plan Generated/EfficientNetB0/plan.json --seed 1 --batch 2 \
        --out Tests/Fixtures/EfficientNetB0/

Writes into --out:
    input.npy          '<f4' NCHW, np.random.default_rng(seed).standard_normal(...) as float32
    bn_stats.safetensors  float32 running_mean / running_var of every BatchNorm, calibrated on the
                 input batch (see below); for ReLU6 networks also the BatchNorm biases nudged by
                 clear_relu6_kinks (no ReLU6 input within 1e-4 of 0 or 6 in a train-mode pass)
    logits.npy         '<f8' [batch, classes]: the reference model in float64 (eval mode) on exactly
                 the float32 input values, with synthetic_weights(seed) + bn_stats loaded
    meta.json          model, seed, batch, resolution, max_abs_logit, conditioning, versions, ...
Weights are NOT written: the Swift side regenerates them from the seed (Tools/synthetic_weights.py
documents the generator) and overlays bn_stats.safetensors. Pass --weights-out to also write the
full set somewhere (not for committing).

Why calibrate: with synthetic running statistics nothing keeps activations normalised, so in deep
variants (B3: 26 blocks) they grow block by block to ~1e4 and even PyTorch's own float32 forward
differs from float64 by ~1e-2: such a fixture cannot tell a bug from rounding. Running statistics
measured on the batch (one float64 pass with only the BatchNorm layers in train mode, cumulative
average) keep every layer's output O(1), as in a trained network, while gamma/beta stay synthetic.
meta.json records `torch_fp32_ratio` (PyTorch float32 vs float64 on the same fixture): the
tolerance of the Swift test (1e-4) is meaningful only well above it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import build_reference, load_plan  # noqa: E402
from synthetic_weights import synthetic_state, synthetic_state_torch  # noqa: E402


def make_input(plan: dict, seed: int, batch: int) -> np.ndarray:
    r = plan["resolution"]
    c = plan.get("inputChannels", 3)
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, c, r, r)).astype(np.float32)


def synthetic_model(plan: dict, seed: int) -> torch.nn.Module:
    model = build_reference(plan)
    state = synthetic_state_torch(plan["parameters"], seed)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
    return model.double().eval()


def calibrate_batchnorm(model: torch.nn.Module, x: np.ndarray) -> dict:
    """Running statistics measured on `x` (float64 pass, BatchNorm layers alone in train mode,
    cumulative average), rounded to float32 and loaded back so both sides use the same values."""
    bns = {name: m for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    momentum = {name: m.momentum for name, m in bns.items()}
    for m in bns.values():
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with torch.no_grad():
        model(torch.from_numpy(x.astype(np.float64)))
    stats = {}
    for name, m in bns.items():
        m.eval()
        m.momentum = momentum[name]
        for key in ("running_mean", "running_var"):
            value = getattr(m, key).numpy().astype(np.float32)
            stats[f"{name}.{key}"] = value
            getattr(m, key).copy_(torch.from_numpy(value.astype(np.float64)))
    return stats


def clear_relu6_kinks(model: torch.nn.Module, x: np.ndarray, margin: float = 1e-4, step: float = 5e-4) -> dict:
    """Nudges BatchNorm biases so that, in a train-mode pass on `x`, no ReLU6 input lies within
    `margin` of a kink (0 or 6). At a kink float32 and float64 legitimately disagree about the
    derivative (one sample flips between 0 and 1), which would make a gradient comparison test
    rounding instead of code. Layers are visited in forward order, since a nudge changes
    everything downstream. Returns the adjusted biases (float32 values, also loaded into `model`)."""
    relu_layers = [m for m in model.modules()
                   if isinstance(m, torch.nn.Sequential) and len(m) == 3 and isinstance(m[2], torch.nn.ReLU6)]
    adjusted = {}
    names = {m: n for n, m in model.named_modules()}
    for layer in relu_layers:
        bn = layer[1]
        captured = {}
        hook = bn.register_forward_hook(lambda m, i, o: captured.__setitem__("y", o.detach().numpy().copy()))
        saved = [(m, m.training, m.momentum) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for m, _, _ in saved:
            m.train()
            m.momentum = 0.0  # batch statistics, running statistics untouched
        with torch.no_grad():
            model(torch.from_numpy(x.astype(np.float64)))
        for m, training, momentum in saved:
            m.train(training)
            m.momentum = momentum
        hook.remove()
        y = captured["y"]
        bias = bn.bias.detach().numpy().copy()
        changed = False
        for c in range(y.shape[1]):
            values = y[:, c].reshape(-1)
            if np.minimum(np.abs(values), np.abs(values - 6)).min() >= margin:
                continue
            for attempt in range(1, 41):
                delta = step * ((attempt + 1) // 2) * (1 if attempt % 2 else -1)
                shifted = values + (np.float32(bias[c] + delta) - bias[c])
                if np.minimum(np.abs(shifted), np.abs(shifted - 6)).min() >= margin:
                    bias[c] = np.float32(bias[c] + delta)
                    changed = True
                    break
            else:
                raise RuntimeError(f"could not clear the ReLU6 kinks of channel {c} in {names[bn]}")
        if changed:
            with torch.no_grad():
                bn.bias.copy_(torch.from_numpy(bias.astype(np.float64)))
            adjusted[f"{names[bn]}.bias"] = bias.astype(np.float32)
    return adjusted


def reference_logits(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        y = model(torch.from_numpy(x.astype(np.float64)))
    return y.numpy().astype(np.float64)


def float32_logits(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    import copy
    with torch.no_grad():
        return copy.deepcopy(model).float()(torch.from_numpy(x)).numpy().astype(np.float64)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights-out", help="also write the synthetic weights (safetensors) here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import torchvision

    plan = load_plan(args.plan)
    x = make_input(plan, args.seed, args.batch)
    model = synthetic_model(plan, args.seed)
    stats = calibrate_batchnorm(model, x)
    if plan["activation"] == "relu6":
        # The gradient fixtures (make_grad_fixtures.py) use these weights in a train-mode step.
        stats.update(clear_relu6_kinks(model, x))
        stats.update(calibrate_batchnorm(model, x))
    y = reference_logits(model, x)
    y32 = float32_logits(model, x)
    os.makedirs(args.out, exist_ok=True)
    from safetensors.numpy import save_file
    save_file(stats, os.path.join(args.out, "bn_stats.safetensors"),
              metadata={"model": plan["model"], "seed": str(args.seed),
                        "source": "BatchNorm running statistics calibrated on input.npy (Tools/make_fixtures.py)"})
    np.save(os.path.join(args.out, "input.npy"), x.astype("<f4"))
    np.save(os.path.join(args.out, "logits.npy"), y.astype("<f8"))
    meta = {
        "model": plan["model"], "seed": args.seed, "batch": args.batch,
        "resolution": plan["resolution"], "inputChannels": plan.get("inputChannels", 3),
        "classes": plan["classes"], "max_abs_logit": float(np.abs(y).max()),
        "parameterCount": plan.get("parameterCount"),
        # how much the logits depend on the input: max|y[0]-y[1]| / max|y| (batch >= 2). Errors that
        # only change per-sample detail are invisible below this level.
        "sample_spread": (float(np.abs(y[0] - y[1]).max() / np.abs(y).max()) if len(y) > 1 else None),
        # PyTorch's own float32 forward against the float64 reference, same weights and input.
        "torch_fp32_ratio": float(np.abs(y32 - y).max() / np.abs(y).max()),
        "weights": "Tools/synthetic_weights.py with this seed (not stored), running statistics from bn_stats.safetensors",
        "input": "np.random.default_rng(seed).standard_normal((batch, C, R, R)).astype(float32)",
        "reference": "float64 eval-mode PyTorch model built by Tools/reference_model.py",
        "torch": torch.__version__, "torchvision": torchvision.__version__, "numpy": np.__version__,
    }
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    if args.weights_out:
        full = dict(synthetic_state(plan["parameters"], args.seed))
        full.update(stats)
        save_file(full, args.weights_out,
                  metadata={"source": f"synthetic seed {args.seed}", "model": plan["model"]})
    print(f"{plan['model']}: input {x.shape} logits {y.shape} max|logit| {meta['max_abs_logit']:.4f} "
          f"spread {meta['sample_spread']:.3g} torch fp32 ratio {meta['torch_fp32_ratio']:.3g} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
