"""HyperVLA reference: the hypervla-tiny demo model (both use_initial_image settings) and its golden outputs.

    .venv/bin/python Tests/Reference/gen_hypervla_reference.py          # Examples/hypervla-tiny + Tests/Fixtures/HyperVLA
    .venv/bin/python Tests/Reference/gen_hypervla_reference.py --full   # released shapes into .reference/hypervla-full

Weights are random (seeded), with non-zero HN head kernels so that the generated policy depends on the instruction
(the released initialization zeros them). The HN and the base network run as the Flax linen modules of
hypervla_flax.py; the T5 last hidden state comes from transformers' torch T5EncoderModel; DINOv2 runs as the Flax
module of hypervla_flax.py and is checked here against transformers' torch Dinov2Model.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hypervla_flax as hv  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENIZER_FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "VLATokenizer")

TINY = dict(
    t5=dict(d_model=32, d_kv=8, num_heads=4, d_ff=64, num_layers=2),
    dino=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=4, patch_size=14,
              image_size=518),
    hn=dict(context_embedding_dim=32, num_layers=2, mlp_dim=64, num_attention_heads=4),
    vit=dict(hidden_dim=16, num_layers=2, num_heads=4, mlp_dim=32),
)
FULL = dict(
    t5=dict(d_model=768, d_kv=64, num_heads=12, d_ff=3072, num_layers=12, vocab_size=32128),
    dino=dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, mlp_ratio=4, patch_size=14,
              image_size=518),
    hn=dict(context_embedding_dim=128, num_layers=6, mlp_dim=512, num_attention_heads=4),
    vit=dict(hidden_dim=64, num_layers=4, num_heads=4, mlp_dim=128),
)
ACTION_DIM, HORIZON, MAX_LEN, ENSEMBLE = 7, 4, 32, 4
FULL_GENERATED, FULL_HN_PARAMS = 201_500, 27_384_604
CROP_SCALE = math.sqrt(0.9)


# ---------------------------------------------------------------------------------------------------------------
# Small helpers

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")


def f32(x):
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))


def randomize_torch(model, seed):
    """Seeded values large enough that every op matters (norm scales near 1, layer scales in [0.5, 1])."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if ("norm" in name.lower() or "layer_norm" in name) and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif "lambda1" in name:
                p.copy_(0.5 + 0.5 * torch.rand(p.shape, generator=g))
            elif "position_embeddings" in name or "cls_token" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                fan = p.shape[-1] if p.dim() >= 2 else 16
                if p.dim() == 4:
                    fan = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=g) * (0.8 / fan ** 0.5 if p.dim() >= 2 else 0.2))


# transformers 5 names DINOv2's attention q_proj ... o_proj; the Hub's facebook/dinov2-* files (and Flax) use these.
HUB_DINOV2_NAMES = {"attention.q_proj": "attention.attention.query", "attention.k_proj": "attention.attention.key",
                    "attention.v_proj": "attention.attention.value", "attention.o_proj": "attention.output.dense"}


def hub_name(name):
    for new, old in HUB_DINOV2_NAMES.items():
        name = name.replace(new, old)
    return name


def save_hf(model, directory):
    os.makedirs(directory, exist_ok=True)
    model.config.to_json_file(os.path.join(directory, "config.json"))
    tensors = {hub_name(k): v.detach().contiguous().numpy().astype(np.float32)
               for k, v in model.state_dict().items()}
    if "shared.weight" in tensors:      # T5: the Hub's files keep only the shared (tied) embedding table
        tensors.pop("encoder.embed_tokens.weight", None)
    save_file(tensors, os.path.join(directory, "model.safetensors"))


# ---------------------------------------------------------------------------------------------------------------
# Text encoder (T5) and tokenizer

def make_text_encoder(directory, sizes, seed):
    from transformers import AutoTokenizer, T5Config, T5EncoderModel

    os.makedirs(directory, exist_ok=True)
    shutil.copyfile(os.path.join(TOKENIZER_FIXTURES, "t5-bf.model"), os.path.join(directory, "spiece.model"))
    shutil.copyfile(os.path.join(TOKENIZER_FIXTURES, "t5-bf.tokenizer.json"),
                    os.path.join(directory, "tokenizer.json"))
    write_json(os.path.join(directory, "tokenizer_config.json"), {
        "tokenizer_class": "T5Tokenizer", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
        "extra_ids": 4, "model_max_length": 512})
    tok = AutoTokenizer.from_pretrained(directory)
    sizes = dict(sizes)
    vocab = sizes.pop("vocab_size", len(tok))
    cfg = T5Config(vocab_size=vocab, feed_forward_proj="relu", dropout_rate=0.0, **sizes)
    torch.manual_seed(seed)
    model = T5EncoderModel(cfg).eval()
    randomize_torch(model, seed)
    save_hf(model, directory)
    return tok, model


