"""HyperVLA configuration variants: small models that differ from hypervla-tiny in every dimension of the
configuration table of Docs/HyperVLA.md, with golden outputs of the Flax reference (hypervla_flax.py).

    .venv/bin/python Tests/Reference/gen_hypervla_variants.py     # Tests/Fixtures/HyperVLA/variants/

Each variant is a model directory (config.json in the released layout, dataset_statistics.json,
params.safetensors) and golden-<variant>.safetensors. The demo's T5 (Examples/hypervla-tiny/text-encoder) and
frozen DINOv2 (Examples/hypervla-tiny/vision-encoder, width 32) are reused; the fine-tuned backbone is a new tiny
DINOv2 of width 8 (its architecture in config.json's vlac.image_encoder_config), so the frozen encoder's width
differs from the backbone's. Deterministic: a second run writes the same bytes.

Variants (the demo: C 32 with 2 layers and 4 heads, d 16 with 2 layers and 4 heads, H 4, no action-head MLP,
5 tanh(x/5), normal statistics with a mask, one dataset):
  mlp-bounds   use_initial_image; C 8, 3 HN layers, 2 heads; d 8, 1 layer, 2 heads; H 3; hidden_dims [10, 6];
               max_action 1, tanh_scaling_factor 2; statistics of two datasets without a mask, dataset_kwargs_list
               bridge_dataset "bounds", fractal20220817_data "normal" (the robot picks the dataset).
  nosquash     no initial image; C 12, 1 HN layer, 3 heads; d 6, 3 layers, 3 heads; H 5; hidden_dims [12];
               squash_continuous_action false; one dataset, "action" statistics without a mask, normal.

The action contract is applied as the released InferenceWrapper does: jnp.where(mask, a * std + mean, a) or
jnp.where(mask, (a + 1) * (p99 - p01 + 1e-8) / 2 + p01, a) with float64 statistics and float32 actions, then
SimplerEnv's uniform ensembler over the last H chunks and the robot's gripper rule (gen_hypervla_reference.py).
"""
from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import jax
import jax.numpy as jnp
import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hypervla_flax as hv  # noqa: E402
import gen_hypervla_reference as ref  # noqa: E402

ROOT = ref.ROOT
TINY = os.path.join(ROOT, "Examples", "hypervla-tiny")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "HyperVLA", "variants")
BACKBONE = dict(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, mlp_ratio=2, patch_size=14,
                image_size=518)
FRAMES = 4
TASKS = [0, 5]

VARIANTS = {
    "mlp-bounds": dict(
        use_initial_image=True, hn=dict(context_embedding_dim=8, num_layers=3, mlp_dim=12, num_attention_heads=2),
        vit=dict(hidden_dim=8, num_layers=1, num_heads=2, mlp_dim=12), horizon=3, hidden_dims=[10, 6],
        max_action=1.0, tanh_scaling_factor=2.0, squash=True,
        datasets={"bridge_dataset": "bounds", "fractal20220817_data": "normal"}, mask=False,
        robots={"widowx_bridge": "bridge_dataset", "google_robot": "fractal20220817_data"}, seed=1100),
    "nosquash": dict(
        use_initial_image=False, hn=dict(context_embedding_dim=12, num_layers=1, mlp_dim=16, num_attention_heads=3),
        vit=dict(hidden_dim=6, num_layers=3, num_heads=3, mlp_dim=10), horizon=5, hidden_dims=[12],
        max_action=5.0, tanh_scaling_factor=5.0, squash=False, datasets=None, normalization="normal", mask=False,
        robots={"libero": None}, seed=1200),
}


def statistics(rng, mask):
    a = 7
    mean = rng.uniform(-0.05, 0.05, a)
    std = rng.uniform(0.02, 0.2, a)
    p01 = mean - rng.uniform(0.1, 0.3, a)
    p99 = mean + rng.uniform(0.1, 0.3, a)
    mean[-1], std[-1], p01[-1], p99[-1] = 0.5, 0.5, 0.0, 1.2
    out = {k: [float(np.float32(x)) for x in v] for k, v in
           dict(mean=mean, std=std, p01=p01, p99=p99, min=p01 - 0.1, max=p99 + 0.1).items()}
    if mask:
        out["mask"] = [True] * 6 + [False]
    return {"action": out, "num_transitions": 100, "num_trajectories": 5}


