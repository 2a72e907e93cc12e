#!/usr/bin/env python3
"""The torch twin of clipeval's benchmark model (internal/benchmodel): the same two networks in plain PyTorch.

It reads the weights from a generated folder's image.onnx and text.onnx (their initializers, with
onnx.numpy_helper) and each file's configuration from its metadata (key "clipeval.benchmodel"), builds the towers
with torch.nn.functional ops in float32 (eval mode, no autograd), and either

  check  computes the embeddings of the inputs of a golden .npz (as `clipeval golden` writes: pixels, token_ids;
         attention_mask optional, else token_ids != 0 as the onnx backend feeds it), writes them to --out, and
         compares them with the .npz's image_embeds / text_embeds when present: the largest difference of a row
         over the largest magnitude of that row must be at most --rtol (default 1e-4); exit 1 when not;
  bench  times the towers on seeded random inputs: images/s and texts/s for --batch and --threads.

Both print one JSON line on stdout. Needs python3-torch (1.13 or later), python3-onnx and python3-numpy
(Debian packages); nothing is downloaded.

  torch_twin.py check --model DIR --golden GOLDEN.npz [--out OUT.npz] [--rtol 1e-4] [--threads N]
  torch_twin.py bench --model DIR [--batch 32] [--threads 2] [--seq 256] [--iters 3] [--tower both|image|text]
"""

import argparse
import json
import os
import sys
import time

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.exit(f"torch_twin: {e} in {sys.executable}: install python3-torch, python3-onnx and python3-numpy (Debian) "
             "and run this with /usr/bin/python3")

METADATA_KEY = "clipeval.benchmodel"
IMAGE_FILE, TEXT_FILE = "image.onnx", "text.onnx"


class TwinError(Exception):
    """A problem with the model folder or the inputs, reported without a traceback."""


def load_tower(path, tower):
    """Returns (weights by name as float32 torch tensors, the file's TowerInfo) of one generated ONNX file."""
    if not os.path.isfile(path):
        raise TwinError(f"{path}: no such file (give the folder genbench wrote)")
    try:
        model = onnx.load(path)
    except Exception as e:  # onnx raises DecodeError and others
        raise TwinError(f"{path}: not a readable ONNX file: {e}") from e
    meta = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in meta:
        raise TwinError(f"{path}: no {METADATA_KEY!r} metadata: not made by clipeval's benchmodel generator")
    info = json.loads(meta[METADATA_KEY])
    if info.get("tower") != tower:
        raise TwinError(f"{path}: metadata says tower {info.get('tower')!r}, expected {tower!r}")
    weights = {}
    for init in model.graph.initializer:
        a = numpy_helper.to_array(init)
        if a.dtype == np.float32:
            weights[init.name] = torch.from_numpy(a.copy())
    return weights, info


class Linear:
    """torch.nn.Linear's computation: the ONNX files store weights [in, out]; F.linear takes them [out, in]."""

    def __init__(self, w, prefix, bias=True):
        try:
            self.weight = w[prefix + ".weight"].t().contiguous()
            self.bias = w[prefix + ".bias"] if bias else None
        except KeyError as e:
            raise TwinError(f"initializer {e} is missing") from e

    def __call__(self, x):
        return F.linear(x, self.weight, self.bias)


