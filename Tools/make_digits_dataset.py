#!/usr/bin/env python3
"""Writes the bundled example dataset: scikit-learn's copy of the UCI handwritten digits
(1,797 8x8 images, 10 classes) as an image folder of 32x32 grayscale PNGs.

    python Tools/make_digits_dataset.py --out Data/digits

Layout (torchvision ImageFolder): Data/digits/train/<digit>/<index>.png and
Data/digits/val/<digit>/<index>.png, a stratified 80/20 split with a fixed seed. Pixels are the
0..16 counts scaled to 0..255 (white digit on black), upscaled 4x with nearest neighbour so the
PNGs show the original data exactly. Licences: the data is the UCI "Optical Recognition of
Handwritten Digits" set (E. Alpaydin, C. Kaynak; CC BY 4.0); scikit-learn, which ships it, is
BSD-3-Clause. Both are noted in Data/digits/README.md.
"""
from __future__ import annotations

import argparse
import os

import numpy as np
from PIL import Image


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="Data/digits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-fraction", type=float, default=0.2)
    args = ap.parse_args()
    from sklearn.datasets import load_digits
    digits = load_digits()
    rng = np.random.default_rng(args.seed)
    counts = {"train": 0, "val": 0}
    for label in range(10):
        indices = np.flatnonzero(digits.target == label)
        rng.shuffle(indices)
        n_val = int(round(len(indices) * args.val_fraction))
        for split, chosen in (("val", indices[:n_val]), ("train", indices[n_val:])):
            folder = os.path.join(args.out, split, str(label))
            os.makedirs(folder, exist_ok=True)
            for index in sorted(chosen):
                pixels = (digits.images[index] * (255.0 / 16.0)).round().astype(np.uint8)
                image = Image.fromarray(pixels, mode="L").resize((32, 32), Image.NEAREST)
                image.save(os.path.join(folder, f"{index:04d}.png"), optimize=True)
                counts[split] += 1
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(f"""# Bundled example dataset: handwritten digits

{counts['train']} training and {counts['val']} validation images, 10 classes (`train/<digit>/`, `val/<digit>/`),
32x32 grayscale PNGs written by `Tools/make_digits_dataset.py` from scikit-learn's copy of the UCI
"Optical Recognition of Handwritten Digits" data set (E. Alpaydin, C. Kaynak, 1998; 8x8 images of
0..16 counts, scaled to 0..255 and upscaled 4x with nearest neighbour).

Licences: the data set is distributed by the UCI Machine Learning Repository under CC BY 4.0
(https://archive.ics.uci.edu/dataset/80); scikit-learn, which ships this copy, is BSD-3-Clause.
""")
    print(counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