def tokenize(tok, text):
    enc = tok(text, max_length=MAX_LEN, padding="max_length", truncation=True, return_tensors="np")
    return enc["input_ids"][0].astype(np.int64), enc["attention_mask"][0].astype(np.int64)


def t5_hidden(model, ids, mask):
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids[None]), attention_mask=torch.tensor(mask[None]))
    return out.last_hidden_state[0].numpy().astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# DINOv2: torch (Hugging Face layout) <-> Flax params

def make_dinov2_torch(sizes, seed):
    from transformers import Dinov2Config, Dinov2Model

    cfg = Dinov2Config(layerscale_value=1.0, hidden_act="gelu", layer_norm_eps=1e-6, qkv_bias=True, **sizes)
    torch.manual_seed(seed)
    model = Dinov2Model(cfg).eval()
    randomize_torch(model, seed)
    return model


def dinov2_torch_to_flax(model) -> dict:
    """Hugging Face torch state dict -> the FlaxDinov2Model parameter tree (names as Flax writes them)."""
    flat = {}
    for name, t in model.state_dict().items():
        a = t.detach().numpy().astype(np.float32)
        parts = hub_name(name).split(".")
        if parts[-1] == "weight":
            if a.ndim == 4:                       # conv (out, in, kh, kw) -> (kh, kw, in, out)
                a, parts[-1] = a.transpose(2, 3, 1, 0), "kernel"
            elif a.ndim == 2:                     # linear (out, in) -> (in, out)
                a, parts[-1] = a.T, "kernel"
            else:                                 # LayerNorm
                parts[-1] = "scale"
        flat[tuple(parts)] = np.ascontiguousarray(a)
    return hv.unflatten_names(flat)


def dinov2_fields(cfg: dict) -> tuple:
    return hv.Dinov2.fields_from_hf_config(cfg)


# ---------------------------------------------------------------------------------------------------------------
# Image preprocessing reference (the released InferenceWrapper._resize_image, without TensorFlow)

def resize_lanczos3(image_u8: np.ndarray, size=224) -> np.ndarray:
    """tf.image.resize(method='lanczos3', antialias=True) == jax.image.scale_and_translate with scale out/in."""
    h, w, _ = image_u8.shape
    x = jnp.asarray(image_u8, jnp.float32)
    scale = jnp.array([size / h, size / w], jnp.float32)
    y = jax.image.scale_and_translate(x, (size, size, 3), (0, 1), scale, jnp.zeros(2, jnp.float32),
                                      method="lanczos3", antialias=True)
    return np.asarray(y, np.float32)


def crop_and_resize(image: np.ndarray, box, size=224) -> np.ndarray:
    """tf.image.crop_and_resize, bilinear, one box [y1, x1, y2, x2] in normalized coordinates, float32."""
    h, w, _ = image.shape
    y1, x1, y2, x2 = (np.float32(v) for v in box)
    hs = np.float32((y2 - y1) * np.float32(h - 1) / np.float32(size - 1))
    ws = np.float32((x2 - x1) * np.float32(w - 1) / np.float32(size - 1))
    out = np.zeros((size, size, 3), np.float32)
    for i in range(size):
        in_y = np.float32(y1 * np.float32(h - 1) + np.float32(i) * hs)
        if in_y < 0 or in_y > h - 1:
            continue
        top, bottom = int(math.floor(in_y)), int(math.ceil(in_y))
        yl = np.float32(in_y - np.float32(top))
        in_x = (x1 * np.float32(w - 1) + np.arange(size, dtype=np.float32) * ws).astype(np.float32)
        valid = (in_x >= 0) & (in_x <= w - 1)
        left = np.floor(in_x).astype(np.int64).clip(0, w - 1)
        right = np.ceil(in_x).astype(np.int64).clip(0, w - 1)
        xl = (in_x - left.astype(np.float32)).astype(np.float32)[:, None]
        tl, tr = image[top, left], image[top, right]
        bl, br = image[bottom, left], image[bottom, right]
        t = tl + (tr - tl) * xl
        b = bl + (br - bl) * xl
        out[i] = np.where(valid[:, None], t + (b - t) * yl, 0)
    return out