class LayerNorm:
    def __init__(self, w, prefix, eps):
        self.weight, self.bias, self.eps = w[prefix + ".weight"], w[prefix + ".bias"], eps

    def __call__(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class ImageTower:
    """timm's VisionTransformer (pre-LN, class token, final norm, token pooling) and open_clip's linear head."""

    def __init__(self, path):
        w, info = load_tower(path, "image")
        cfg, eps = info["config"], info["layer_norm_eps"]
        v = cfg["vision"]
        self.size, self.patch, self.width, self.heads = v["image_size"], v["patch"], v["width"], v["heads"]
        self.scale = float(np.float32(1.0 / np.sqrt(self.width // self.heads)))
        self.conv_w, self.conv_b = w["patch_embed.proj.weight"], w["patch_embed.proj.bias"]
        self.cls, self.pos = w["cls_token"], w["pos_embed"]
        self.blocks = []
        for i in range(v["layers"]):
            p = f"blocks.{i}"
            self.blocks.append(dict(
                norm1=LayerNorm(w, p + ".norm1", eps), qkv=Linear(w, p + ".attn.qkv"), proj=Linear(w, p + ".attn.proj"),
                norm2=LayerNorm(w, p + ".norm2", eps), fc1=Linear(w, p + ".mlp.fc1"), fc2=Linear(w, p + ".mlp.fc2")))
        self.norm = LayerNorm(w, "norm", eps)
        self.head = Linear(w, "head.proj", bias=False)

    def __call__(self, x):
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, self.size, self.size):
            raise TwinError(f"pixels have shape {tuple(x.shape)}; the image tower takes [batch, 3, {self.size}, {self.size}]")
        x = F.conv2d(x, self.conv_w, self.conv_b, stride=self.patch)
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        b, t, d = x.shape
        h = self.heads
        for blk in self.blocks:
            qkv = blk["qkv"](blk["norm1"](x)).reshape(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            a = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
            x = x + blk["proj"]((a @ v).transpose(1, 2).reshape(b, t, d))
            x = x + blk["fc2"](F.gelu(blk["fc1"](blk["norm2"](x))))
        return self.head(self.norm(x)[:, 0])


class TextTower:
    """Hugging Face's BertModel (post-LN, additive attention mask, first-token pooling) and open_clip's MLP
    projection (Linear without bias, GELU, Linear without bias)."""

    def __init__(self, path):
        w, info = load_tower(path, "text")
        cfg, eps = info["config"], info["layer_norm_eps"]
        t = cfg["text"]
        self.vocab, self.max_pos, self.width, self.heads = t["vocab"], t["max_positions"], t["width"], t["heads"]
        self.context = t["context_length"]
        self.scale = float(np.float32(1.0 / np.sqrt(self.width // self.heads)))
        self.word = w["embeddings.word_embeddings.weight"]
        self.type0 = w["embeddings.token_type_embeddings.weight"][0]
        self.pos = w["embeddings.position_embeddings.weight"]
        self.emb_norm = LayerNorm(w, "embeddings.LayerNorm", eps)
        self.layers = []
        for i in range(t["layers"]):
            p = f"encoder.layer.{i}"
            self.layers.append(dict(
                q=Linear(w, p + ".attention.self.query"), k=Linear(w, p + ".attention.self.key"),
                v=Linear(w, p + ".attention.self.value"), out=Linear(w, p + ".attention.output.dense"),
                norm1=LayerNorm(w, p + ".attention.output.LayerNorm", eps), inter=Linear(w, p + ".intermediate.dense"),
                ffn_out=Linear(w, p + ".output.dense"), norm2=LayerNorm(w, p + ".output.LayerNorm", eps)))
        self.proj0 = Linear(w, "proj.0", bias=False)
        self.proj2 = Linear(w, "proj.2", bias=False)

    def __call__(self, ids, mask):
        if ids.dim() != 2 or ids.shape != mask.shape:
            raise TwinError(f"token ids {tuple(ids.shape)} and mask {tuple(mask.shape)}: want both [batch, sequence]")
        b, n = ids.shape
        if n > self.max_pos:
            raise TwinError(f"{n} tokens; the text tower takes at most {self.max_pos}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab):
            raise TwinError(f"token ids range {int(ids.min())}..{int(ids.max())}; the vocabulary has {self.vocab}")
        x = self.emb_norm(F.embedding(ids, self.word) + self.type0 + self.pos[:n])
        ext = (1.0 - mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        h, dh = self.heads, self.width // self.heads

        def split(y):
            return y.reshape(b, n, h, dh).transpose(1, 2)

        for lyr in self.layers:
            q, k, v = split(lyr["q"](x)), split(lyr["k"](x)), split(lyr["v"](x))
            a = ((q @ k.transpose(-1, -2)) * self.scale + ext).softmax(dim=-1)
            o = lyr["out"]((a @ v).transpose(1, 2).reshape(b, n, self.width))
            x = lyr["norm1"](o + x)
            x = lyr["norm2"](lyr["ffn_out"](F.gelu(lyr["inter"](x))) + x)
        return self.proj2(F.gelu(self.proj0(x[:, 0])))


def max_rel(got, want):
    """The largest |got - want| of a row over the largest |want| of that row, over all rows."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise TwinError(f"embeddings have shape {got.shape}, expected {want.shape}")
    scale = np.maximum(np.abs(want).max(axis=1, keepdims=True), np.finfo(np.float64).tiny)
    return float((np.abs(got - want) / scale).max()) if got.size else 0.0


def cmd_check(args):
    try:
        golden = np.load(args.golden)
    except OSError as e:
        raise TwinError(f"{args.golden}: {e}") from e
    if "pixels" not in golden and "token_ids" not in golden:
        raise TwinError(f"{args.golden} has neither pixels nor token_ids")
    out, report, ok = {}, {"torch": torch.__version__, "threads": torch.get_num_threads()}, True
    with torch.no_grad():
        if "pixels" in golden:
            tower = ImageTower(os.path.join(args.model, IMAGE_FILE))
            out["image_embeds"] = tower(torch.from_numpy(np.ascontiguousarray(golden["pixels"], np.float32))).numpy()
        if "token_ids" in golden:
            tower = TextTower(os.path.join(args.model, TEXT_FILE))
            ids = np.ascontiguousarray(golden["token_ids"], np.int64)
            mask = golden["attention_mask"] if "attention_mask" in golden else (ids != 0)
            out["text_embeds"] = tower(torch.from_numpy(ids), torch.from_numpy(np.ascontiguousarray(mask, np.int64))).numpy()
    for name, emb in out.items():
        report[name + "_shape"] = list(emb.shape)
        if not np.isfinite(emb).all():
            ok = False
            report[name + "_finite"] = False
        if name in golden:
            d = max_rel(emb, golden[name])
            report[name + "_max_rel"] = d
            ok = ok and d <= args.rtol
    if args.out:
        np.savez(args.out, **out)
    report["rtol"], report["ok"] = args.rtol, ok
    print(json.dumps(report))
    return 0 if ok else 1


def cmd_bench(args):
    if args.batch < 1 or args.iters < 1:
        raise TwinError("--batch and --iters must be at least 1")
    gen = torch.Generator().manual_seed(0)
    report = {"runtime": "torch " + torch.__version__, "threads": torch.get_num_threads(), "batch": args.batch,
              "iters": args.iters}

    def timed(fn):
        fn()  # warm-up: first-call allocations and kernel selection
        start = time.perf_counter()
        for _ in range(args.iters):
            fn()
        return args.batch * args.iters / (time.perf_counter() - start)

    with torch.no_grad():
        if args.tower in ("both", "image"):
            t0 = time.perf_counter()
            img = ImageTower(os.path.join(args.model, IMAGE_FILE))
            report["image_load_s"] = round(time.perf_counter() - t0, 2)
            pixels = torch.randn(args.batch, 3, img.size, img.size, generator=gen)
            report["images_per_s"] = round(timed(lambda: img(pixels)), 2)
        if args.tower in ("both", "text"):
            t0 = time.perf_counter()
            txt = TextTower(os.path.join(args.model, TEXT_FILE))
            report["text_load_s"] = round(time.perf_counter() - t0, 2)
            seq = args.seq or txt.context
            ids = torch.randint(5, min(txt.vocab, 30000), (args.batch, seq), generator=gen)
            ids[:, 0] = 2
            mask = torch.ones_like(ids)
            report["seq"] = seq
            report["texts_per_s"] = round(timed(lambda: txt(ids, mask)), 2)
    print(json.dumps(report))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="torch_twin.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="embed a golden .npz's inputs and compare with its outputs")
    c.add_argument("--model", required=True, help="the model folder genbench wrote")
    c.add_argument("--golden", required=True, help=".npz with pixels and/or token_ids (+ image_embeds, text_embeds)")
    c.add_argument("--out", help="write the torch embeddings to this .npz")
    c.add_argument("--rtol", type=float, default=1e-4, help="largest accepted difference relative to a row's largest magnitude")
    c.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    b = sub.add_parser("bench", help="time images/s and texts/s")
    b.add_argument("--model", required=True, help="the model folder genbench wrote")
    b.add_argument("--batch", type=int, default=32)
    b.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    b.add_argument("--seq", type=int, default=0, help="tokens per text (0: the config's context_length)")
    b.add_argument("--iters", type=int, default=3, help="timed batches per tower, after one warm-up batch")
    b.add_argument("--tower", choices=("both", "image", "text"), default="both")
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        return cmd_check(args) if args.cmd == "check" else cmd_bench(args)
    except TwinError as e:
        print(f"torch_twin: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