def unnormalize(chunk, action_stats, kind):
    """The released InferenceWrapper.step, float32 actions and float64 statistics (jax converts them)."""
    raw = jnp.asarray(chunk, jnp.float32)
    if kind == "normal":
        mask = action_stats.get("mask", np.ones_like(np.array(action_stats["mean"]), dtype=bool))
        std, mean = np.array(action_stats["std"]), np.array(action_stats["mean"])
        out = jnp.where(np.array(mask), raw * std + mean, raw)
    else:
        mask = action_stats.get("mask", np.ones_like(np.array(action_stats["p01"]), dtype=bool))
        p01, p99 = np.array(action_stats["p01"]), np.array(action_stats["p99"])
        out = jnp.where(np.array(mask), (raw + 1) * (p99 - p01 + 1e-8) / 2 + p01, raw)
    return np.asarray(out, np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    from transformers import AutoTokenizer, Dinov2Model, T5EncoderModel

    tok = AutoTokenizer.from_pretrained(os.path.join(TINY, "text-encoder"))
    t5 = T5EncoderModel.from_pretrained(os.path.join(TINY, "text-encoder")).eval()
    frozen_torch = Dinov2Model.from_pretrained(os.path.join(TINY, "vision-encoder")).eval()
    frozen = ref.dinov2_torch_to_flax(frozen_torch)
    frozen_cfg = json.load(open(os.path.join(TINY, "vision-encoder", "config.json")))
    backbone_torch = ref.make_dinov2_torch(BACKBONE, seed=1003)
    backbone_cfg = json.loads(backbone_torch.config.to_json_string())
    backbone = ref.dinov2_torch_to_flax(backbone_torch)
    backbone_flat = {"encoder_image_encoder_" + "_".join(p): ref.f32(v).ravel()
                     for p, v in hv.flatten_names(backbone).items()}
    bfields = ref.dinov2_fields(backbone_cfg)
    dmax, _ = ref.check_dinov2_against_torch(backbone, backbone_torch, bfields,
                                              np.load(os.path.join(ref.ROOT, "Tests", "Fixtures", "HyperVLA",
                                                                   "frames.npz"))["episode"][:1])
    if dmax > 1e-4:
        raise SystemExit(f"backbone: Flax DINOv2 disagrees with torch by {dmax}")

    episode = np.load(os.path.join(ROOT, "Tests", "Fixtures", "HyperVLA", "frames.npz"))["episode"][:FRAMES]
    ffields = ref.dinov2_fields(frozen_cfg)
    frozen_cls = np.asarray(hv.Dinov2(*ffields).apply({"params": frozen}, hv.normalize_image(episode[:1])))[:, 0]
    dino = hv.Dinov2(*bfields)
    hidden = np.stack([np.asarray(dino.apply({"params": backbone}, hv.normalize_image(episode[i:i + 1])))[0]
                       for i in range(FRAMES)])
    tasks = ref.read_tasks(os.path.join(TINY, "tasks.txt"))
    summary = {"tasks": [tasks[i] for i in TASKS], "frames": FRAMES, "backbone": BACKBONE, "variants": {}}

    for name, v in VARIANTS.items():
        rng = np.random.default_rng(v["seed"])
        ref.HORIZON = v["horizon"]
        net = hv.BaseNetwork(bfields, v["vit"]["hidden_dim"], v["vit"]["num_layers"], v["vit"]["num_heads"],
                             v["vit"]["mlp_dim"], v["horizon"], 7, v["max_action"], v["tanh_scaling_factor"],
                             v["squash"], tuple(v["hidden_dims"]))
        shapes = jax.eval_shape(net.init, jax.random.PRNGKey(0), jnp.zeros((1, 224, 224, 3), jnp.float32))["params"]
        flat_shapes = hv.flatten_names(jax.tree_util.tree_map(lambda s: tuple(s.shape), shapes,
                                                              is_leaf=lambda s: hasattr(s, "shape")))
        generated, shared = ref.split_leaves(flat_shapes)
        cfg = {"hn": v["hn"], "vit": v["vit"]}
        hn, params = ref.make_hn(cfg, generated, shared, v["use_initial_image"], t5.config.d_model,
                                 frozen_cfg["hidden_size"], backbone_flat, seed=v["seed"] + 1)
        model_dir = os.path.join(OUT, name)
        os.makedirs(model_dir, exist_ok=True)
        config = ref.released_config(cfg, v["use_initial_image"], backbone_cfg, "unused")
        base = config["base_net_kwargs"]
        base["action_horizon"] = v["horizon"]
        head = base["action_head_kwargs"]
        head.update(max_action=v["max_action"], tanh_scaling_factor=v["tanh_scaling_factor"],
                    squash_continuous_action=v["squash"], hidden_dims=v["hidden_dims"])
        rel = os.path.relpath(TINY, model_dir)
        config["vlac"] = {"text_encoder": rel + "/text-encoder", "vision_encoder": rel + "/vision-encoder",
                          "image_encoder_config": backbone_cfg}
        if v["datasets"]:
            config["dataset_kwargs"] = {"dataset_kwargs_list": [
                {"name": d, "image_obs_keys": {"primary": "image"}, "action_proprio_normalization_type": k}
                for d, k in v["datasets"].items()]}
            stats = {d: statistics(rng, v["mask"]) for d in v["datasets"]}
        else:
            config["dataset_kwargs"]["dataset_kwargs"]["action_proprio_normalization_type"] = v["normalization"]
            stats = statistics(rng, v["mask"])
        ref.write_json(os.path.join(model_dir, "config.json"), config)
        ref.write_json(os.path.join(model_dir, "dataset_statistics.json"), stats)
        ref.write_params(model_dir, params, ("safetensors",))

        hn_apply = jax.jit(lambda p, e, m, i: hn.apply({"params": p}, e, m, i))
        base_apply = jax.jit(lambda p, t: net.apply({"params": p}, None, t))
        golden = {}
        margin = float("inf")
        for k, ti in enumerate(TASKS):
            key = f"task{k}"
            ids, am = ref.tokenize(tok, tasks[ti])
            h = ref.t5_hidden(t5, ids, am)
            _, gen, sh = hn_apply(params, jnp.asarray(h[None]), jnp.asarray(am[None]),
                                  jnp.asarray(frozen_cls) if v["use_initial_image"] else None)
            for lname, numel, path, shape in generated:
                golden[f"{key}/generated/{lname}"] = ref.f32(np.asarray(gen[lname])[0]).reshape(shape)
            bp = ref.base_params_from(gen, sh, generated, shared)
            raws, norms = [], []
            for f in range(FRAMES):
                raw_c, logits, squashed = (np.asarray(x)[0] for x in base_apply(bp, jnp.asarray(hidden[f:f + 1, 1:])))
                margin = min(margin, float(np.min(np.abs(logits))))
                raws.append(np.concatenate([raw_c, logits], -1).astype(np.float32))
                norms.append(np.concatenate([squashed, (logits >= 0).astype(np.float32)], -1))
            golden[f"{key}/episode/raw"] = ref.f32(np.stack(raws))
            for robot, dataset in v["robots"].items():
                if dataset is None:
                    action_stats, kind = stats["action"], v["normalization"]
                else:
                    action_stats, kind = stats[dataset]["action"], v["datasets"][dataset]
                ens = ref.Ensembler(v["horizon"])
                mapper = ref.EnvMapper(robot)
                un, executed = [], []
                for n in norms:
                    u = unnormalize(n, action_stats, kind)
                    un.append(u)
                    executed.append(mapper(ens.push(u)))
                golden[f"{key}/{robot}/unnormalized"] = ref.f32(np.stack(un))
                golden[f"{key}/{robot}/executed"] = np.stack(executed).astype(np.float64)
        if margin < 1e-3:
            raise SystemExit(f"{name}: a gripper logit is within {margin} of 0; pick another seed")
        save_file(golden, os.path.join(OUT, f"golden-{name}.safetensors"))
        summary["variants"][name] = {
            "generated_params": sum(n for _, n, _, _ in generated), "leaves": len(generated),
            "min_abs_gripper_logit": margin, "robots": v["robots"]}
        print(f"{name}: {len(generated)} generated leaves, {sum(n for _, n, _, _ in generated):,} parameters, "
              f"smallest |gripper logit| {margin:.3g}")
    ref.write_json(os.path.join(OUT, "golden.json"), summary)


if __name__ == "__main__":
    main()
