#!/usr/bin/env python3
"""PyTorch reference models built from a planner JSON (the Swift planner's `plan.json`).

There is no second parser of the spec language here: the plan JSON (already scaled) is the
only input.

* silu + symmetric padding + SE 0.25 in every stage + 3 input channels -> torchvision's own
  `torchvision.models.efficientnet.EfficientNet` (built from MBConvConfig entries).
* anything else (the Lite family: relu6, tf-same padding, no SE) -> `GenericEfficientNet`, a small
  module that mirrors the TF reference / lukemelas structure, with torchvision state_dict names.

`build_reference(plan)` asserts that the model's state_dict names and shapes equal the plan's
`parameters` exactly (num_batches_tracked excluded).

Usage:
    python Tools/reference_model.py PLAN.json [--check-generic]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import OrderedDict
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn


def load_plan(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# Generic (Lite-capable) implementation
# ---------------------------------------------------------------------------------------------

def tf_same_pad(h: int, w: int, k: int, s: int) -> tuple[int, int, int, int]:
    """TensorFlow SAME padding as (left, right, top, bottom); extra pixel goes bottom/right."""
    ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
    pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
    return pw // 2, pw - pw // 2, ph // 2, ph - ph // 2


class PadConv2d(nn.Conv2d):
    """Conv2d (no bias) with either symmetric (k-1)/2 or TensorFlow-SAME padding."""

    def __init__(self, cin, cout, k, stride=1, groups=1, padding_mode="symmetric", bias=False):
        sym = (k - 1) // 2 if padding_mode == "symmetric" else 0
        super().__init__(cin, cout, k, stride=stride, padding=sym, groups=groups, bias=bias)
        self.tf_same = padding_mode == "tf-same"

    def forward(self, x):
        if self.tf_same:
            k = self.kernel_size[0]
            s = self.stride[0]
            pad = tf_same_pad(x.shape[-2], x.shape[-1], k, s)
            if any(pad):
                x = F.pad(x, pad)
        return super().forward(x)


def make_act(name: str) -> nn.Module:
    if name == "silu":
        return nn.SiLU()
    if name == "relu6":
        return nn.ReLU6()
    raise ValueError(f"unknown activation {name!r}")


class ConvBNAct(nn.Sequential):
    """Names its children 0 (conv) and 1 (BN) like torchvision's Conv2dNormActivation."""

    def __init__(self, cin, cout, k, stride, groups, padding_mode, bn, act):
        layers = [PadConv2d(cin, cout, k, stride, groups, padding_mode),
                  nn.BatchNorm2d(cout, eps=bn["eps"], momentum=bn["momentum"])]
        if act is not None:
            layers.append(make_act(act))
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Same names as torchvision's SqueezeExcitation: fc1, fc2 (1x1 convs with bias)."""

    def __init__(self, channels, squeeze, act):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.act = make_act(act)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = self.fc2(self.act(self.fc1(s)))
        return x * torch.sigmoid(s)


def stochastic_depth(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """torchvision 'row' mode."""
    if not training or p == 0.0:
        return x
    keep = 1.0 - p
    mask = x.new_empty([x.shape[0]] + [1] * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class MBConv(nn.Module):
    def __init__(self, cin, cout, expand, k, stride, se_ratio, act, padding_mode, bn, sd_prob):
        super().__init__()
        mid = cin * expand  # torchvision: _make_divisible(cin * expand, 8); equal for int expand, cin%8==0
        layers = []
        if expand != 1:
            layers.append(ConvBNAct(cin, mid, 1, 1, 1, padding_mode, bn, act))
        layers.append(ConvBNAct(mid, mid, k, stride, mid, padding_mode, bn, act))
        if se_ratio is not None:
            layers.append(SqueezeExcite(mid, max(1, int(cin * se_ratio)), act))
        layers.append(ConvBNAct(mid, cout, 1, 1, 1, padding_mode, bn, None))
        self.block = nn.Sequential(*layers)
        self.use_res = stride == 1 and cin == cout
        self.sd_prob = sd_prob

    def forward(self, x):
        y = self.block(x)
        if self.use_res:
            y = stochastic_depth(y, self.sd_prob, self.training) + x
        return y


class GenericEfficientNet(nn.Module):
    """EfficientNet from a plan, torchvision state_dict layout, any activation/padding/SE."""

    def __init__(self, plan: dict):
        super().__init__()
        act = plan["activation"]
        pm = plan["padding"]
        bn = plan["batchNorm"]
        stem = plan["stem"]
        stages = plan["stages"]
        total = sum(s["repeats"] for s in stages)
        sd = float(plan.get("stochasticDepth") or 0.0)
        feats = [ConvBNAct(plan.get("inputChannels", 3), stem["channels"], stem["kernel"],
                           stem["stride"], 1, pm, bn, act)]
        bid = 0
        for st in stages:
            blocks = []
            for r in range(st["repeats"]):
                cin = st["inChannels"] if r == 0 else st["outChannels"]
                stride = st["stride"] if r == 0 else 1
                blocks.append(MBConv(cin, st["outChannels"], st["expand"], st["kernel"], stride,
                                     st.get("seRatio"), act, pm, bn, sd * bid / total))
                bid += 1
            feats.append(nn.Sequential(*blocks))
        feats.append(ConvBNAct(stages[-1]["outChannels"], plan["head"]["channels"], 1, 1, 1, pm, bn, act))
        self.features = nn.Sequential(*feats)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=float(plan.get("dropout", 0.0))),
                                        nn.Linear(plan["head"]["channels"], plan["classes"]))

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.classifier(x)