def preprocess(image_u8: np.ndarray, crop: bool) -> np.ndarray:
    x = resize_lanczos3(image_u8)
    if crop:
        off = (1 - CROP_SCALE) / 2
        x = crop_and_resize(x, [off, off, off + CROP_SCALE, off + CROP_SCALE])
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def synthetic_frame(h, w, t, seed):
    """A smooth seeded scene (gradient, sinusoid texture, moving blobs) at time step t: compresses well."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, h, dtype=np.float64), np.linspace(0, 1, w, dtype=np.float64),
                         indexing="ij")
    base = rng.uniform(40, 200, 3)
    img = np.empty((h, w, 3))
    for ch in range(3):
        fx, fy, ph = rng.uniform(2, 9), rng.uniform(2, 9), rng.uniform(0, 6.3)
        img[..., ch] = base[ch] + 40 * (xx - 0.5) * (ch - 1) + 25 * np.sin(fx * xx * 6.28 + fy * yy * 3.1 + ph + 0.3 * t)
    for _ in range(4):
        cy, cx = rng.uniform(0.2, 0.8, 2)
        vy, vx = rng.uniform(-0.03, 0.03, 2)
        r = rng.uniform(0.06, 0.18)
        color = rng.uniform(0, 255, 3)
        d = ((yy - (cy + vy * t)) ** 2 + (xx - (cx + vx * t)) ** 2) / (r * r)
        a = np.exp(-d * d)[..., None]
        img = img * (1 - a) + color * a
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------------
# Action post-processing (InferenceWrapper.step + simpler_env ActionEnsembler(4, temp 0))

def euler2axangle(roll, pitch, yaw):
    from transforms3d.euler import euler2axangle as e2a

    axis, angle = e2a(roll, pitch, yaw)
    return np.asarray(axis, np.float64) * angle


class Ensembler:
    def __init__(self, horizon):
        self.horizon, self.history = horizon, []

    def push(self, chunk):
        self.history = (self.history + [np.asarray(chunk)])[-self.horizon:]
        n = len(self.history)
        preds = np.stack([c[i] for i, c in zip(range(n - 1, -1, -1), self.history)])
        weights = np.exp(-0.0 * np.arange(n))
        weights = weights / weights.sum()
        return np.sum(weights[:, None] * preds, axis=0)


class EnvMapper:
    """The three gripper conventions of the released InferenceWrapper; rotation Euler -> axis-angle for all."""

    def __init__(self, setup):
        self.setup = setup
        self.sticky_on, self.repeat, self.sticky_action, self.previous = False, 0, 0.0, None
        self.num_repeat = 15 if setup == "google_robot" else 1

    def __call__(self, a):
        a = np.asarray(a, np.float64)
        rot = euler2axangle(*a[3:6]).astype(np.float32)
        g = float(a[-1])
        if self.setup == "google_robot":
            rel = 0.0 if self.previous is None else self.previous - g
            self.previous = g
            if abs(rel) > 0.5 and not self.sticky_on:
                self.sticky_on, self.sticky_action = True, rel
            if self.sticky_on:
                self.repeat += 1
                rel = self.sticky_action
            if self.repeat == self.num_repeat:
                self.sticky_on, self.repeat, self.sticky_action = False, 0, 0.0
            grip = rel
        elif self.setup == "widowx_bridge":
            grip = 2.0 * (g > 0.5) - 1.0
        else:
            grip = 2 * g - 1
        return np.concatenate([a[:3], rot.astype(np.float64), np.array([grip], np.float32).astype(np.float64)])


# ---------------------------------------------------------------------------------------------------------------
# Model construction

def base_template(dino_cfg, vit):
    """BaseNetwork module and its parameter shapes (flax init, shapes only)."""
    net = hv.BaseNetwork(dinov2_fields(dino_cfg), vit["hidden_dim"], vit["num_layers"], vit["num_heads"],
                         vit["mlp_dim"], HORIZON, ACTION_DIM)
    shapes = jax.eval_shape(net.init, jax.random.PRNGKey(0), jnp.zeros((1, 224, 224, 3), jnp.float32))["params"]
    return net, hv.flatten_names(jax.tree_util.tree_map(lambda s: tuple(s.shape), shapes,
                                                         is_leaf=lambda s: hasattr(s, "shape")))


def split_leaves(flat_shapes):
    generated, shared = [], []
    for path, shape in flat_shapes.items():
        name = "_".join(path)
        numel = int(np.prod(shape))
        (shared if "image_encoder" in path else generated).append((name, numel, path, shape))
    return generated, shared


def base_init_values(generated, rng):
    """A random 'bias init' value per generated leaf (what the released code puts in the head biases)."""
    out = {}
    for name, numel, path, shape in generated:
        leaf = path[-1]
        if leaf == "scale":
            v = 1 + 0.1 * rng.standard_normal(shape)
        elif leaf == "bias":
            v = 0.1 * rng.standard_normal(shape)
        elif leaf == "pos_embedding":
            v = 0.5 * rng.standard_normal(shape)
        else:
            fan_in = shape[0]
            v = rng.standard_normal(shape) / math.sqrt(fan_in)
        out[name] = v.astype(np.float32)
    return out


def make_hn(cfg, generated, shared, use_initial_image, t5_dim, dino_dim, backbone_flat, seed):
    hn = cfg["hn"]
    net = hv.HyperNetwork(hn["context_embedding_dim"], hn["num_layers"], hn["mlp_dim"],
                          hn["num_attention_heads"], MAX_LEN, use_initial_image, True,
                          tuple((n, k) for n, k, _, _ in generated), tuple((n, k) for n, k, _, _ in shared))
    args = (jnp.zeros((1, MAX_LEN, t5_dim)), jnp.ones((1, MAX_LEN), jnp.int32),
            jnp.zeros((1, dino_dim)) if use_initial_image else None)
    params = jax.tree_util.tree_map(np.asarray, net.init(jax.random.PRNGKey(seed), *args)["params"])
    params = jax.tree_util.tree_map(lambda a: np.array(a, np.float32), params)
    rng = np.random.default_rng(seed)
    init = base_init_values(generated, rng)
    flat = hv.flatten_names(params)
    out = {}
    for path, v in flat.items():
        top = path[0]
        if top.startswith("output_head_"):
            leaf = top[len("output_head_"):]
            if path[-1] == "bias":
                v = init[leaf].ravel()
            else:   # non-zero head kernels: the policy depends on the instruction (and the first frame)
                sigma = 0.5 * float(np.std(init[leaf])) + 0.05
                v = sigma * rng.standard_normal(v.shape)
        elif top in backbone_flat:
            v = backbone_flat[top]
        elif path[-1] == "bias":
            v = 0.1 * rng.standard_normal(v.shape)
        elif path[-1] == "scale":
            v = 1 + 0.1 * rng.standard_normal(v.shape)
        elif top.endswith("pos_embedding"):
            v = 0.5 * rng.standard_normal(v.shape)
        out[path] = f32(v)
    return net, hv.unflatten_names(out)


def hn_param_count(params, include_shared):
    total = 0
    for path, v in hv.flatten_names(params).items():
        if not include_shared and "image_encoder" in path[0]:
            continue
        total += int(np.prod(np.shape(v)))
    return total


def base_params_from(generated_vals, shared_vals, generated, shared):
    flat = {}
    for name, numel, path, shape in generated:
        flat[path] = jnp.reshape(generated_vals[name][0], shape)      # row-major, as the released code
    for name, numel, path, shape in shared:
        flat[path] = jnp.reshape(shared_vals[name], shape)
    return hv.unflatten_names(flat)


# ---------------------------------------------------------------------------------------------------------------
# Model directory writers

def released_config(cfg, use_initial_image, dino_cfg, dataset_name):
    hn, vit = cfg["hn"], cfg["vit"]
    return {
        "model": {},
        "hypernet_kwargs": {
            "encoder_type": "transformer",
            "context_embedding_dim": hn["context_embedding_dim"],
            "context_encoder_kwargs": {
                "num_layers": hn["num_layers"], "mlp_dim": hn["mlp_dim"],
                "num_attention_heads": hn["num_attention_heads"], "dropout_rate": 0.0,
                "attention_dropout_rate": 0.0, "add_position_embedding": False},
            "attend_to_padding": False, "task_attend_to_layer": False, "embedding_dropout_rate": 0.0,
            "scale_context_embedding": True, "one_hot_context": False, "output_head_bias": True,
            "generation_strategy": "block", "shared_modules": ["image_encoder"],
            "bias_init_with_pretrained_image_tokenizer": False, "include_goal_image": False,
            "use_initial_image": use_initial_image, "use_all_image_tokens": False, "share_TF_output_head": False,
            "share_CNN": False, "init_strategy": 0, "share_all_params": False, "share_layer_index": True,
            "image_dropout": 0.0},
        "base_net_kwargs": {
            "model_type": "vit", "action_head_type": "mix", "action_horizon": HORIZON, "action_dim": ACTION_DIM,
            "cnn_kwargs": {"kernel_sizes": [3, 3, 3, 3], "strides": [2, 2, 2, 2], "features": [32, 64, 128, 256],
                           "padding": [1, 1, 1, 1], "mlp_hidden_sizes": [32, 32]},
            "vit_kwargs": {
                "encoder_type": "DINOv2", "patch_size": 16, "hidden_dim": vit["hidden_dim"],
                "num_layers": vit["num_layers"], "num_heads": vit["num_heads"], "mlp_dim": vit["mlp_dim"],
                "dropout_rate": 0.0, "cnn_channels": [32, 96, 192, 384], "use_language_token": False,
                "fine_tune_pretrained_image_encoder": True, "image_embedding_noise": 0.0,
                "use_differential_transformer": False, "return_attention_map": False,
                "add_positional_embedding": True, "include_class_token": False},
            "action_head_kwargs": {
                "token_per_horizon": False, "squash_continuous_action": True, "tanh_scaling_factor": 5.0,
                "clip_target": True, "max_action": 5.0, "hidden_dims": [],
                "discrete_token_type": "action_dim_and_action_horizon", "num_blocks": 3, "hidden_dim": 256,
                "diffusion_dropout_rate": 0.0, "loss_type": "mse"}},
        "text_processor": {
            "module": "octo.data.utils.text_processing", "name": "HFTokenizer", "args": [],
            "kwargs": {"tokenizer_name": "t5-base", "encode_with_model": False,
                       "tokenizer_kwargs": {"max_length": MAX_LEN, "padding": "max_length", "truncation": True,
                                            "return_tensors": "np"}}},
        "pretrained_loaders": [{"module": "octo.utils.train_utils", "name": "hf_weights_loader", "args": [],
                                "kwargs": {"hf_model": "t5-base"}}],
        "dataset_kwargs": {
            "dataset_kwargs": {"name": dataset_name, "image_obs_keys": {"primary": "image"},
                               "language_key": "language_instruction",
                               "action_proprio_normalization_type": "normal",
                               "action_normalization_mask": [True] * 6 + [False]},
            "frame_transform_kwargs": {"resize_size": {"primary": [224, 224]}, "image_aug_style": "octo"}},
        "window_size": 1,
        "seed": 2025,
        # vlac extension (not in released configs): where the encoders of this demo model are, relative to
        # this directory, and the fine-tuned DINOv2's architecture (the released code uses dinov2-base's).
        "vlac": {"text_encoder": "../text-encoder", "vision_encoder": "../vision-encoder",
                 "image_encoder_config": dino_cfg},
    }


def dataset_statistics(rng, per_dataset_name=None):
    mean = rng.uniform(-0.02, 0.02, ACTION_DIM)
    std = rng.uniform(0.01, 0.1, ACTION_DIM)
    mean[-1], std[-1] = 0.5, 0.5
    mean, std = mean.astype(np.float32), std.astype(np.float32)
    action = {
        "mean": [float(v) for v in mean], "std": [float(v) for v in std],
        "max": [float(v) for v in mean + 4 * std], "min": [float(v) for v in mean - 4 * std],
        "p99": [float(v) for v in mean + 2.5 * std], "p01": [float(v) for v in mean - 2.5 * std],
        "mask": [True] * 6 + [False]}
    stats = {"action": action, "num_transitions": 1000, "num_trajectories": 20}
    return {per_dataset_name: stats} if per_dataset_name else stats


def write_params(directory, params, formats):
    flat = {"/".join(p): f32(v) for p, v in hv.flatten_names(params).items()}
    written = []
    if "safetensors" in formats:
        save_file(flat, os.path.join(directory, "params.safetensors"))
        written.append("params.safetensors")
    if "npz" in formats:
        np.savez(os.path.join(directory, "params.npz"), **flat)
        written.append("params.npz")
    if "msgpack" in formats:
        with open(os.path.join(directory, "params.msgpack"), "wb") as f:
            f.write(flax.serialization.msgpack_serialize(hv.unflatten_names(
                {tuple(k.split("/")): v for k, v in flat.items()})))
        written.append("params.msgpack")
    return written


# ---------------------------------------------------------------------------------------------------------------

def check_export(model_dir, params, step=100):
    """Writes the tiny model in the released checkpoint layout (orbax <step>/default and <step>/EMA_params.pkl
    of jax arrays) under .reference/, runs Examples/export_hypervla.py on both, and compares every tensor."""
    import pickle

    import orbax.checkpoint as ocp

    sys.path.insert(0, os.path.join(ROOT, "Examples"))
    import export_hypervla

    save_dir = os.path.join(ROOT, ".reference", "hypervla-tiny-released")
    shutil.rmtree(save_dir, ignore_errors=True)
    os.makedirs(os.path.join(save_dir, str(step)))
    for name in ("config.json", "dataset_statistics.json"):
        shutil.copyfile(os.path.join(model_dir, name), os.path.join(save_dir, name))
    tree = jax.tree_util.tree_map(jnp.asarray, params)
    ocp.PyTreeCheckpointer().save(os.path.join(save_dir, str(step), "default"), tree)
    with open(os.path.join(save_dir, str(step), "EMA_params.pkl"), "wb") as f:
        pickle.dump({"EMA_0.999": tree}, f)
    want = {"/".join(p): f32(v) for p, v in hv.flatten_names(params).items()}
    worst = 0.0
    for source in ("ema", "orbax"):
        for fmt in ("safetensors", "npz", "msgpack"):
            out = export_hypervla.export(save_dir, step, source, "0.999", fmt,
                                         os.path.join(save_dir, f"{source}.{fmt}"))
            if fmt == "safetensors":
                from safetensors.numpy import load_file
                got = load_file(out)
            elif fmt == "npz":
                got = dict(np.load(out))
            else:
                got = {"/".join(p): v for p, v in hv.flatten_names(
                    flax.serialization.msgpack_restore(open(out, "rb").read())).items()}
            if sorted(got) != sorted(want):
                raise SystemExit(f"export {source}/{fmt}: names differ from the params")
            for k in want:
                if got[k].shape != want[k].shape or got[k].dtype != np.float32:
                    raise SystemExit(f"export {source}/{fmt}: {k} {got[k].shape} {got[k].dtype}")
                worst = max(worst, float(np.max(np.abs(got[k] - want[k]))) if want[k].size else 0.0)
    table = export_hypervla.interpolated_position_table(want)
    print(f"export_hypervla.py: EMA pickle and orbax -> safetensors/npz/msgpack, {len(want)} tensors, "
          f"max |diff| {worst}; interpolated position table {table.shape}")
    if worst != 0.0:
        raise SystemExit("exported values differ")
    return table


def read_tasks(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            s = line.rstrip("\n")
            if not s.strip() or s.lstrip().startswith("#"):
                continue
            if s not in out:
                out.append(s)
    return out


def check_dinov2_against_torch(flax_params, torch_model, fields, frames_u8):
    """The Flax DINOv2 against transformers' torch Dinov2Model fed the same (JAX-resized) position table."""
    from transformers import Dinov2Config, Dinov2Model

    dino = hv.Dinov2(*fields)
    x = hv.normalize_image(frames_u8)
    ours = np.asarray(dino.apply({"params": flax_params}, x))
    cfg = Dinov2Config(**{**torch_model.config.to_dict(), "image_size": 224})
    twin = Dinov2Model(cfg).eval()
    state = {k: v.clone() for k, v in torch_model.state_dict().items()}
    state["embeddings.position_embeddings"] = torch.tensor(np.asarray(hv.interpolate_position_table(
        jnp.asarray(flax_params["embeddings"]["position_embeddings"]), 16, 16)))
    twin.load_state_dict(state)
    with torch.no_grad():
        theirs = twin(pixel_values=torch.tensor(np.asarray(x).transpose(0, 3, 1, 2))).last_hidden_state.numpy()
    return float(np.max(np.abs(ours - theirs))), ours


