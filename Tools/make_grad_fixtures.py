#!/usr/bin/env python3
"""Gradient fixtures for the Swift training tests: torch autograd in float64.

    python Tools/make_grad_fixtures.py --plan Generated/EfficientNetTiny/plan.json \
        --fixture Tests/Fixtures/EfficientNetTiny [--seed 1] [--sgd-steps 5]

Uses the fixture folder's input.npy and bn_stats.safetensors (made by make_fixtures.py) over the
synthetic weights (seed), labels drawn from np.random.default_rng(seed + 100), and runs ONE
train-mode step: BatchNorm with batch statistics (momentum from the plan), dropout and
stochastic depth off, mean cross-entropy. Writes <fixture>/grad.json:

  loss                 the loss (float64)
  gradients[name]      {max_abs, indices, values} for every trainable tensor: the true max|g| over the
                       whole tensor and the gradient at up to --samples deterministic flat indices
                       (all of them for small tensors), so the committed file stays small
  running[name]        {max_abs, indices, values} of the updated running_mean / running_var
  sgd                  {lr, momentum, weight_decay, losses}: losses of --sgd-steps SGD steps on the
                       same batch (torch.optim.SGD, same settings as the Swift test)

A whole-tensor comparison for bigger variants is Tools/grad_check.py (uses `effnet grad`).
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
from synthetic_weights import synthetic_state_torch  # noqa: E402


def deterministic_training_model(plan: dict, seed: int, bn_stats_path: str) -> torch.nn.Module:
    """Synthetic weights + fixture BatchNorm statistics; dropout and stochastic depth disabled."""
    from safetensors.numpy import load_file
    model = build_reference(plan)
    state = synthetic_state_torch(plan["parameters"], seed)
    for name, value in load_file(bn_stats_path).items():
        state[name] = torch.from_numpy(value.astype(np.float32))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    assert not missing and not unexpected, (missing, unexpected)
    model = model.double().train()
    disable_randomness(model)
    return model


def disable_randomness(model: torch.nn.Module) -> None:
    """Dropout and stochastic depth off (torchvision's StochasticDepth and our reference's sd_prob)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if type(module).__name__ == "StochasticDepth":
            module.p = 0.0
        if hasattr(module, "sd_prob"):
            module.sd_prob = 0.0


def labels_for(plan: dict, seed: int, batch: int) -> np.ndarray:
    return np.random.default_rng(seed + 100).integers(0, plan["classes"], size=batch).astype(np.int64)


def sample(tensor: np.ndarray, samples: int, key: int) -> dict:
    flat = tensor.reshape(-1)
    if flat.size <= samples:
        indices = np.arange(flat.size)
    else:
        rng = np.random.default_rng(key)
        indices = np.sort(rng.choice(flat.size, size=samples, replace=False))
        # Always include the position of the largest magnitude.
        top = int(np.abs(flat).argmax())
        if top not in indices:
            indices[0] = top
            indices = np.sort(indices)
    return {"max_abs": float(np.abs(flat).max()), "indices": [int(i) for i in indices],
            "values": [float(flat[i]) for i in indices]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--fixture", required=True, help="folder with input.npy and bn_stats.safetensors")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--sgd-steps", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    plan = load_plan(args.plan)
    x = np.load(os.path.join(args.fixture, "input.npy"))
    batch = x.shape[0]
    labels = labels_for(plan, args.seed, batch)
    bn_stats = os.path.join(args.fixture, "bn_stats.safetensors")

    model = deterministic_training_model(plan, args.seed, bn_stats)
    xt = torch.from_numpy(x.astype(np.float64))
    loss = torch.nn.functional.cross_entropy(model(xt), torch.from_numpy(labels))
    loss.backward()
    trainable = {p["name"] for p in plan["parameters"] if p["trainable"]}
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    gradients = {name: sample(params[name].grad.numpy(), args.samples, i)
                 for i, name in enumerate(p["name"] for p in plan["parameters"] if p["name"] in trainable)}
    running = {name: sample(buffers[name].numpy(), args.samples, 10_000 + i)
               for i, name in enumerate(p["name"] for p in plan["parameters"] if p["name"] not in trainable)}

    # SGD on the same batch from the same initial weights: the loss sequence.
    model = deterministic_training_model(plan, args.seed, bn_stats)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay)
    losses = []
    for _ in range(args.sgd_steps):
        optimizer.zero_grad()
        step_loss = torch.nn.functional.cross_entropy(model(xt), torch.from_numpy(labels))
        step_loss.backward()
        optimizer.step()
        losses.append(float(step_loss.detach()))

    out = {
        "model": plan["model"], "seed": args.seed, "batch": batch, "labels": [int(v) for v in labels],
        "loss": float(loss), "momentum": plan["batchNorm"]["momentum"],
        "note": "torch float64 autograd, train-mode BatchNorm, dropout and stochastic depth off",
        "torch": torch.__version__,
        "gradients": gradients, "running": running,
        "sgd": {"lr": args.lr, "momentum": args.momentum, "weight_decay": args.weight_decay, "losses": losses},
    }
    path = os.path.join(args.fixture, "grad.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"{plan['model']}: loss {float(loss):.6f}, {len(gradients)} gradient tensors, "
          f"SGD losses {[round(v, 5) for v in losses]} -> {path} ({os.path.getsize(path)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