# ---------------------------------------------------------------------------------------------
# torchvision
# ---------------------------------------------------------------------------------------------

def is_torchvision_compatible(plan: dict) -> bool:
    return (plan["activation"] == "silu" and plan["padding"] == "symmetric"
            and plan.get("inputChannels", 3) == 3
            and all(s.get("seRatio") == 0.25 for s in plan["stages"])
            and plan["stem"]["kernel"] == 3 and plan["stem"]["stride"] == 2
            and plan["stem"]["channels"] == plan["stages"][0]["inChannels"])


def torchvision_model(plan: dict) -> nn.Module:
    from torchvision.models.efficientnet import EfficientNet, MBConvConfig
    cfg = [MBConvConfig(s["expand"], s["kernel"], s["stride"], s["inChannels"], s["outChannels"],
                        s["repeats"], width_mult=1.0, depth_mult=1.0) for s in plan["stages"]]
    bn = plan["batchNorm"]
    return EfficientNet(cfg, dropout=float(plan.get("dropout", 0.0)),
                        stochastic_depth_prob=float(plan.get("stochasticDepth") or 0.0),
                        num_classes=plan["classes"],
                        norm_layer=partial(nn.BatchNorm2d, eps=bn["eps"], momentum=bn["momentum"]),
                        last_channel=plan["head"]["channels"])


# ---------------------------------------------------------------------------------------------

def state_shapes(model: nn.Module) -> "OrderedDict[str, list[int]]":
    return OrderedDict((k, list(v.shape)) for k, v in model.state_dict().items()
                       if not k.endswith("num_batches_tracked"))


def check_against_plan(model: nn.Module, plan: dict) -> None:
    got = state_shapes(model)
    want = OrderedDict((p["name"], list(p["shape"])) for p in plan["parameters"]
                       if not p["name"].endswith("num_batches_tracked"))
    problems = []
    for k in want:
        if k not in got:
            problems.append(f"missing in model: {k} {want[k]}")
        elif got[k] != want[k]:
            problems.append(f"shape mismatch {k}: model {got[k]} plan {want[k]}")
    for k in got:
        if k not in want:
            problems.append(f"not in plan: {k} {got[k]}")
    if not problems and list(got) != list(want):
        problems.append("same names but different order")
    if problems:
        raise AssertionError(f"{plan.get('model')}: reference model != plan parameters:\n  "
                             + "\n  ".join(problems[:40]))
    if "parameterCount" in plan:
        n = trainable_count(model)
        if n != plan["parameterCount"]:
            raise AssertionError(f"{plan.get('model')}: parameterCount plan {plan['parameterCount']} "
                                 f"model {n}")


def trainable_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_reference(plan: dict, check: bool = True, force_generic: bool = False) -> nn.Module:
    if is_torchvision_compatible(plan) and not force_generic:
        model = torchvision_model(plan)
    else:
        model = GenericEfficientNet(plan)
    if check and plan.get("parameters"):
        check_against_plan(model, plan)
    return model


def count_macs(model: nn.Module, resolution: int, in_ch: int = 3) -> int:
    """Multiply-accumulates of Conv2d and Linear layers (what torchvision's GFLOPS counts)."""
    total = [0]

    def conv_hook(m, inp, out):
        kh, kw = m.kernel_size
        total[0] += out.numel() // out.shape[0] * (m.in_channels // m.groups) * kh * kw

    def lin_hook(m, inp, out):
        total[0] += m.in_features * m.out_features

    hs = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hs.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hs.append(m.register_forward_hook(lin_hook))
    was = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, in_ch, resolution, resolution))
    model.train(was)
    for h in hs:
        h.remove()
    return total[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("plans", nargs="+")
    ap.add_argument("--check-generic", action="store_true",
                    help="for torchvision-compatible plans also build GenericEfficientNet and "
                         "check both give the same logits on synthetic weights")
    args = ap.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    for path in args.plans:
        plan = load_plan(path)
        model = build_reference(plan)
        kind = type(model).__module__ + "." + type(model).__name__
        macs = count_macs(model, plan["resolution"], plan.get("inputChannels", 3))
        print(f"{plan['model']}: {kind} params {trainable_count(model):,} "
              f"(plan {plan.get('parameterCount')}), MACs {macs:,} (plan {plan.get('macs')})")
        if args.check_generic and is_torchvision_compatible(plan):
            from synthetic_weights import synthetic_state_torch
            g = build_reference(plan, force_generic=True)
            sd = synthetic_state_torch(plan["parameters"], 1)
            model.load_state_dict(sd, strict=False)
            g.load_state_dict(sd, strict=False)
            x = torch.randn(2, 3, plan["resolution"], plan["resolution"], dtype=torch.float64)
            with torch.no_grad():
                a = model.double().eval()(x)
                b = g.double().eval()(x)
            print(f"  generic vs torchvision max|diff| {float((a - b).abs().max()):.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
