#!/usr/bin/env python3
"""Export an open_clip model (BiomedCLIP, OpenAI CLIP, ...) to the model folder clipeval reads.

Run it where the weights are available (it downloads them through open_clip / the Hugging Face hub):

    pip install open_clip_torch torch onnx onnxruntime
    python export_open_clip.py --model hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224 --out biomedclip
    python export_open_clip.py --model ViT-B-16 --pretrained openai --out clip-vit-b16

The folder gets image.onnx (pixel_values float32 [batch,3,S,S] -> image_embeds [batch,d]), text.onnx (input_ids
int64 [batch,sequence] -> text_embeds [batch,d]; the sequence axis is dynamic, up to the context length, so that
clipeval can cut each batch to its longest text, when onnxruntime confirms that this gives open_clip's embeddings,
else fixed; a Hugging Face text tower builds its attention mask from ids != pad inside the graph, as open_clip
does), open_clip_config.json, the tokenizer files, clipeval.yaml (logit_scale) and, with --golden, golden.npz: the
reference pipeline's own pixels, token ids and ONNX Runtime outputs for a few images and texts, which
`clipeval verify-export --golden` checks the Go pipeline against.
"""
import argparse
import json
import os
import shutil
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="open_clip model name or hf-hub:ORG/NAME")
    p.add_argument("--pretrained", default=None, help="open_clip pretrained tag (e.g. openai) for non-hub models")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--golden", nargs="*", default=None, metavar="IMAGE",
                   help="also write golden.npz from these images (and --golden-texts)")
    p.add_argument("--golden-texts", default=None, help="JSON array of strings for golden.npz")
    return p.parse_args()


