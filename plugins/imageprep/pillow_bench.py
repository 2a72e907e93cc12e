#!/usr/bin/env python3
"""Time Pillow + numpy doing open_clip's eval image transform on one core, for comparison with clipeval's.

The transform is what open_clip's image_transform(is_train=False) runs for a square input (BiomedCLIP, CLIP):
torchvision Resize(size, BICUBIC) of the shorter side (PIL Image.resize), CenterCrop(size) (PIL Image.crop at
torchvision's int(round((n - size) / 2.0))), convert("RGB"), ToTensor (float32 / 255, CHW) and
Normalize(mean, std), with numpy standing in for torch. Every file is read into memory first, so disk time
counts on neither side; each pass decodes and transforms every image once, single-threaded.

    python3 pillow_bench.py [--size 224] [--passes 3] [--json] [--out pixels.npy] IMAGE_OR_FOLDER...

It prints the milliseconds per image of the fastest pass (--json: a JSON object with the Pillow and numpy
versions and every pass). --out writes the float32 [N, 3, size, size] tensor of the last pass, in the order the
files were given (folders sorted by name), for checking clipeval's pixels against this Pillow.
"""

import os

# One core: numpy (and whatever BLAS it links) must not start threads of its own.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import PIL  # noqa: E402
from PIL import Image  # noqa: E402

# open_clip's OPENAI_DATASET_MEAN and OPENAI_DATASET_STD (BiomedCLIP's preprocess_cfg too).
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")


def files_of(args):
    """The image files named, folders expanded to their image files sorted by name."""
    out = []
    for a in args:
        if os.path.isdir(a):
            out += sorted(os.path.join(a, f) for f in os.listdir(a) if f.lower().endswith(IMAGE_SUFFIXES))
        else:
            out.append(a)
    return out


def make_transform(size, mean, std):
    mean = np.asarray(mean, dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(std, dtype=np.float32).reshape(3, 1, 1)

    def transform(data):
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        # torchvision _compute_resized_output_size for an int size
        if w <= h:
            nw, nh = size, int(size * h / w)
        else:
            nw, nh = int(size * w / h), size
        im = im.resize((nw, nh), Image.BICUBIC)
        left, top = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
        im = im.crop((left, top, left + size, top + size)).convert("RGB")
        x = np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
        return (x - mean) / std

    return transform


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("images", nargs="+", help="image files, or folders of them")
    ap.add_argument("--size", type=int, default=224, help="the square input side (default 224)")
    ap.add_argument("--passes", type=int, default=3, help="passes over all the images (default 3)")
    ap.add_argument("--json", action="store_true", help="print a JSON object")
    ap.add_argument("--out", help="write the last pass's float32 [N, 3, size, size] pixels to this .npy")
    args = ap.parse_args()

    files = files_of(args.images)
    if not files:
        sys.exit("pillow_bench.py: no image files")
    data = [open(f, "rb").read() for f in files]
    transform = make_transform(args.size, OPENAI_MEAN, OPENAI_STD)
    passes = []
    pixels = None
    for _ in range(max(args.passes, 1)):
        keep = [] if args.out else None
        t0 = time.perf_counter()
        for d in data:
            x = transform(d)
            if keep is not None:
                keep.append(x)
        passes.append(time.perf_counter() - t0)
        pixels = keep
    best = min(passes)
    if args.out:
        np.save(args.out, np.stack(pixels))
    result = {
        "images": len(files),
        "passes_s": passes,
        "ms_per_image": 1000 * best / len(files),
        "pillow": PIL.__version__,
        "numpy": np.__version__,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"Pillow {PIL.__version__} + numpy {np.__version__}: {len(files)} images, "
              f"{result['ms_per_image']:.2f} ms/image (fastest of {len(passes)} passes, one core)")


if __name__ == "__main__":
    main()
