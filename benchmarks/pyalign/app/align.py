"""The alignment task: how well a model's image and caption embeddings line up.

A dataset is a JSON Lines manifest in the retrieval task's format: one object per image,
{"image": "relative/path.jpg", "captions": ["a caption", ...]}, image paths relative to the manifest's folder.
Images are encoded in manifest order; texts are every caption in manifest order, so caption j belongs to the image
owner[j].

Metrics (embeddings L2-normalised first, so similarities are cosines):
  matched_similarity     mean cos(image, caption) over the matched pairs (every caption with its own image);
  mismatched_similarity  mean cos(image, caption) over every other image-caption pair;
  similarity_gap         matched_similarity - mismatched_similarity;
  image_to_text_top1     share of images whose most similar caption (ties: the lowest index) is one of their own;
                         per-image values 1 or 0 travel as item values, and one prediction per image;
  pairs                  the number of matched pairs (captions).
The mismatched mean is computed without an N x M matrix: the sum over all pairs is (sum of image vectors) .
(sum of caption vectors), minus the matched sum. Top-1 works in blocks of image rows, O(M*d + block*M) memory.
"""

import json
import math
import os

import numpy as np

NAME = "pyalign"
VERSION = "v0.1.0"
DESCRIPTION = "image-caption alignment (Python): matched vs mismatched cosine similarity, image->text top-1"

# DATASET_FIELDS and OPTION_FIELDS are the keys Describe declares: (name, type, required, help, extra).
DATASET_FIELDS = [
    ("manifest", "path", True, "JSON Lines manifest: {\"image\": path relative to the manifest, \"captions\": [...]}",
     {}),
]
OPTION_FIELDS = [
    ("limit", "int", False, "use only the first N images of the manifest (and their captions)", {"min": 1.0}),
]

BLOCK_ROWS = 256


class InputError(ValueError):
    """A problem with what the caller sent: a config, a manifest, an embedding file."""


class Dataset:
    """A loaded manifest: image paths (absolute), captions, the image each caption belongs to, and the images left
    out as bad, (image path, why)."""

    def __init__(self, manifest, names, paths, captions, owner, skipped=()):
        self.manifest = manifest
        self.names = names
        self.paths = paths
        self.captions = captions
        self.owner = owner
        self.skipped = list(skipped)


def _object(raw, what):
    """Parses raw JSON bytes that must hold an object (empty bytes: an empty object)."""
    if raw is None or len(raw) == 0:
        return {}
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise InputError("%s: not valid JSON: %s" % (what, err)) from None
    if not isinstance(value, dict):
        raise InputError("%s: want a JSON object, have %s" % (what, type(value).__name__))
    return value


def _known_keys(obj, fields, what):
    known = [f[0] for f in fields]
    for key in sorted(obj):
        if key not in known:
            raise InputError("%s: unknown key %r (this task accepts: %s)" % (what, key, ", ".join(known)))


def parse_config(dataset_json, options_json):
    """Returns (manifest path, limit or None) from a LoadRequest's JSON, or raises InputError."""
    ds = _object(dataset_json, "dataset")
    _known_keys(ds, DATASET_FIELDS, "dataset")
    manifest = ds.get("manifest")
    if manifest is None:
        raise InputError("dataset: manifest is required (a JSON Lines file of {\"image\", \"captions\"})")
    if not isinstance(manifest, str) or manifest == "":
        raise InputError("dataset.manifest: want a path, have %r" % (manifest,))
    opts = _object(options_json, "options")
    _known_keys(opts, OPTION_FIELDS, "options")
    limit = opts.get("limit")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit != math.floor(limit):
            raise InputError("options.limit: want an integer, have %r" % (limit,))
        limit = int(limit)
        if limit < 1:
            raise InputError("options.limit: want at least 1, have %d" % limit)
    return os.path.abspath(manifest), limit


def _inside(root, rel):
    """Returns root/rel, or raises InputError when rel is absolute or leaves root, by its name or through a
    symbolic link (the backend opens it beneath root too: see server.load_chunks)."""
    if os.path.isabs(rel):
        raise InputError("image path %r is absolute; paths are relative to the manifest's folder" % rel)
    full = os.path.normpath(os.path.join(root, rel))
    if os.path.commonpath([root, full]) != root:
        raise InputError("image path %r leaves the manifest's folder" % rel)
    real_root, real = os.path.realpath(root), os.path.realpath(full)
    if os.path.commonpath([real_root, real]) != real_root:
        raise InputError("image %r is a symbolic link to %s, outside the manifest's folder %s; copy the file into the data set"
                         % (rel, real, root))
    return full


