#!/usr/bin/env python3
"""Reference fixtures for the EffNetData target (decoding and torchvision transforms).

    /work/venv/bin/python Tools/make_data_fixtures.py [--out Tests/Fixtures/data]

Everything is derived from the committed sample photos in Tests/Fixtures/photos/ (scikit-image
sample data, see the README there), re-encoded small, so the whole folder stays well under 2 MB.

Layout of the output folder
  images/     small input files: JPEG (baseline 4:2:0, 4:4:4, progressive, grayscale, CMYK,
              odd size, EXIF orientations 1-8 little-endian plus orientation 6 big-endian),
              PNG (RGB, gray, gray+alpha, palette with tRNS, RGBA, 16-bit RGB, 16-bit gray),
              and broken inputs (truncated JPEG/PNG, zero bytes, text named .png, junk after SOI).
  refs/       <image>.npy: what PIL decodes ('|u1', HWC RGB): Image.open -> ImageOps.exif_transpose
              -> convert("RGB"). Exceptions (documented in manifest.json "note"): 16-bit gray PNG,
              where PIL's convert("RGB") clips I;16 values at 255, is referenced as value >> 8.
  transforms/ torchvision.transforms.functional outputs on refs/ images ('|u1' HWC) for resize
              (bilinear/bicubic, antialias), center crop (incl. padding), resized_crop, and every
              AutoAugment op at fixed magnitudes (ops.npy + ops.json), plus the magnitude tables
              of AutoAugment (10 bins) and RandAugment (31 bins) in augment_space.json.
  eval/       <photo>.npy: torchvision eval preprocessing of Tests/Fixtures/photos/<photo>.jpg,
              Resize(112, BICUBIC) + CenterCrop(96) + ToTensor + Normalize(ImageNet), '<f4' CHW.
  manifest.json  per image: decodable or not, shape, FNV-1a 64 of PIL's decoded bytes; the same
              hash for the full-size photos (to check bit-exact JPEG decoding without storing them).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import struct
import zlib

import numpy as np
import torch
import torchvision
from PIL import Image, ImageOps
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF
from torchvision.transforms import autoaugment as AA

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PHOTOS = ["astronaut", "chelsea", "coffee", "rocket"]


def fnv1a64(b: bytes) -> str:
    h = 0xCBF29CE484222325
    for byte in b:
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def write_png16(path: str, a: np.ndarray) -> None:
    """16-bit PNG (gray HxW or RGB HxWx3), written by hand because PIL cannot write RGB;16."""
    h, w = a.shape[:2]
    color = 0 if a.ndim == 2 else 2
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color, 0, 0, 0))
    data += png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    open(path, "wb").write(data)


def exif_app1_big_endian(orientation: int) -> bytes:
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def pil_decode(path: str) -> np.ndarray:
    im = Image.open(path)
    im = ImageOps.exif_transpose(im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests", "Fixtures", "data"))
    ap.add_argument("--photos", default=os.path.join(ROOT, "Tests", "Fixtures", "photos"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = args.out
    img_dir, ref_dir, tr_dir, ev_dir = (os.path.join(out, d) for d in ("images", "refs", "transforms", "eval"))
    for d in (img_dir, ref_dir, tr_dir, ev_dir):
        os.makedirs(d, exist_ok=True)
    P = lambda name: os.path.join(img_dir, name)  # noqa: E731

    # ---- sources: small crops of the committed photos, resized with PIL
    chelsea = Image.open(os.path.join(args.photos, "chelsea.jpg")).convert("RGB")
    coffee = Image.open(os.path.join(args.photos, "coffee.jpg")).convert("RGB")
    photo = chelsea.resize((120, 80), Image.BICUBIC)           # 3:2 like the original
    small = coffee.crop((100, 40, 420, 280)).resize((64, 48), Image.BICUBIC)
    tiny = coffee.crop((60, 60, 360, 260)).resize((24, 16), Image.BICUBIC)

    # ---- JPEG inputs
    photo.save(P("photo.jpg"), "JPEG", quality=90)                          # 4:2:0
    photo.save(P("photo444.jpg"), "JPEG", quality=95, subsampling=0)
    photo.save(P("progressive.jpg"), "JPEG", quality=85, progressive=True)
    photo.convert("L").save(P("gray.jpg"), "JPEG", quality=90)
    photo.convert("CMYK").save(P("cmyk.jpg"), "JPEG", quality=90)
    coffee.crop((200, 100, 237, 123)).save(P("odd.jpg"), "JPEG", quality=90)  # 37x23
    for n in range(1, 9):
        ex = Image.Exif()
        ex[0x0112] = n
        tiny.save(P(f"exif{n}.jpg"), "JPEG", quality=92, exif=ex.tobytes())
    buf = io.BytesIO()
    tiny.save(buf, "JPEG", quality=92)
    b = buf.getvalue()
    open(P("exif6_motorola.jpg"), "wb").write(b[:2] + exif_app1_big_endian(6) + b[2:])
    jpg = open(P("photo.jpg"), "rb").read()
    open(P("truncated.jpg"), "wb").write(jpg[: len(jpg) * 6 // 10])
    rng = np.random.default_rng(7)
    open(P("garbage.jpg"), "wb").write(b"\xff\xd8\xff\xdb" + rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    open(P("empty.jpg"), "wb").write(b"")
    open(P("text.png"), "w").write("This is a text file, not a PNG image.\n")

    # ---- PNG inputs
    small.save(P("rgb.png"))
    small.convert("L").save(P("gray.png"))
    la = small.convert("L")
    la.putalpha(Image.linear_gradient("L").resize(small.size))
    la.save(P("gray_alpha.png"))
    pal = small.convert("P", palette=Image.ADAPTIVE, colors=32)
    pal.save(P("palette.png"), transparency=3)
    rgba = small.copy()
    rgba.putalpha(Image.linear_gradient("L").rotate(90).resize(small.size))
    rgba.save(P("rgba.png"))
    a8 = np.asarray(small, dtype=np.uint16)
    a16 = a8 * 257 + np.random.default_rng(3).integers(0, 257, a8.shape).astype(np.uint16)
    write_png16(P("rgb16.png"), a16)
    g16 = a16[..., 1]
    write_png16(P("gray16.png"), g16)
    png = open(P("rgb.png"), "rb").read()
    open(P("truncated.png"), "wb").write(png[: len(png) // 2])
    open(P("png_named.jpg"), "wb").write(open(P("gray_alpha.png"), "rb").read())

    # ---- PIL reference decodes + manifest
    manifest = {"generator": "Tools/make_data_fixtures.py", "torch": torch.__version__,
                "torchvision": torchvision.__version__, "pillow": Image.__version__,
                "note": "refs are PIL decodes (exif_transpose + convert RGB) except gray16.png: "
                        "value >> 8 (PIL clips I;16 to 255 on convert('RGB')).",
                "images": {}, "photos": {}}
    for name in sorted(os.listdir(img_dir)):
        path = P(name)
        try:
            if name == "gray16.png":
                arr = np.repeat((g16 >> 8).astype(np.uint8)[..., None], 3, axis=2)
            else:
                arr = pil_decode(path)
        except Exception as e:  # noqa: BLE001
            manifest["images"][name] = {"decodable": False, "pil_error": f"{type(e).__name__}: {e}"}
            continue
        stem = name.replace(".", "_")
        np.save(os.path.join(ref_dir, f"{stem}.npy"), arr)
        manifest["images"][name] = {"decodable": True, "ref": f"refs/{stem}.npy", "shape": list(arr.shape)}
    manifest["images"]["truncated.jpg"]["decodable"] = False  # PIL may decode a truncated JPEG lazily
    for p in PHOTOS:
        arr = np.asarray(Image.open(os.path.join(args.photos, f"{p}.jpg")).convert("RGB"), dtype=np.uint8)
        manifest["photos"][p] = {"shape": list(arr.shape), "fnv1a64": fnv1a64(arr.tobytes())}

    # ---- transforms on refs (inputs are the PIL decodes, not our decoder)
    src = Image.fromarray(np.load(os.path.join(ref_dir, "photo_jpg.npy")))
    resize = []
    for (w, h) in [(57, 43), (150, 100), (120, 40), (61, 80), (33, 97), (7, 5)]:
        for interp, tag in [(InterpolationMode.BILINEAR, "bilinear"), (InterpolationMode.BICUBIC, "bicubic")]:
            r = TF.resize(src, [h, w], interpolation=interp, antialias=True)
            fn = f"resize_{tag}_{w}x{h}.npy"
            np.save(os.path.join(tr_dir, fn), np.asarray(r, dtype=np.uint8))
            resize.append({"file": fn, "filter": tag, "width": w, "height": h})
    short = TF.resize(src, 50, interpolation=InterpolationMode.BICUBIC)
    np.save(os.path.join(tr_dir, "resize_short50_bicubic.npy"), np.asarray(short, dtype=np.uint8))
    crops = []
    for (h, w) in [(51, 77), (80, 120), (90, 130), (1, 1), (10, 119)]:
        c = TF.center_crop(src, [h, w])
        fn = f"center_crop_{w}x{h}.npy"
        np.save(os.path.join(tr_dir, fn), np.asarray(c, dtype=np.uint8))
        crops.append({"file": fn, "width": w, "height": h})
    rc = TF.resized_crop(src, 5, 10, 50, 70, [32, 32], interpolation=InterpolationMode.BILINEAR, antialias=True)
    np.save(os.path.join(tr_dir, "resized_crop_5_10_50_70_to_32.npy"), np.asarray(rc, dtype=np.uint8))
    np.save(os.path.join(tr_dir, "hflip.npy"), np.asarray(TF.hflip(src), dtype=np.uint8))

    # AutoAugment ops at fixed magnitudes
    rgb = Image.open(P("rgb.png")).convert("RGB")
    low = Image.fromarray((np.asarray(rgb, dtype=np.float32) * 0.4 + 70).astype(np.uint8))
    inputs = {"rgb": rgb, "low": low}
    H, W = 48, 64
    space = AA.AutoAugment()._augmentation_space(10, (H, W))
    ops, outs = [], []

    def add(op, bin_, sign, inp="rgb", fill=None):
        mags, signed = space[op]
        mag = float(mags[bin_].item()) if bin_ is not None else 0.0
        if signed and sign < 0:
            mag *= -1.0
        o = AA._apply_op(inputs[inp], op, mag, interpolation=InterpolationMode.NEAREST, fill=fill)
        ops.append({"op": op, "bin": bin_, "sign": sign, "magnitude": mag, "input": inp, "fill": fill})
        outs.append(np.asarray(o, dtype=np.uint8))

    for op in ["ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"]:
        for b in (5, 9):
            for s in (1, -1):
                add(op, b, s)
    add("Rotate", 0, 1)
    add("Rotate", 7, 1, fill=[255, 128, 0])
    add("ShearX", 8, -1, fill=[10, 20, 30])
    for op in ["Brightness", "Color", "Contrast", "Sharpness"]:
        for b in (2, 9):
            for s in (1, -1):
                add(op, b, s)
        add(op, 7, 1, inp="low")
    for b in (0, 3, 5, 7, 9):
        add("Posterize", b, 1)
        add("Solarize", b, 1)
    for inp in ("rgb", "low"):
        add("AutoContrast", None, 1, inp=inp)
        add("Equalize", None, 1, inp=inp)
        add("Invert", None, 1, inp=inp)
    np.save(os.path.join(tr_dir, "op_inputs.npy"), np.stack([np.asarray(rgb), np.asarray(low)]).astype(np.uint8))
    np.save(os.path.join(tr_dir, "ops.npy"), np.stack(outs))
    json.dump({"inputs": ["rgb", "low"], "ops": ops}, open(os.path.join(tr_dir, "ops.json"), "w"), indent=1)

    def table(sp):
        return {k: {"magnitudes": [float(x) for x in np.atleast_1d(v[0].numpy()).tolist()], "signed": v[1]}
                for k, v in sp.items()}
    aa = AA.AutoAugment(AA.AutoAugmentPolicy.IMAGENET)
    json.dump({
        "image_size_hw": [H, W],
        "autoaugment_10": table(space),
        "randaugment_31": table(AA.RandAugment()._augmentation_space(31, (H, W))),
        "imagenet_policy": [[list(p) for p in pair] for pair in aa.policies],
    }, open(os.path.join(tr_dir, "augment_space.json"), "w"), indent=1)
    manifest["transforms"] = {"resize": resize, "center_crop": crops}

    # ---- eval preprocessing of the full-size photos
    import torchvision.transforms as T
    pre = T.Compose([T.Resize(112, interpolation=InterpolationMode.BICUBIC), T.CenterCrop(96), T.ToTensor(),
                     T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    for p in PHOTOS:
        x = pre(Image.open(os.path.join(args.photos, f"{p}.jpg")).convert("RGB")).numpy().astype("<f4")
        np.save(os.path.join(ev_dir, f"{p}.npy"), x)
    manifest["eval"] = {"resize": 112, "crop": 96, "interpolation": "bicubic", "normalize": "imagenet",
                        "files": [f"eval/{p}.npy" for p in PHOTOS]}

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out) for fn in fns)
    print(f"wrote {out}: {total:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
