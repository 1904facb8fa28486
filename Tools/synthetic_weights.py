#!/usr/bin/env python3
"""Deterministic synthetic weights, bit-identical to the Swift implementation.

Every tensor is a pure function of (name, shape, seed), so neither side ever has to
ship weights for the synthetic fixtures: the Swift tests regenerate them from the seed.

    splitmix64(x): z = x + 0x9E3779B97F4A7C15
                   z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
                   z = (z ^ (z >> 27)) * 0x94D049BB133111EB
                   return z ^ (z >> 31)                          (all mod 2^64)
    fnv1a64(utf8 name): h = 0xcbf29ce484222325; h ^= b; h *= 0x100000001b3 per byte
    tensorKey = splitmix64(fnv1a64(name) ^ seed)
    u(i)      = float64(splitmix64(tensorKey + i) >> 40) / 2^24  (i = flat row-major index)
    value(i)  = float32(lo + (hi - lo) * u(i))                   (computed in float64)

Ranges (first matching rule wins):
    *.running_var -> [0.5, 1.5)    *.running_mean -> [-0.2, 0.2)    *.bias -> [-0.2, 0.2)
    rank-1 *.weight (BN gamma) -> [0.5, 1.5)
    rank-4 conv [out, in, kh, kw] -> a = sqrt(6 / (in*kh*kw)), [-a, a)
    rank-2 linear [out, in] -> a = 1 / sqrt(in), [-a, a)
    anything else -> [-0.1, 0.1)

Usage:
    python Tools/synthetic_weights.py --plan plan.json --seed 1 --out W.safetensors
    python Tools/synthetic_weights.py --selftest
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import OrderedDict

import numpy as np

MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64_int(x: int) -> int:
    """Scalar reference (Python ints, explicit masking)."""
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Vectorised splitmix64 on a uint64 array (numpy wraps mod 2^64)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def fnv1a64(name: str) -> int:
    h = 0xCBF29CE484222325
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def tensor_key(name: str, seed: int) -> int:
    return splitmix64_int(fnv1a64(name) ^ (seed & MASK64))


def value_range(name: str, shape) -> tuple[float, float]:
    shape = tuple(int(s) for s in shape)
    if name.endswith(".running_var"):
        return 0.5, 1.5
    if name.endswith(".running_mean"):
        return -0.2, 0.2
    if name.endswith(".bias"):
        return -0.2, 0.2
    if len(shape) == 1 and name.endswith(".weight"):
        return 0.5, 1.5
    if len(shape) == 4:
        _, cin, kh, kw = shape
        a = math.sqrt(6.0 / (cin * kh * kw))
        return -a, a
    if len(shape) == 2:
        a = 1.0 / math.sqrt(shape[1])
        return -a, a
    return -0.1, 0.1


def synthetic_tensor(name: str, shape, seed: int) -> np.ndarray:
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    key = np.uint64(tensor_key(name, seed))
    with np.errstate(over="ignore"):
        idx = np.arange(n, dtype=np.uint64) + key
    bits = splitmix64(idx) >> np.uint64(40)
    u = bits.astype(np.float64) / 16777216.0
    lo, hi = value_range(name, shape)
    vals = (lo + (hi - lo) * u).astype(np.float32)
    return vals.reshape(shape)


def synthetic_state(parameters, seed: int) -> "OrderedDict[str, np.ndarray]":
    """parameters: iterable of {"name", "shape"} (plan JSON) or (name, shape) pairs."""
    out = OrderedDict()
    for p in parameters:
        name, shape = (p["name"], p["shape"]) if isinstance(p, dict) else p
        if name.endswith("num_batches_tracked"):
            continue
        out[name] = synthetic_tensor(name, shape, seed)
    return out


def synthetic_state_torch(parameters, seed: int):
    import torch
    return OrderedDict((k, torch.from_numpy(v)) for k, v in synthetic_state(parameters, seed).items())


def _selftest() -> None:
    # vectorised == scalar reference
    for name, shape, seed in [("features.0.0.weight", (32, 3, 3, 3), 0),
                              ("classifier.1.bias", (10,), 7),
                              ("features.1.0.block.0.1.running_var", (32,), 1)]:
        v = synthetic_tensor(name, shape, seed).reshape(-1)
        key = tensor_key(name, seed)
        lo, hi = value_range(name, shape)
        for i in range(min(50, v.size)):
            u = (splitmix64_int((key + i) & MASK64) >> 40) / 16777216.0
            ref = np.float32(lo + (hi - lo) * u)
            assert v[i] == ref, (name, i, v[i], ref)
    # known splitmix64 values (seed 0 stream of the reference generator: state += golden each call)
    assert splitmix64_int(0) == 0xE220A8397B1DCDAF
    print("selftest ok")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan", help="plan JSON (uses its 'parameters' list)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="output .safetensors")
    ap.add_argument("--show", nargs="*", metavar="NAME", help="print first values of these tensors")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args(argv)
    if args.selftest:
        _selftest()
        v = synthetic_tensor("features.0.0.weight", (32, 3, 3, 3), 0).reshape(-1)[:4]
        print("features.0.0.weight [32,3,3,3] seed 0, first 4:",
              [repr(float(x)) for x in v], [hex(x.view(np.uint32).item()) for x in v])
        return 0
    if not args.plan:
        ap.error("--plan is required")
    with open(args.plan) as f:
        plan = json.load(f)
    state = synthetic_state(plan["parameters"], args.seed)
    for name in args.show or []:
        print(name, state[name].reshape(-1)[:8])
    if args.out:
        from safetensors.numpy import save_file
        save_file(dict(state), args.out, metadata={"source": f"synthetic seed {args.seed}",
                                                   "model": str(plan.get("model"))})
        print(f"wrote {args.out}: {len(state)} tensors, "
              f"{sum(v.size for v in state.values())} values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
