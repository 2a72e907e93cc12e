#!/usr/bin/env python3
"""Export an open_clip model (BiomedCLIP, OpenAI CLIP, ...) to the model folder clipeval reads.

Run it where the weights are available (it downloads them through open_clip / the Hugging Face hub):

    pip install open_clip_torch torch onnx onnxruntime
    python export_open_clip.py --model hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224 --out biomedclip
    python export_open_clip.py --model ViT-B-16 --pretrained openai --out clip-vit-b16

The folder gets image.onnx (pixel_values float32 [batch,3,S,S] -> image_embeds [batch,d]), text.onnx (input_ids
int64 [batch,L] -> text_embeds [batch,d]; a Hugging Face text tower builds its attention mask from ids != pad
inside the graph, as open_clip does), open_clip_config.json, the tokenizer files, clipeval.yaml (logit_scale) and,
with --golden, golden.npz: the reference pipeline's own pixels, token ids and ONNX Runtime outputs for a few images
and texts, which `clipeval verify-export --golden` checks the Go pipeline against.
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

    class TextTower(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m.encode_text(input_ids, normalize=False)

    pixels = torch.randn(2, 3, image_size, image_size)
    ids = tokenizer(["a radiograph of the chest", "an axial CT of the abdomen"])
    for tower, example, inp, out, name in [
        (ImageTower(model), pixels, "pixel_values", "image_embeds", "image.onnx"),
        (TextTower(model), ids, "input_ids", "text_embeds", "text.onnx"),
    ]:
        torch.onnx.export(tower, (example,), os.path.join(args.out, name), input_names=[inp], output_names=[out],
                          dynamic_axes={inp: {0: "batch"}, out: {0: "batch"}}, opset_version=args.opset)
        print("wrote", os.path.join(args.out, name))

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
