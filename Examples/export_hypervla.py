#!/usr/bin/env python3
"""Export a released HyperVLA checkpoint to the params file vlac reads.

The released training code (MasterXiong/Hyper-VLA) saves, under its save directory:

    config.json  dataset_statistics.json  example_batch.msgpack
    <step>/              orbax PyTreeCheckpointer of the HN params (raw, non-EMA), usually in <step>/default/
    <step>/EMA_params.pkl  pickle of {"EMA_0.999": params}, a tree of jax.Array (what the released evaluation loads)

Both need JAX to read. This script loads one of them and writes the same tree as one file that vlac reads without
Python: safetensors (default), npz, or Flax msgpack. Tensor names are the released Flax paths joined by "/"
(`task_token_projection/kernel`, `context_encoder/encoderblock_0/...`, `output_head_<leaf>/kernel`, and the shared
DINOv2 vectors `encoder_image_encoder_*`); msgpack keeps the nested tree. Values are written as float32.

    python Examples/export_hypervla.py SAVE_DIR --step 100000 --ema 0.999          # SAVE_DIR/params.safetensors
    python Examples/export_hypervla.py SAVE_DIR --step 100000 --orbax --format npz  # the raw (non-EMA) params

Then `vlac compile --model SAVE_DIR ...` finds config.json, dataset_statistics.json and the params file there.

Position tables: the fine-tuned DINOv2 inside the HN keeps its 37x37 (518 / 14) table. Flax DINOv2 resizes it to
the 16x16 grid of a 224 input with jax.image.scale_and_translate (bicubic, scale (16 + 0.1) / 37); vlac computes the
same table itself at compile time. `--interpolated-position-table` also stores JAX's own result as
`vlac/encoder_image_encoder_embeddings_position_embeddings_224` (1, 257, D), for checking vlac's table against JAX;
vlac does not need it.

Needs: jax, numpy, and for the formats: safetensors (default), flax (msgpack), orbax-checkpoint (--orbax).
"""
from __future__ import annotations

import argparse
import math
import os
import pickle
import sys

import numpy as np


def _to_numpy_tree(tree):
    if isinstance(tree, dict) or hasattr(tree, "items"):
        return {str(k): _to_numpy_tree(v) for k, v in tree.items()}
    return np.asarray(tree)


def flatten(tree, prefix=()):
    """Nested dict -> {"a/b/c": array}, in sorted key order."""
    out = {}
    for k in sorted(tree):
        v = tree[k]
        if isinstance(v, dict):
            out.update(flatten(v, (*prefix, k)))
        else:
            out["/".join((*prefix, k))] = v
    return out


def load_ema(save_dir: str, step: int, decay: str) -> dict:
    path = os.path.join(save_dir, str(step), "EMA_params.pkl")
    import jax  # noqa: F401  (unpickling jax.Array needs jax imported)

    with open(path, "rb") as f:
        ema = pickle.load(f)
    key = f"EMA_{decay}"
    if key not in ema:
        raise SystemExit(f"{path}: no {key!r}; it has {sorted(ema)}")
    return _to_numpy_tree(ema[key])


def load_orbax(save_dir: str, step: int) -> dict:
    import orbax.checkpoint as ocp

    base = os.path.abspath(os.path.join(save_dir, str(step)))
    path = os.path.join(base, "default") if os.path.isdir(os.path.join(base, "default")) else base
    return _to_numpy_tree(ocp.PyTreeCheckpointer().restore(path))


def interpolated_position_table(flat: dict, grid: int = 16):
    """JAX's resize of the shared DINOv2 position table to a grid x grid patch grid (224 / 14 = 16)."""
    import jax
    import jax.numpy as jnp

    table = flat.get("encoder_image_encoder_embeddings_position_embeddings")
    cls = flat.get("encoder_image_encoder_embeddings_cls_token")
    if table is None or cls is None:
        raise SystemExit("no shared DINOv2 position table (encoder_image_encoder_embeddings_position_embeddings)")
    dim = cls.size
    rows = table.size // dim
    side = math.isqrt(rows - 1)
    if side * side != rows - 1 or rows * dim != table.size:
        raise SystemExit(f"position table of {table.size} values is not (1 + n*n) x {dim}")
    t = jnp.asarray(table.reshape(1, rows, dim), jnp.float32)
    patch = t[:, 1:].reshape(1, side, side, dim).transpose(0, 3, 1, 2)
    scale = jnp.array([np.float32((grid + 0.1) / side)] * 2, jnp.float32)
    out = jax.image.scale_and_translate(patch, (1, dim, grid, grid), (2, 3), scale, jnp.zeros(2, jnp.float32),
                                        method="bicubic", antialias=False)
    out = out.transpose(0, 2, 3, 1).reshape(1, grid * grid, dim)
    return np.asarray(jnp.concatenate([t[:, :1], out], axis=1), np.float32)


def write(flat: dict, path: str, fmt: str) -> None:
    flat = {k: np.ascontiguousarray(np.asarray(v, np.float32)) for k, v in flat.items()}
    tmp = path + ".tmp"
    if fmt == "safetensors":
        from safetensors.numpy import save_file

        save_file(flat, tmp)
    elif fmt == "npz":
        with open(tmp, "wb") as f:
            np.savez(f, **flat)
    elif fmt == "msgpack":
        import flax.serialization

        tree: dict = {}
        for name, v in flat.items():
            d = tree
            parts = name.split("/")
            for p in parts[:-1]:
                d = d.setdefault(p, {})
            d[parts[-1]] = v
        with open(tmp, "wb") as f:
            f.write(flax.serialization.msgpack_serialize(tree))
    else:
        raise SystemExit(f"unknown format {fmt!r}")
    os.replace(tmp, path)


def export(save_dir: str, step: int, source: str = "ema", decay: str = "0.999", fmt: str = "safetensors",
           output: str | None = None, position_table: bool = False) -> str:
    tree = load_ema(save_dir, step, decay) if source == "ema" else load_orbax(save_dir, step)
    flat = flatten(tree)
    if position_table:
        flat["vlac/encoder_image_encoder_embeddings_position_embeddings_224"] = interpolated_position_table(flat)
    out = output or os.path.join(save_dir, f"params.{fmt}")
    write(flat, out, fmt)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Export a released HyperVLA checkpoint (orbax or EMA pickle) to the "
                                             "params file vlac reads.",
                                 epilog="example: export_hypervla.py runs/hypervla --step 100000 --ema 0.999")
    ap.add_argument("save_dir", metavar="SAVE_DIR", help="the training save directory (has config.json and <step>/)")
    ap.add_argument("--step", type=int, required=True, metavar="N", help="the checkpoint step, e.g. 100000")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--ema", default="0.999", metavar="DECAY",
                     help="read <step>/EMA_params.pkl[EMA_<DECAY>] (default; the released evaluation uses 0.999)")
    src.add_argument("--orbax", action="store_true", help="read the raw params of the orbax checkpoint <step>/")
    ap.add_argument("--format", choices=("safetensors", "npz", "msgpack"), default="safetensors")
    ap.add_argument("-o", "--output", metavar="PATH", help="output file (default SAVE_DIR/params.<format>)")
    ap.add_argument("--interpolated-position-table", action="store_true",
                    help="also store JAX's 224-input DINOv2 position table (for checking; vlac computes it)")
    args = ap.parse_args(argv)
    out = export(args.save_dir, args.step, "orbax" if args.orbax else "ema", args.ema, args.format, args.output,
                 args.interpolated_position_table)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
