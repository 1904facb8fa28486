#!/usr/bin/env python3
"""Hand-written plan JSONs for when the Swift planner's Generated/<Model>/plan.json is absent.

The real source of truth is the Swift planner (`effnet info VARIANT --json`, or the committed
Generated/<Model>/plan.json). This script writes stand-ins from torchvision's table so the Python
side can be exercised on its own, and so the planner's output can be diffed against them:

    python Tools/bootstrap_plans.py --out /tmp/plans            # B0, B3, Lite0
    python Tools/bootstrap_plans.py --compare Generated/*/plan.json

Scaling rules (torchvision efficientnet.py): c' = _make_divisible(c*w, 8), repeats ceil(n*d),
head = 4 x last stage channels. Lite (TF efficientnet_lite_builder): stem 32 and head 1280 are not
scaled, first and last stage repeats are not scaled, no SE, ReLU6, BN eps 1e-3, TF SAME padding.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_model import build_reference, count_macs, state_shapes, trainable_count  # noqa: E402

B0_TABLE = [  # expand, kernel, stride, in, out, repeats
    (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]

B_SCALES = {  # w, d, r, dropout
    "EfficientNetB0": (1.0, 1.0, 224, 0.2), "EfficientNetB1": (1.0, 1.1, 240, 0.2),
    "EfficientNetB2": (1.1, 1.2, 260, 0.3), "EfficientNetB3": (1.2, 1.4, 300, 0.3),
    "EfficientNetB4": (1.4, 1.8, 380, 0.4), "EfficientNetB5": (1.6, 2.2, 456, 0.4),
    "EfficientNetB6": (1.8, 2.6, 528, 0.5), "EfficientNetB7": (2.0, 3.1, 600, 0.5)}
LITE_SCALES = {
    "EfficientNetLite0": (1.0, 1.0, 224, 0.2), "EfficientNetLite1": (1.0, 1.1, 240, 0.2),
    "EfficientNetLite2": (1.1, 1.2, 260, 0.3), "EfficientNetLite3": (1.2, 1.4, 280, 0.3),
    "EfficientNetLite4": (1.4, 1.8, 300, 0.3)}


def make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def finish(plan: dict) -> dict:
    model = build_reference(plan, check=False)
    plan["parameters"] = [{"name": k, "shape": v} for k, v in state_shapes(model).items()]
    plan["parameterCount"] = trainable_count(model)
    plan["macs"] = count_macs(model, plan["resolution"], plan["inputChannels"])
    return plan


def b_plan(name: str) -> dict:
    w, d, r, p = B_SCALES[name]
    big = name in ("EfficientNetB5", "EfficientNetB6", "EfficientNetB7")
    stages = [{"expand": e, "kernel": k, "stride": s, "inChannels": make_divisible(i * w),
               "outChannels": make_divisible(o * w), "repeats": int(math.ceil(n * d)), "seRatio": 0.25}
              for e, k, s, i, o, n in B0_TABLE]
    return finish({
        "model": name, "resolution": r, "inputChannels": 3, "classes": 1000, "dropout": p,
        "activation": "silu", "padding": "symmetric",
        "batchNorm": {"eps": 1e-3, "momentum": 0.01} if big else {"eps": 1e-5, "momentum": 0.1},
        "stochasticDepth": 0.2, "stem": {"kernel": 3, "stride": 2, "channels": stages[0]["inChannels"]},
        "stages": stages, "head": {"channels": 4 * stages[-1]["outChannels"]}})


def lite_plan(name: str) -> dict:
    w, d, r, p = LITE_SCALES[name]
    stages = []
    for idx, (e, k, s, i, o, n) in enumerate(B0_TABLE):
        fixed = idx in (0, len(B0_TABLE) - 1)
        stages.append({"expand": e, "kernel": k, "stride": s,
                       "inChannels": 32 if idx == 0 else make_divisible(i * w),
                       "outChannels": make_divisible(o * w),
                       "repeats": n if fixed else int(math.ceil(n * d)), "seRatio": None})
    return finish({
        "model": name, "resolution": r, "inputChannels": 3, "classes": 1000, "dropout": p,
        "activation": "relu6", "padding": "tf-same", "batchNorm": {"eps": 1e-3, "momentum": 0.01},
        "stochasticDepth": 0.2, "stem": {"kernel": 3, "stride": 2, "channels": 32},
        "stages": stages, "head": {"channels": 1280}})


def make(name: str) -> dict:
    if name in B_SCALES:
        return b_plan(name)
    if name in LITE_SCALES:
        return lite_plan(name)
    raise SystemExit(f"no hand-written table for {name}")


def compare(path: str) -> bool:
    real = json.load(open(path))
    name = real["model"]
    if name not in B_SCALES and name not in LITE_SCALES:
        print(f"{path}: {name}: no hand-written plan to compare (only checking the reference model)")
        m = build_reference(real)
        print(f"  reference model matches plan parameters ({trainable_count(m):,} params, "
              f"MACs {count_macs(m, real['resolution'], real.get('inputChannels', 3)):,} "
              f"vs plan {real.get('macs')})")
        return True
    mine = make(name)
    norm_stages = lambda st: [dict(s, seRatio=s.get("seRatio")) for s in st or []]  # noqa: E731
    norm_params = lambda ps: [(q["name"], list(q["shape"])) for q in ps or []]  # noqa: E731
    real = dict(real, stages=norm_stages(real.get("stages")), parameters=norm_params(real.get("parameters")))
    mine = dict(mine, stages=norm_stages(mine["stages"]), parameters=norm_params(mine["parameters"]))
    ok = True
    for key in ["resolution", "inputChannels", "classes", "dropout", "activation", "padding",
                "batchNorm", "stochasticDepth", "stem", "stages", "head", "parameters",
                "parameterCount", "macs"]:
        if real.get(key) != mine.get(key):
            ok = False
            a, b = real.get(key), mine.get(key)
            if key == "parameters":
                a = len(a or []); b = len(b)
            print(f"{path}: {key} differs: planner {a} / hand-made {b}")
    print(f"{path}: {name} {'matches' if ok else 'DIFFERS from'} the hand-made plan")
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="directory to write <Model>.json into")
    ap.add_argument("--models", nargs="*", default=["EfficientNetB0", "EfficientNetB3", "EfficientNetLite0"])
    ap.add_argument("--compare", nargs="*", metavar="PLAN", help="diff planner plan.json files against these tables")
    args = ap.parse_args(argv)
    if args.compare:
        return 0 if all([compare(p) for p in args.compare]) else 1
    if not args.out:
        ap.error("--out or --compare required")
    os.makedirs(args.out, exist_ok=True)
    for name in args.models:
        plan = make(name)
        path = os.path.join(args.out, f"{name}.json")
        with open(path, "w") as f:
            json.dump(plan, f, indent=1)
        print(f"{path}: params {plan['parameterCount']:,} MACs {plan['macs']:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