def load(dataset_json, options_json, skip_bad_images=False):
    """Reads the manifest a LoadRequest names; raises InputError on any problem with it. With skip_bad_images (the
    LoadRequest's, a task's `bad_images: skip`), an entry whose image is missing or outside the manifest's folder is
    left out and its image recorded in the dataset's skipped list, (image path, why), instead."""
    manifest, limit = parse_config(dataset_json, options_json)
    root = os.path.dirname(manifest)
    names, paths, captions, owner, skipped, seen = [], [], [], [], [], set()
    try:
        f = open(manifest, "r", encoding="utf-8")
    except OSError as err:
        raise InputError("dataset.manifest: %s" % err) from None
    with f:
        for lineno, line in enumerate(f, 1):
            if limit is not None and len(names) >= limit:
                break
            if line.strip() == "":
                continue
            where = "%s:%d" % (manifest, lineno)
            try:
                item = json.loads(line)
            except ValueError as err:
                raise InputError("%s: not valid JSON: %s" % (where, err)) from None
            if not isinstance(item, dict):
                raise InputError("%s: want an object {\"image\", \"captions\"}" % where)
            image, caps = item.get("image"), item.get("captions")
            if not isinstance(image, str) or image == "":
                raise InputError("%s: \"image\" must be a non-empty path" % where)
            if not isinstance(caps, list) or len(caps) == 0 or not all(isinstance(c, str) for c in caps):
                raise InputError("%s: \"captions\" must be a non-empty list of strings" % where)
            try:
                path = _inside(root, image)
                if not os.path.isfile(path):
                    raise InputError("image %s does not exist" % path)
            except InputError as err:
                if not skip_bad_images:
                    raise InputError("%s: %s" % (where, err)) from None
                bad = os.path.join(root, image) if not os.path.isabs(image) else image
                if bad not in seen:
                    seen.add(bad)
                    skipped.append((bad, str(err)))
                continue
            for c in caps:
                captions.append(c)
                owner.append(len(names))
            names.append(image)
            paths.append(path)
    if not names and skipped:
        raise InputError("dataset.manifest: %s: every item's image is bad (bad_images: skip leaves none to score); "
                         "the first, %s: %s" % (manifest, skipped[0][0], skipped[0][1]))
    if not names:
        raise InputError("dataset.manifest: %s lists no images" % manifest)
    return Dataset(manifest, names, paths, captions, np.asarray(owner, dtype=np.int64), skipped)


def open_embeddings(what, path, rows, cols, want_rows):
    """Maps a .npy embedding file read-only, checking it against the request and the dataset."""
    if path == "":
        raise InputError("%s embeddings: no file named (the dataset has %d %s)" % (what, want_rows, what + "s"))
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        raise InputError("%s embeddings: %s" % (what, err)) from None
    if arr.dtype != np.dtype("<f4") or arr.ndim != 2:
        raise InputError("%s embeddings: %s holds %s of shape %s; want 2-D little-endian float32"
                         % (what, path, arr.dtype, arr.shape))
    if arr.shape != (rows, cols):
        raise InputError("%s embeddings: %s holds %s, the request says [%d, %d]"
                         % (what, path, list(arr.shape), rows, cols))
    if rows != want_rows:
        raise InputError("%s embeddings: %d rows, the dataset has %d %ss" % (what, rows, want_rows, what))
    return arr


def without(ds, images, texts, skipped):
    """Returns the dataset and embeddings less the images at the rows in skipped (bad images the harness left
    out: their rows are zeros) and their captions, as if the manifest had not listed them."""
    if len(skipped) == 0:
        return ds, images, texts
    n = len(ds.paths)
    keep = np.ones(n, dtype=bool)
    for i in skipped:
        if i < 0 or i >= n:
            raise InputError("skipped image %d: the loaded dataset has images 0 to %d" % (i, n - 1))
        keep[i] = False
    to = np.cumsum(keep) - 1  # old image row -> new one, where kept
    caps = keep[ds.owner]
    kept_rows = np.nonzero(keep)[0]
    out = Dataset(ds.manifest, [ds.names[i] for i in kept_rows], [ds.paths[i] for i in kept_rows],
                  [c for c, k in zip(ds.captions, caps) if k], to[ds.owner[caps]].astype(np.int64))
    return out, np.asarray(images[keep]), np.asarray(texts[caps])


def _normalised(block):
    """Returns the rows of block L2-normalised, as float32 (zero rows stay zero)."""
    b = np.asarray(block, dtype=np.float32)
    norms = np.linalg.norm(b.astype(np.float64), axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (b / norms).astype(np.float32)


def score(ds, images, texts):
    """Computes the metrics from mapped image and text embeddings; returns a dict of plain values."""
    if images.shape[1] != texts.shape[1]:
        raise InputError("image embeddings have %d columns, text embeddings %d" % (images.shape[1], texts.shape[1]))
    n, m = images.shape[0], texts.shape[0]
    t = _normalised(texts)
    owner = ds.owner
    img_sum = np.zeros(images.shape[1], dtype=np.float64)
    matched = np.zeros(m, dtype=np.float64)
    top = np.zeros(n, dtype=np.int64)
    for start in range(0, n, BLOCK_ROWS):
        end = min(n, start + BLOCK_ROWS)
        ib = _normalised(images[start:end])
        img_sum += ib.astype(np.float64).sum(axis=0)
        sims = ib @ t.T
        top[start:end] = np.argmax(sims, axis=1)
        sel = (owner >= start) & (owner < end)
        idx = np.nonzero(sel)[0]
        matched[idx] = np.einsum("ij,ij->i", ib[owner[idx] - start].astype(np.float64), t[idx].astype(np.float64))
    total = float(img_sum @ t.astype(np.float64).sum(axis=0))
    matched_sum = float(matched.sum())
    matched_mean = matched_sum / m
    others = n * m - m
    mismatched_mean = (total - matched_sum) / others if others > 0 else float("nan")
    hits = (owner[top] == np.arange(n)).astype(np.float64)
    return {
        "matched": matched_mean,
        "mismatched": mismatched_mean,
        "gap": matched_mean - mismatched_mean,
        "top1": float(hits.mean()),
        "hits": hits,
        "top": top,
        "pairs": m,
    }