def generate(full: bool):
    t0 = time.time()
    cfg = FULL if full else TINY
    if full:
        out_root = os.path.join(ROOT, ".reference", "hypervla-full")
        fixture_dir = out_root
    else:
        out_root = os.path.join(ROOT, "Examples", "hypervla-tiny")
        fixture_dir = os.path.join(ROOT, "Tests", "Fixtures", "HyperVLA")
    os.makedirs(out_root, exist_ok=True)
    os.makedirs(fixture_dir, exist_ok=True)
    tasks_path = os.path.join(ROOT, "Examples", "hypervla-tiny", "tasks.txt")
    tasks = read_tasks(tasks_path)

    # Encoders ------------------------------------------------------------------------------------------------
    tok, t5 = make_text_encoder(os.path.join(out_root, "text-encoder"), cfg["t5"], seed=601)
    frozen_torch = make_dinov2_torch(cfg["dino"], seed=602)
    save_hf(frozen_torch, os.path.join(out_root, "vision-encoder"))
    dino_cfg = json.load(open(os.path.join(out_root, "vision-encoder", "config.json")))
    fields = dinov2_fields(dino_cfg)
    frozen = dinov2_torch_to_flax(frozen_torch)
    backbone_torch = make_dinov2_torch(cfg["dino"], seed=603)      # "fine-tuned": different weights
    backbone = dinov2_torch_to_flax(backbone_torch)
    backbone_flat = {"encoder_image_encoder_" + "_".join(p): f32(v).ravel()
                     for p, v in hv.flatten_names(backbone).items()}

    base_net, shapes = base_template(dino_cfg, cfg["vit"])
    generated, shared = split_leaves(shapes)
    n_generated = sum(k for _, k, _, _ in generated)
    print(f"generated leaves {len(generated)}, generated params {n_generated:,}; shared leaves {len(shared)}, "
          f"shared params {sum(k for _, k, _, _ in shared):,}")
    if full and n_generated != FULL_GENERATED:
        raise SystemExit(f"generated parameter count {n_generated} != {FULL_GENERATED}")

    # Frames ---------------------------------------------------------------------------------------------------
    n_frames = 12
    raw_episode = np.stack([synthetic_frame(120, 160, t, seed=700) for t in range(n_frames)])
    episode = np.stack([preprocess(f, crop=True) for f in raw_episode])
    extra_sizes = [(480, 640), (256, 256), (180, 120), (97, 131)]
    extra_raw = {f"{h}x{w}": synthetic_frame(h, w, 0, seed=710 + i) for i, (h, w) in enumerate(extra_sizes)}
    if not full:
        frames = {"episode_raw": raw_episode, "episode": episode}
        for key, img in extra_raw.items():
            frames[f"raw_{key}"] = img
            frames[f"pre_{key}_crop"] = preprocess(img, crop=True)
            frames[f"pre_{key}_nocrop"] = preprocess(img, crop=False)
        np.savez_compressed(os.path.join(fixture_dir, "frames.npz"), **frames)

    dmax, frozen_out0 = check_dinov2_against_torch(frozen, frozen_torch, fields, episode[:1])
    print(f"Flax DINOv2 vs torch Dinov2Model (same resized table): max |diff| {dmax:.3g}")
    if dmax > 1e-4:
        raise SystemExit("Flax DINOv2 disagrees with transformers' torch Dinov2Model")
    first_cls = frozen_out0[:, 0]                                          # (1, D): frozen CLS of frame 0

    # Instructions through tokenizer and T5 --------------------------------------------------------------------
    tokens = []
    for text in tasks:
        ids, mask = tokenize(tok, text)
        tokens.append((ids, mask, t5_hidden(t5, ids, mask)))

    # The backbone (fine-tuned DINOv2, shared) runs once per frame; the policy after it once per instruction.
    # One full BaseNetwork pass (backbone included) per setting checks that this split changes nothing.
    dino = hv.Dinov2(*fields)
    backbone_apply = jax.jit(lambda p, x: dino.apply({"params": p}, x))
    backbone_hidden = np.stack([np.asarray(backbone_apply(backbone, hv.normalize_image(episode[i:i + 1])))[0]
                                for i in range(n_frames)])
    base_apply = jax.jit(lambda p, t: base_net.apply({"params": p}, None, t))
    base_apply_full = jax.jit(lambda p, x: base_net.apply({"params": p}, x))
    stats_by_setting = {}
    summary = {"tasks": tasks, "settings": {}}
    rng_stats = np.random.default_rng(800)
    for setting, use_image in (("image", True), ("no-image", False)):
        model_dir = os.path.join(out_root, "model" if use_image else "model-no-image")
        os.makedirs(model_dir, exist_ok=True)
        hn, params = make_hn(cfg, generated, shared, use_image, cfg["t5"]["d_model"], dino_cfg["hidden_size"],
                             backbone_flat, seed=900 if use_image else 901)
        n_hn = hn_param_count(params, include_shared=False)
        print(f"[{setting}] HN params without the shared DINOv2: {n_hn:,}; "
              f"with it: {hn_param_count(params, True):,}")
        if full and use_image and n_hn != FULL_HN_PARAMS:
            raise SystemExit(f"HN parameter count {n_hn} != {FULL_HN_PARAMS}")
        dataset_name = "libero_tiny" if use_image else "bridge_dataset"
        stats = dataset_statistics(rng_stats, None if use_image else "bridge_dataset")
        stats_by_setting[setting] = stats
        write_json(os.path.join(model_dir, "config.json"), released_config(cfg, use_image, dino_cfg, dataset_name))
        write_json(os.path.join(model_dir, "dataset_statistics.json"), stats)
        formats = ("safetensors", "npz", "msgpack") if (use_image or full) else ("safetensors",)
        if full:
            formats = ("safetensors",)
        written = write_params(model_dir, params, formats)
        if use_image and not full:
            table = check_export(model_dir, params)
            ours = hv.interpolate_position_table(jnp.asarray(backbone["embeddings"]["position_embeddings"]), 16, 16)
            if float(np.max(np.abs(np.asarray(ours) - table))) > 0:
                raise SystemExit("export's interpolated position table differs from the reference's")
        action_stats = stats["action"] if "action" in stats else stats["bridge_dataset"]["action"]
        mean, std = np.array(action_stats["mean"], np.float32), np.array(action_stats["std"], np.float32)
        mask = np.array(action_stats["mask"], bool)

        hn_apply = jax.jit(lambda p, e, m, i: hn.apply({"params": p}, e, m, i))
        tokens_apply = jax.jit(lambda p, e, m, i: hn.apply({"params": p}, e, m, i, method=hv.HyperNetwork.context_tokens))
        golden = {}
        per_task = []
        gripper_margin = float("inf")
        for ti, (ids, am, hidden) in enumerate(tokens):
            key = f"task{ti:02d}"
            img_cls = jnp.asarray(first_cls) if use_image else None
            c, gen, sh = hn_apply(params, jnp.asarray(hidden[None]), jnp.asarray(am[None]), img_cls)
            ctx_tokens, _ = tokens_apply(params, jnp.asarray(hidden[None]), jnp.asarray(am[None]), img_cls)
            golden[f"{key}/input_ids"] = ids.astype(np.int32)
            golden[f"{key}/attention_mask"] = am.astype(np.int32)
            if not full or ti < 2:
                golden[f"{key}/t5_last_hidden_state"] = f32(hidden)
                golden[f"{key}/context_tokens"] = f32(np.asarray(ctx_tokens)[0])
            golden[f"{key}/context_embedding"] = f32(np.asarray(c)[0])
            for name, numel, path, shape in generated:
                golden[f"{key}/generated/{name}"] = f32(np.asarray(gen[name])[0]).reshape(shape)
            bp = base_params_from(gen, sh, generated, shared)
            ens = Ensembler(ENSEMBLE)
            mappers = {m: EnvMapper(m) for m in ("libero", "widowx_bridge", "google_robot")}
            raw_steps, norm_steps, unnorm_steps, ens_steps = [], [], [], []
            exec_steps = {m: [] for m in mappers}
            for fi in range(n_frames):
                raw_c, logits, squashed = base_apply(bp, jnp.asarray(backbone_hidden[fi:fi + 1, 1:]))
                if ti == 0 and fi == 0:
                    whole = base_apply_full(bp, hv.normalize_image(episode[:1]))
                    split_diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                                     for a, b in zip(whole, (raw_c, logits, squashed)))
                    if split_diff > 1e-5:
                        raise SystemExit(f"backbone-once split differs from the full base network by {split_diff}")
                raw_c, logits, squashed = (np.asarray(raw_c)[0], np.asarray(logits)[0], np.asarray(squashed)[0])
                gripper_margin = min(gripper_margin, float(np.min(np.abs(logits))))
                raw = np.concatenate([raw_c, logits], -1).astype(np.float32)              # the step program output
                norm = np.concatenate([squashed, (logits >= 0).astype(np.float32)], -1)   # (H, A)
                unnorm = np.where(mask, norm * std + mean, norm).astype(np.float32)
                a = ens.push(unnorm)
                raw_steps.append(raw)
                norm_steps.append(norm)
                unnorm_steps.append(unnorm)
                ens_steps.append(a)
                for m, f in mappers.items():
                    exec_steps[m].append(f(a))
            golden[f"{key}/episode/raw"] = f32(np.stack(raw_steps))
            golden[f"{key}/episode/normalized"] = f32(np.stack(norm_steps))
            golden[f"{key}/episode/unnormalized"] = f32(np.stack(unnorm_steps))
            golden[f"{key}/episode/ensembled"] = np.stack(ens_steps).astype(np.float64)
            for m in mappers:
                golden[f"{key}/episode/executed_{m}"] = np.stack(exec_steps[m]).astype(np.float64)
            n_tok = int(am.sum())
            per_task.append({"key": key, "instruction": tasks[ti], "tokens": n_tok,
                             "truncated": len(tok(tasks[ti])["input_ids"]) > MAX_LEN})
        golden["backbone/last_hidden_state_frame0"] = f32(backbone_hidden[0])
        if use_image:
            golden["frame0/frozen_last_hidden_state"] = f32(frozen_out0[0])
            golden["frame0/frozen_cls"] = f32(first_cls[0])
        golden_path = os.path.join(fixture_dir, f"golden-{setting}.safetensors")
        save_file(golden, golden_path)
        summary["settings"][setting] = {
            "model_dir": os.path.relpath(model_dir, ROOT), "params_files": written,
            "use_initial_image": use_image, "golden": os.path.relpath(golden_path, ROOT),
            "dataset_statistics_form": "single" if use_image else "per-dataset (bridge_dataset)",
            "hn_params_without_shared": n_hn, "generated_params": n_generated,
            "min_abs_gripper_logit": gripper_margin, "tasks": per_task}
        print(f"[{setting}] smallest |gripper logit| over the episodes: {gripper_margin:.3g}")

    summary["frames"] = {"episode_raw_size": [120, 160], "episode_frames": n_frames,
                         "extra_raw_sizes": [list(s) for s in extra_sizes], "crop_scale": CROP_SCALE}
    summary["dinov2_flax_vs_torch_max_abs"] = dmax
    write_json(os.path.join(fixture_dir, "golden.json"), summary)
    print(f"done in {time.time() - t0:.1f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="released shapes into .reference/hypervla-full")
    args = ap.parse_args()
    generate(args.full)


if __name__ == "__main__":
    main()
