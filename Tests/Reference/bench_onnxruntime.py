"""onnxruntime baselines for `vlac bench` on this machine (not a fixture generator; prints timings).

    .venv/bin/python Tests/Reference/bench_onnxruntime.py [--vision DIR] [--threads 1 2] [--runs 30]

Exports (torch.onnx, opset 17, batch 1, fp32) and times with onnxruntime:
  - backbone: transformers' Dinov2Model from --vision (a Hugging Face DINOv2 directory, e.g. the full-size
    reference's vision-encoder/), on a 224 x 224 input: last_hidden_state;
  - policy: HyperVLA's base network after the backbone at the released size (768 -> 64 projection, 257 tokens,
    4 pre-LN blocks with 4 x 16 heads and a 64 -> 128 -> 64 tanh-GELU MLP, the patch tokens masked from the
    action token, final LayerNorm, 24 + 4 head outputs), random weights;
  - step: both in sequence (backbone then policy), i.e. the per-step network.
Medians of --runs timed runs after 3 warm-up runs, for each thread count.
"""
import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import onnxruntime as ort
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, d=64, heads=4, mlp=128):
        super().__init__()
        self.ln0, self.ln1 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.fc0, self.fc1 = nn.Linear(d, mlp), nn.Linear(mlp, d)

    def forward(self, x, mask):
        h = self.ln0(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        h = self.ln1(x)
        return x + self.fc1(nn.functional.gelu(self.fc0(h), approximate="tanh"))


class PolicyTail(nn.Module):
    def __init__(self, image_dim=768, d=64, layers=4, n=256, horizon=4, action_dim=7):
        super().__init__()
        self.proj = nn.Linear(image_dim, d)
        self.pos = nn.Parameter(torch.randn(1, n + 1, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d) for _ in range(layers)])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.cont = nn.Linear(d, horizon * (action_dim - 1))
        self.disc = nn.Linear(d, horizon)
        mask = torch.zeros(n + 1, n + 1, dtype=torch.bool)
        mask[:n, n] = True  # True = not allowed: patches do not see the action token
        self.register_buffer("mask", mask)
        self.horizon, self.action_dim = horizon, action_dim

    def forward(self, patches):
        x = self.proj(patches)
        x = torch.cat([x, torch.zeros(1, 1, x.shape[-1])], 1) + self.pos
        for b in self.blocks:
            x = b(x, self.mask)
        e = self.norm(x)[:, -1]
        cont = self.cont(e).reshape(self.horizon, self.action_dim - 1)
        return torch.cat([cont, self.disc(e).reshape(self.horizon, 1)], -1)


class Backbone(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixels):
        return self.model(pixel_values=pixels).last_hidden_state


class Step(nn.Module):
    def __init__(self, backbone, tail):
        super().__init__()
        self.backbone, self.tail = backbone, tail

    def forward(self, pixels):
        return self.tail(self.backbone(pixels)[:, 1:])


def export(module, example, path):
    torch.onnx.export(module, (example,), path, opset_version=17, input_names=["x"], output_names=["y"], dynamo=False)


def time_session(path, example, threads, runs):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    s = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feed = {"x": example.numpy()}
    for _ in range(3):
        s.run(None, feed)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        s.run(None, feed)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vision", help="Hugging Face DINOv2 directory (omit: the policy part only)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the thread counts")
    a = ap.parse_args()
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp()
    models = {}
    tail = PolicyTail().eval()
    models["policy"] = (os.path.join(tmp, "policy.onnx"), torch.randn(1, 256, 768))
    export(tail, models["policy"][1], models["policy"][0])
    if a.vision:
        from transformers import Dinov2Model
        bb = Backbone(Dinov2Model.from_pretrained(a.vision).eval())
        px = torch.randn(1, 3, 224, 224)
        models["backbone"] = (os.path.join(tmp, "backbone.onnx"), px)
        export(bb, px, models["backbone"][0])
        models["step"] = (os.path.join(tmp, "step.onnx"), px)
        export(Step(bb, tail).eval(), px, models["step"][0])
    results = {}
    for r in range(a.rounds):
        for name, (path, example) in models.items():
            for t in a.threads:
                results.setdefault((name, t), []).append(time_session(path, example, t, a.runs))
    for (name, t), v in sorted(results.items()):
        print(f"onnxruntime {ort.__version__} {name:8s} threads {t}: median {statistics.median(v):8.3f} ms  (rounds: {', '.join(f'{x:.3f}' for x in v)})")


if __name__ == "__main__":
    main()
