#!/usr/bin/env python3
"""Convert a PyTorch EfficientNet checkpoint into effnet's float32 safetensors.

    python Tools/convert_weights.py IN.pth OUT.safetensors [--plan P.json] \
        [--style auto|torchvision|lukemelas-lite] [--source TEXT] [--license TEXT]

Canonical names are torchvision's `EfficientNet.state_dict()` names:
    features.0.0.weight, features.0.1.{weight,bias,running_mean,running_var}       stem
    features.{stage+1}.{block}.block.{i}.{0|1}.*                                   MBConv layers
    features.{stage+1}.{block}.block.{i}.fc1/fc2.{weight,bias}                      squeeze-excite
    features.{last}.0/1.*                                                           head
    classifier.1.{weight,bias}
`num_batches_tracked` is never written.

Styles:
  torchvision     names pass through unchanged.
  lukemelas-lite  lukemelas / EfficientNet-Lite-PyTorch names (`_conv_stem`, `_bn0`,
                  `_blocks.N._expand_conv/_bn0/_depthwise_conv/_bn1/[_se_reduce/_se_expand]/
                  _project_conv/_bn2`, `_conv_head`, `_bn1`, `_fc`) are renamed. Block N becomes
                  features.{stage+1}.{index in stage}, using the plan's stage repeats; without a plan
                  stages are inferred (a new stage starts where the output channels or the kernel
                  size change), which is right for the B0/Lite tables but printed as a warning.
  auto            lukemelas-lite if any name starts with `_conv_stem`, else torchvision.

With --plan every name and shape is verified against the plan's `parameters`; any missing,
unexpected or mis-shaped tensor is an error (exit status 1) and nothing is written.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections import OrderedDict

import numpy as np


def load_checkpoint(path: str) -> "OrderedDict[str, np.ndarray]":
    if path.endswith(".safetensors"):
        from safetensors.numpy import load_file
        return OrderedDict(load_file(path))
    import torch
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    out = OrderedDict()
    for k, v in obj.items():
        if not hasattr(v, "detach"):
            raise SystemExit(f"{path}: entry {k!r} is not a tensor ({type(v).__name__})")
        k = k[len("module."):] if k.startswith("module.") else k
        out[k] = v.detach().cpu().numpy()
    return out


def detect_style(names) -> str:
    return "lukemelas-lite" if any(n.startswith("_conv_stem") for n in names) else "torchvision"


def block_positions(state, stage_repeats=None):
    """Map lukemelas block index N -> (stage, index in stage)."""
    blocks = sorted({int(m.group(1)) for n in state for m in [re.match(r"_blocks\.(\d+)\.", n)] if m})
    if blocks != list(range(len(blocks))):
        raise SystemExit(f"block indices are not contiguous: {blocks}")
    if stage_repeats is not None:
        if sum(stage_repeats) != len(blocks):
            raise SystemExit(f"checkpoint has {len(blocks)} blocks, plan stages have "
                             f"{sum(stage_repeats)} ({stage_repeats})")
        pos = []
        for s, r in enumerate(stage_repeats):
            pos += [(s, i) for i in range(r)]
        return pos
    print("warning: no --plan given; inferring stages from channel and kernel changes", file=sys.stderr)
    pos, stage, idx, prev = [], -1, 0, None
    for b in blocks:
        out_ch = state[f"_blocks.{b}._project_conv.weight"].shape[0]
        k = state[f"_blocks.{b}._depthwise_conv.weight"].shape[-1]
        if prev is None or (out_ch, k) != prev:
            stage, idx = stage + 1, 0
        else:
            idx += 1
        pos.append((stage, idx))
        prev = (out_ch, k)
    return pos


def rename_lukemelas(state, stage_repeats=None):
    pos = block_positions(state, stage_repeats)
    n_stages = pos[-1][0] + 1
    head = n_stages + 1
    out = OrderedDict()
    bn_suffix = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")

    def put(new, arr, old):
        if new in out:
            raise SystemExit(f"two tensors map to {new} (second: {old})")
        out[new] = arr

    for name, arr in state.items():
        m = re.match(r"_blocks\.(\d+)\.(\w+)\.(\w+)$", name)
        if m:
            b, layer, leaf = int(m.group(1)), m.group(2), m.group(3)
            s, i = pos[b]
            has_expand = f"_blocks.{b}._expand_conv.weight" in state
            has_se = f"_blocks.{b}._se_reduce.weight" in state
            e = 1 if has_expand else 0
            idx = {"_expand_conv": (0, "0"), "_bn0": (0, "1"),
                   "_depthwise_conv": (e, "0"), "_bn1": (e, "1"),
                   "_se_reduce": (e + 1, "fc1"), "_se_expand": (e + 1, "fc2"),
                   "_project_conv": (e + 1 + has_se, "0"), "_bn2": (e + 1 + has_se, "1")}.get(layer)
            if idx is None or (layer in ("_expand_conv", "_bn0") and not has_expand):
                raise SystemExit(f"unknown tensor {name}")
            put(f"features.{s + 1}.{i}.block.{idx[0]}.{idx[1]}.{leaf}", arr, name)
            continue
        m = re.match(r"(_conv_stem|_bn0|_conv_head|_bn1|_fc)\.(\w+)$", name)
        if not m:
            raise SystemExit(f"unknown tensor {name}")
        layer, leaf = m.groups()
        if layer in ("_bn0", "_bn1") and leaf not in bn_suffix:
            raise SystemExit(f"unknown tensor {name}")
        new = {"_conv_stem": "features.0.0", "_bn0": "features.0.1", "_conv_head": f"features.{head}.0",
               "_bn1": f"features.{head}.1", "_fc": "classifier.1"}[layer]
        put(f"{new}.{leaf}", arr, name)
    return out


def verify(state, plan) -> None:
    want = OrderedDict((p["name"], tuple(p["shape"])) for p in plan["parameters"]
                       if not p["name"].endswith("num_batches_tracked"))
    problems = []
    for k, shape in want.items():
        if k not in state:
            problems.append(f"missing: {k} {list(shape)}")
        elif tuple(state[k].shape) != shape:
            problems.append(f"shape mismatch: {k} checkpoint {list(state[k].shape)} plan {list(shape)}")
    for k in state:
        if k not in want:
            problems.append(f"unexpected (not in plan {plan.get('model')}): {k} {list(state[k].shape)}")
    if problems:
        counts = {w: sum(p.startswith(w) for p in problems) for w in ("missing", "unexpected", "shape")}
        raise SystemExit(f"checkpoint does not match plan {plan.get('model')}: {counts['missing']} missing, "
                         f"{counts['unexpected']} unexpected, {counts['shape']} mis-shaped tensors:\n  " + "\n  ".join(problems[:50])
                         + ("\n  ..." if len(problems) > 50 else ""))


def convert(state, style="auto", plan=None):
    """Returns an OrderedDict of canonical name -> float32 array (plan order when a plan is given)."""
    if style == "auto":
        style = detect_style(state)
    if style == "lukemelas-lite":
        repeats = [s["repeats"] for s in plan["stages"]] if plan else None
        state = rename_lukemelas(state, repeats)
    elif style != "torchvision":
        raise SystemExit(f"unknown style {style}")
    state = OrderedDict((k, v) for k, v in state.items() if not k.endswith("num_batches_tracked"))
    for k, v in state.items():
        if not np.issubdtype(v.dtype, np.floating):
            raise SystemExit(f"{k}: dtype {v.dtype} is not floating point")
    state = OrderedDict((k, np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items())
    if plan is not None:
        verify(state, plan)
        state = OrderedDict((p["name"], state[p["name"]]) for p in plan["parameters"]
                            if not p["name"].endswith("num_batches_tracked"))
    return state


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--plan", help="plan JSON to verify names and shapes against (and to place blocks)")
    ap.add_argument("--style", default="auto", choices=["auto", "torchvision", "lukemelas-lite"])
    ap.add_argument("--source", help="metadata 'source' (default: input file name + sha256)")
    ap.add_argument("--license", default="unknown", help="metadata 'license'")
    args = ap.parse_args(argv)
    plan = json.load(open(args.plan)) if args.plan else None
    state = convert(load_checkpoint(args.input), args.style, plan)
    source = args.source or f"{os.path.basename(args.input)} sha256:{sha256(args.input)}"
    from safetensors.numpy import save_file
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    meta = {"source": source, "license": args.license}
    if plan:
        meta["model"] = str(plan.get("model"))
    save_file(dict(state), args.output, metadata=meta)
    n = sum(v.size for v in state.values())
    print(f"wrote {args.output}: {len(state)} tensors, {n:,} values"
          + (f", verified against plan {plan['model']}" if plan else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