def main():
    args = parse_args()
    import numpy as np
    import open_clip
    import torch

    if args.model.startswith("hf-hub:"):
        model, preprocess = open_clip.create_model_from_pretrained(args.model)
    else:
        model, _, preprocess = open_clip.create_model_and_transforms(args.model, pretrained=args.pretrained)
    tokenizer = open_clip.get_tokenizer(args.model)
    model.eval()
    os.makedirs(args.out, exist_ok=True)

    cfg = model_config(args.model)
    image_size = cfg["model_cfg"]["vision_cfg"].get("image_size", 224)
    context = cfg["model_cfg"]["text_cfg"].get("context_length", 77)

    class ImageTower(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            return self.m.encode_image(pixel_values, normalize=False)

    pixels = torch.randn(2, 3, image_size, image_size)
    path = os.path.join(args.out, "image.onnx")
    torch.onnx.export(ImageTower(model), (pixels,), path, input_names=["pixel_values"], output_names=["image_embeds"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                      opset_version=args.opset)
    print("wrote", path)
    export_text(args, model, tokenizer, torch, np)

    with open(os.path.join(args.out, "open_clip_config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    copy_tokenizer_files(args.model, args.out)
    with open(os.path.join(args.out, "clipeval.yaml"), "w") as f:
        f.write("# written by export_open_clip.py\n")
        f.write("logit_scale: %r\n" % float(model.logit_scale.exp().item()))
        if not cfg["model_cfg"]["text_cfg"].get("hf_tokenizer_name"):
            f.write("tokenizer: clip\nbpe: bpe_simple_vocab_16e6.txt.gz\n")

    if args.golden is not None:
        write_golden(args, model, preprocess, tokenizer, np, torch)


def text_tower(model, torch, sliced):
    """The text tower as a module; sliced, one that takes input_ids of any length up to the context.

    open_clip's own OpenAI-CLIP text tower (CLIP.encode_text) adds its whole positional_embedding and attn_mask,
    which fit only ids of exactly context_length; the sliced forward cuts both to the ids' length, which gives the
    same embeddings: the causal mask means no token sees the padding after it, and the tower pools at the
    end-of-text token (argmax or eos pooling) or the first token. A Hugging Face text tower (BiomedCLIP) takes any
    length through encode_text as it is: its position ids are sliced to the input and the padding is masked out
    (ids != pad)."""

    class Tower(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            m = self.m
            if not (sliced and sliceable_clip_text(m)):
                return m.encode_text(input_ids, normalize=False)
            from open_clip.transformer import text_global_pool
            seq = input_ids.shape[1]
            cast = m.transformer.get_cast_dtype()
            x = m.token_embedding(input_ids).to(cast)
            x = x + m.positional_embedding[:seq].to(cast)
            mask = m.attn_mask[:seq, :seq] if m.attn_mask is not None else None
            x = m.transformer(x, attn_mask=mask)
            x = m.ln_final(x)
            kw = {}
            if getattr(m, "text_eos_id", None) is not None:
                kw["eos_token_id"] = m.text_eos_id
            x = text_global_pool(x, input_ids, m.text_pool_type, **kw)
            if isinstance(x, tuple):  # newer open_clip returns (pooled, tokens)
                x = x[0]
            if m.text_projection is not None:
                x = m.text_projection(x) if isinstance(m.text_projection, torch.nn.Linear) else x @ m.text_projection
            return x

    tower = Tower(model)
    tower.eval()
    return tower


def sliceable_clip_text(m):
    """Whether m is open_clip's CLIP with its own text transformer, pooled where slicing changes nothing."""
    return (hasattr(m, "token_embedding") and hasattr(m, "positional_embedding") and hasattr(m, "attn_mask")
            and getattr(m, "text_pool_type", "argmax") in ("argmax", "eos", "first"))


def pad_id(tokenizer):
    """The id the tokenizer pads with: the Hugging Face tokenizer's, else 0 (open_clip's CLIP tokenizer)."""
    pid = getattr(getattr(tokenizer, "tokenizer", None), "pad_token_id", None)
    return 0 if pid is None else int(pid)


def cut_to_longest(ids, pad):
    """ids [n, context] cut after the last column holding a token that is not padding (keeping at least one), as
    clipeval feeds a text graph whose sequence axis is dynamic."""
    used = (ids != pad).any(dim=0).nonzero()
    return ids[:, : int(used.max()) + 1 if len(used) else 1]


def export_text(args, model, tokenizer, torch, np):
    """Writes text.onnx with dynamic batch and sequence axes, so that clipeval can cut each batch to its longest
    text. onnxruntime checks the export: on padded ids and on the same ids cut to their longest text it must give
    open_clip's embeddings of the padded ids. When it does not (an exporter that bakes the length into the graph, a
    tower that pools at the last position, an open_clip whose internals the sliced forward does not match), text.onnx
    is exported again from encode_text with a fixed sequence axis, and clipeval feeds it padded ids as before."""
    import onnxruntime as ort
    path = os.path.join(args.out, "text.onnx")
    full = tokenizer(["a radiograph of the chest", "an axial CT of the abdomen showing a large mass in the liver"])
    example = cut_to_longest(full, pad_id(tokenizer))
    with torch.no_grad():
        want = model.encode_text(full, normalize=False).numpy()

    def check(inputs):
        """None when the exported graph gives open_clip's embeddings on every ids in inputs, else what differs."""
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        for ids in inputs:
            got = sess.run(None, {"input_ids": ids.numpy().astype(np.int64)})[0]
            if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
                worst = float(np.abs(got - want).max())
                return "on %d tokens it differs from open_clip by up to %.3g" % (ids.shape[1], worst)
        return None

    try:
        # The example is shorter than the context, so that no exporter takes the context length for a constant.
        torch.onnx.export(text_tower(model, torch, True), (example,), path, input_names=["input_ids"],
                          output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "text_embeds": {0: "batch"}},
                          opset_version=args.opset)
        problem = check([full, example])
    except Exception as e:  # the exporter refused the dynamic axis, or the graph failed on a length
        problem = repr(e)[:300]
    if problem is not None:
        print("note: text.onnx keeps a fixed sequence axis (%s)" % problem, file=sys.stderr)
        torch.onnx.export(text_tower(model, torch, False), (full,), path, input_names=["input_ids"],
                          output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch"}, "text_embeds": {0: "batch"}},
                          opset_version=args.opset)
        problem = check([full])
        if problem is not None:
            print("warning: text.onnx %s; check it with clipeval verify-export" % problem, file=sys.stderr)
    print("wrote", path)


def model_config(name):
    """The open_clip config of a model, as open_clip_config.json holds it."""
    import open_clip
    if name.startswith("hf-hub:"):
        from huggingface_hub import hf_hub_download
        with open(hf_hub_download(name[len("hf-hub:"):], "open_clip_config.json")) as f:
            return json.load(f)
    from open_clip.factory import get_model_config
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    return {"model_cfg": get_model_config(name),
            "preprocess_cfg": {"mean": list(OPENAI_DATASET_MEAN), "std": list(OPENAI_DATASET_STD)}}


def copy_tokenizer_files(name, out):
    """Copies the tokenizer files clipeval reads: WordPiece vocab for HF towers, the CLIP BPE otherwise."""
    if name.startswith("hf-hub:"):
        from huggingface_hub import hf_hub_download
        for fname in ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
            try:
                shutil.copy(hf_hub_download(name[len("hf-hub:"):], fname), os.path.join(out, fname))
            except Exception as e:  # not every repo has every file
                print("note: %s not copied (%s)" % (fname, e), file=sys.stderr)
        return
    import open_clip.tokenizer as tk
    bpe = os.path.join(os.path.dirname(tk.__file__), "bpe_simple_vocab_16e6.txt.gz")
    shutil.copy(bpe, os.path.join(out, "bpe_simple_vocab_16e6.txt.gz"))


def write_golden(args, model, preprocess, tokenizer, np, torch):
    """golden.npz: the reference pipeline's inputs and the exported graphs' outputs on them."""
    import onnxruntime as ort
    from PIL import Image
    golden = {}
    if args.golden:
        golden["pixels"] = torch.stack([preprocess(Image.open(p)) for p in args.golden]).numpy().astype(np.float32)
        sess = ort.InferenceSession(os.path.join(args.out, "image.onnx"), providers=["CPUExecutionProvider"])
        golden["image_embeds"] = sess.run(None, {"pixel_values": golden["pixels"]})[0]
    if args.golden_texts:
        with open(args.golden_texts) as f:
            texts = json.load(f)
        golden["token_ids"] = tokenizer(texts).numpy().astype(np.int64)
        sess = ort.InferenceSession(os.path.join(args.out, "text.onnx"), providers=["CPUExecutionProvider"])
        golden["text_embeds"] = sess.run(None, {"input_ids": golden["token_ids"]})[0]
    np.savez(os.path.join(args.out, "golden.npz"), **golden)
    print("wrote", os.path.join(args.out, "golden.npz"), {k: v.shape for k, v in golden.items()})


if __name__ == "__main__":
    main()
