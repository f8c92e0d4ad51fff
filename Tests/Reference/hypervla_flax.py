"""HyperVLA inference path as Flax linen modules: the reference that vlac's HyperVLA import is checked against.

Built from Schemas-independent facts in ../shared/design/hypervla.md (the description of the released code,
MasterXiong/Hyper-VLA @ 11fdc3e) and written here from scratch. What is the released structure:

  * HyperNetwork: task_token_projection (Dense), optional initial_image_projection (Dense), learned position
    parameters task_pos_embedding / initial_image_pos_embedding / layer_pos_embedding, one zero "layer" token,
    context_encoder (pre-LN Transformer, encoderblock_i + encoder_norm), c = LN(x)[layer token] (/ sqrt(C) when
    scale_context_embedding), one Dense head per generated base leaf named output_head_<leaf path joined by _>,
    outputs reshaped row-major, and one flat top-level vector per shared (image_encoder) leaf.
  * Base network: encoder (DINOv2 image_encoder -> patch tokens [1:], image_embedding_projection, one zero action
    token, pos_embedding, Transformer_0) and action_head (MixActionHead: optional hidden_dims MLP Dense_<i> ->
    LayerNorm_<i> -> swish, then continuous_head, discrete_head; squash max_action * tanh(x / tanh_scaling_factor)
    unless squash_continuous_action is false).
  * Flax's own nn.Dense, nn.LayerNorm (eps 1e-6), nn.MultiHeadDotProductAttention and nn.gelu (tanh form).

Deviations, because the pinned transformers (5.x) no longer ships Flax models:
  * DINOv2 is `Dinov2`, a Flax ViT with layer scale written to match transformers' FlaxDinov2Model (4.50) module
    for module and name for name (embeddings/{cls_token, mask_token, position_embeddings,
    patch_embeddings/projection}, encoder/layer/<i>/{norm1, attention/attention/{query,key,value},
    attention/output/dense, layer_scale1/lambda1, norm2, mlp/{fc1,fc2}, layer_scale2/lambda1}, layernorm), exact
    GELU, and the position table resized with jax.image.scale_and_translate bicubic at scale (grid + 0.1) / table.
    gen_hypervla_reference.py checks it against transformers' torch Dinov2Model (fed the same resized table).
  * T5: the text encoder's last hidden state comes from transformers' torch T5EncoderModel and is fed to the HN.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


# ---------------------------------------------------------------------------------------------------------------
# The Transformer shared by the HN context encoder and the base network (pre-LN ViT blocks).

class MlpBlock(nn.Module):
    mlp_dim: int

    @nn.compact
    def __call__(self, x):
        width = x.shape[-1]
        h = nn.Dense(self.mlp_dim)(x)          # Dense_0
        h = nn.gelu(h)                         # Flax default: tanh approximation
        return nn.Dense(width)(h)              # Dense_1


class Encoder1DBlock(nn.Module):
    mlp_dim: int
    num_heads: int

    @nn.compact
    def __call__(self, x, mask):
        h = nn.LayerNorm()(x)                                               # LayerNorm_0
        h = nn.MultiHeadDotProductAttention(num_heads=self.num_heads)(h, h, mask=mask)
        x = x + h
        h = nn.LayerNorm()(x)                                               # LayerNorm_1
        return x + MlpBlock(self.mlp_dim)(h)                                # MlpBlock_0


class Transformer(nn.Module):
    num_layers: int
    mlp_dim: int
    num_heads: int

    @nn.compact
    def __call__(self, x, mask):
        for i in range(self.num_layers):
            x = Encoder1DBlock(self.mlp_dim, self.num_heads, name=f"encoderblock_{i}")(x, mask)
        return nn.LayerNorm(name="encoder_norm")(x)


# ---------------------------------------------------------------------------------------------------------------
# DINOv2 (the FlaxDinov2Model structure), NHWC input already normalized with ImageNet mean/std.

def interpolate_position_table(table: jax.Array, grid_h: int, grid_w: int) -> jax.Array:
    """(1, 1 + n*n, D) table -> (1, 1 + grid_h*grid_w, D) as Flax DINOv2 does it (JAX bicubic, +0.1 scale)."""
    n = table.shape[1] - 1
    side = int(math.isqrt(n))
    if side * side != n:
        raise ValueError(f"position table has {n} patch rows, not a square")
    if n == grid_h * grid_w and grid_h == grid_w:
        return table
    dim = table.shape[-1]
    cls = table[:, :1]
    grid = table[:, 1:].reshape(1, side, side, dim).transpose(0, 3, 1, 2)
    scale = jnp.array([np.float32((grid_h + 0.1) / side), np.float32((grid_w + 0.1) / side)], dtype=jnp.float32)
    out = jax.image.scale_and_translate(grid.astype(jnp.float32), (1, dim, grid_h, grid_w), (2, 3), scale,
                                        jnp.zeros(2, jnp.float32), method="bicubic", antialias=False)
    out = out.transpose(0, 2, 3, 1).reshape(1, grid_h * grid_w, dim)
    return jnp.concatenate([cls, out], axis=1)


class Dinov2PatchEmbeddings(nn.Module):
    hidden: int
    patch: int

    @nn.compact
    def __call__(self, x):
        y = nn.Conv(self.hidden, (self.patch, self.patch), strides=(self.patch, self.patch), padding="VALID",
                    name="projection")(x)
        return y.reshape(y.shape[0], -1, self.hidden)


class Dinov2Embeddings(nn.Module):
    hidden: int
    patch: int
    table_positions: int        # 1 + side*side rows in the stored table

    @nn.compact
    def __call__(self, x):
        b, h, w, _ = x.shape
        cls = self.param("cls_token", nn.initializers.normal(0.02), (1, 1, self.hidden))
        self.param("mask_token", nn.initializers.zeros, (1, self.hidden))     # present, unused at inference
        patches = Dinov2PatchEmbeddings(self.hidden, self.patch, name="patch_embeddings")(x)
        table = self.param("position_embeddings", nn.initializers.normal(0.02),
                           (1, self.table_positions, self.hidden))
        tokens = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, self.hidden)), patches], axis=1)
        return tokens + interpolate_position_table(table, h // self.patch, w // self.patch)


class Dinov2SelfAttention(nn.Module):
    hidden: int
    heads: int

    @nn.compact
    def __call__(self, x):
        b, t, _ = x.shape
        d = self.hidden // self.heads
        q = nn.Dense(self.hidden, name="query")(x).reshape(b, t, self.heads, d)
        k = nn.Dense(self.hidden, name="key")(x).reshape(b, t, self.heads, d)
        v = nn.Dense(self.hidden, name="value")(x).reshape(b, t, self.heads, d)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q / jnp.sqrt(jnp.float32(d)), k)
        weights = jax.nn.softmax(logits, axis=-1)
        return jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, self.hidden)


class Dinov2SelfOutput(nn.Module):
    hidden: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.hidden, name="dense")(x)


class Dinov2Attention(nn.Module):
    hidden: int
    heads: int

    @nn.compact
    def __call__(self, x):
        return Dinov2SelfOutput(self.hidden, name="output")(Dinov2SelfAttention(self.hidden, self.heads,
                                                                                name="attention")(x))


class Dinov2LayerScale(nn.Module):
    hidden: int

    @nn.compact
    def __call__(self, x):
        # FlaxDinov2LayerScale multiplies by layerscale_value too; every config here has layerscale_value = 1.0.
        return self.param("lambda1", nn.initializers.ones, (self.hidden,)) * x


class Dinov2Mlp(nn.Module):
    hidden: int
    mlp: int

    @nn.compact
    def __call__(self, x):
        h = nn.Dense(self.mlp, name="fc1")(x)
        h = nn.gelu(h, approximate=False)      # DINOv2: exact GELU
        return nn.Dense(self.hidden, name="fc2")(h)


class Dinov2Layer(nn.Module):
    hidden: int
    heads: int
    mlp: int
    eps: float

    @nn.compact
    def __call__(self, x):
        h = nn.LayerNorm(epsilon=self.eps, name="norm1")(x)
        x = x + Dinov2LayerScale(self.hidden, name="layer_scale1")(Dinov2Attention(self.hidden, self.heads,
                                                                                   name="attention")(h))
        h = nn.LayerNorm(epsilon=self.eps, name="norm2")(x)
        return x + Dinov2LayerScale(self.hidden, name="layer_scale2")(Dinov2Mlp(self.hidden, self.mlp,
                                                                                name="mlp")(h))


class Dinov2LayerCollection(nn.Module):
    hidden: int
    heads: int
    mlp: int
    eps: float
    layers: int

    @nn.compact
    def __call__(self, x):
        for i in range(self.layers):
            x = Dinov2Layer(self.hidden, self.heads, self.mlp, self.eps, name=str(i))(x)
        return x


class Dinov2Encoder(nn.Module):
    hidden: int
    heads: int
    mlp: int
    eps: float
    layers: int

    @nn.compact
    def __call__(self, x):
        return Dinov2LayerCollection(self.hidden, self.heads, self.mlp, self.eps, self.layers, name="layer")(x)


class Dinov2(nn.Module):
    """last_hidden_state of DINOv2 (after the final LayerNorm), shape (B, 1 + patches, hidden)."""
    hidden: int
    layers: int
    heads: int
    mlp: int
    patch: int
    table_positions: int
    eps: float = 1e-6

    @nn.compact
    def __call__(self, pixels):
        x = Dinov2Embeddings(self.hidden, self.patch, self.table_positions, name="embeddings")(pixels)
        x = Dinov2Encoder(self.hidden, self.heads, self.mlp, self.eps, self.layers, name="encoder")(x)
        return nn.LayerNorm(epsilon=self.eps, name="layernorm")(x)

    @staticmethod
    def fields_from_hf_config(cfg: dict) -> tuple:
        """(hidden, layers, heads, mlp, patch, table_positions, eps) from a Hugging Face Dinov2Config dict."""
        side = cfg["image_size"] // cfg["patch_size"]
        return (cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
                int(cfg["hidden_size"] * cfg["mlp_ratio"]), cfg["patch_size"], 1 + side * side,
                cfg["layer_norm_eps"])


IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def normalize_image(image_u8: np.ndarray) -> jax.Array:
    """uint8 (…, 224, 224, 3) -> float32 network input, as the released ViT does (÷255, ImageNet mean/std)."""
    x = jnp.asarray(image_u8, jnp.float32) / 255.0
    return (x - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)


# ---------------------------------------------------------------------------------------------------------------
# The base network (the generated policy on top of the shared DINOv2).

class MixActionHead(nn.Module):
    """The released MixActionHead (token_per_horizon false): continuous_head and discrete_head in setup, and per
    entry of hidden_dims a compact Dense -> LayerNorm (eps 1e-6) -> swish before them (Dense_<i>, LayerNorm_<i>)."""
    action_horizon: int
    action_dim: int
    max_action: float = 5.0
    tanh_scaling_factor: float = 5.0
    squash_continuous_action: bool = True
    hidden_dims: tuple = ()

    def setup(self):
        self.continuous_head = nn.Dense(self.action_horizon * (self.action_dim - 1))
        self.discrete_head = nn.Dense(self.action_horizon)

    @nn.compact
    def __call__(self, e):
        """e (B, hidden) -> (raw continuous (B, H, A-1), gripper logits (B, H, 1), squashed continuous)."""
        for dim in self.hidden_dims:
            e = nn.Dense(dim)(e)
            e = nn.LayerNorm()(e)
            e = nn.swish(e)
        raw = self.continuous_head(e).reshape(e.shape[0], self.action_horizon, self.action_dim - 1)
        logits = self.discrete_head(e)[:, :, None]
        if self.squash_continuous_action:
            squashed = jnp.tanh(raw / self.tanh_scaling_factor) * self.max_action
        else:
            squashed = raw
        return raw, logits, squashed


class ViT(nn.Module):
    dino: tuple             # Dinov2 fields: (hidden, layers, heads, mlp, patch, table_positions, eps)
    hidden_dim: int
    num_layers: int
    num_heads: int
    mlp_dim: int

    @nn.compact
    def __call__(self, pixels, image_tokens=None):
        """pixels (B, 224, 224, 3) normalized; or image_tokens, the backbone's last_hidden_state[:, 1:] already
        computed (the backbone does not depend on the instruction, so episodes run it once per frame)."""
        if image_tokens is None:
            image_tokens = Dinov2(*self.dino, name="image_encoder")(pixels)[:, 1:]
        b = image_tokens.shape[0]
        patches = nn.Dense(self.hidden_dim, name="image_embedding_projection")(image_tokens)
        x = jnp.concatenate([patches, jnp.zeros((b, 1, self.hidden_dim), jnp.float32)], axis=1)
        x = x + self.param("pos_embedding", nn.initializers.normal(0.02), (1, x.shape[1], self.hidden_dim))
        t = x.shape[1]
        mask = jnp.ones((b, 1, t, t), jnp.float32)
        mask = mask.at[:, :, :-1, -1:].set(0.0)     # image tokens do not attend to the action token
        x = Transformer(self.num_layers, self.mlp_dim, self.num_heads)(x, mask)   # Transformer_0
        return x[:, -1]


class BaseNetwork(nn.Module):
    dino: tuple
    hidden_dim: int
    num_layers: int
    num_heads: int
    mlp_dim: int
    action_horizon: int
    action_dim: int
    max_action: float = 5.0
    tanh_scaling_factor: float = 5.0
    squash_continuous_action: bool = True
    hidden_dims: tuple = ()

    @nn.compact
    def __call__(self, pixels, image_tokens=None):
        e = ViT(self.dino, self.hidden_dim, self.num_layers, self.num_heads, self.mlp_dim,
                name="encoder")(pixels, image_tokens)
        return MixActionHead(self.action_horizon, self.action_dim, self.max_action, self.tanh_scaling_factor,
                             self.squash_continuous_action, tuple(self.hidden_dims), name="action_head")(e)


def flatten_names(tree: dict, prefix: Sequence[str] = ()) -> dict[tuple[str, ...], Any]:
    out = {}
    for k in sorted(tree):
        v = tree[k]
        if isinstance(v, dict) or hasattr(v, "items"):
            out.update(flatten_names(dict(v), (*prefix, k)))
        else:
            out[(*prefix, k)] = v
    return out


def unflatten_names(flat: dict[tuple[str, ...], Any]) -> dict:
    out: dict = {}
    for path, v in flat.items():
        d = out
        for k in path[:-1]:
            d = d.setdefault(k, {})
        d[path[-1]] = v
    return out


# ---------------------------------------------------------------------------------------------------------------
# The hypernetwork.

class HyperNetwork(nn.Module):
    context_embedding_dim: int
    num_layers: int
    mlp_dim: int
    num_heads: int
    token_len: int
    use_initial_image: bool
    scale_context_embedding: bool
    generated: tuple        # ((leaf name joined by _, numel), ...) in base-tree order
    shared: tuple           # ((leaf name joined by _, numel), ...)

    def setup(self):
        c = self.context_embedding_dim
        self.token_projection = nn.Dense(c, name="task_token_projection")
        if self.use_initial_image:
            self.image_projection = nn.Dense(c, name="initial_image_projection")
            self.initial_image_pos = self.param("initial_image_pos_embedding", nn.initializers.normal(0.02),
                                                (1, 1, c))
        self.task_pos = self.param("task_pos_embedding", nn.initializers.normal(0.02), (1, self.token_len, c))
        self.layer_pos = self.param("layer_pos_embedding", nn.initializers.normal(0.02), (1, 1, c))
        self.context_encoder = Transformer(self.num_layers, self.mlp_dim, self.num_heads)
        # A dict attribute: Flax names each head "output_head_<key>", as in the released checkpoints.
        self.output_head = {name: nn.Dense(numel) for name, numel in self.generated}
        self.shared_vectors = {name: self.param(name, nn.initializers.normal(0.02), (numel,))
                               for name, numel in self.shared}

    def context_tokens(self, token_embedding, attention_mask, image_cls=None):
        """Returns (tokens (B, T, C), boolean mask (B, 1, T, T)); T = token_len [+ 1 image] + 1 layer token."""
        b, n, _ = token_embedding.shape
        parts = [self.token_projection(token_embedding) + self.task_pos]
        if self.use_initial_image:
            parts.append(self.image_projection(image_cls[:, None, :]) + self.initial_image_pos)
        parts.append(jnp.zeros((b, 1, self.context_embedding_dim), jnp.float32) + self.layer_pos)
        x = jnp.concatenate(parts, axis=1)
        t = x.shape[1]
        cols = [jnp.broadcast_to(attention_mask.astype(bool)[:, None, None, :], (b, 1, t, n))]
        if self.use_initial_image:
            cols.append(jnp.ones((b, 1, t, 1), bool))
        layer_col = jnp.zeros((b, 1, t, 1), bool).at[:, :, -1, :].set(True)   # only the layer token sees itself
        cols.append(layer_col)
        return x, jnp.concatenate(cols, axis=-1)

    def context_embedding(self, token_embedding, attention_mask, image_cls=None):
        x, mask = self.context_tokens(token_embedding, attention_mask, image_cls)
        c = self.context_encoder(x, mask)[:, -1]
        if self.scale_context_embedding:
            c = c / jnp.sqrt(jnp.float32(self.context_embedding_dim))
        return c

    def __call__(self, token_embedding, attention_mask, image_cls=None):
        """Returns (c (B, C), {generated leaf name: (B, numel)}, {shared leaf name: (numel,)})."""
        c = self.context_embedding(token_embedding, attention_mask, image_cls)
        generated = {name: self.output_head[name](c) for name, _ in self.generated}
        shared = {name: self.shared_vectors[name] for name, _ in self.shared}
        return c, generated, shared
