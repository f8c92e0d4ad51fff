"""onnxruntime baselines for `vlac bench` on this machine, and vlac itself in the same interleaved rounds
(not a fixture generator; prints timings).

    .venv/bin/python Tests/Reference/bench_onnxruntime.py [--vision DIR] [--threads 1 2] [--runs 30]
        [--vlac .build/release/vlac --policy POLICY.vla [--shared DIR]] [--peak .build/release/vlac-kernel-bench]

Exports (torch.onnx, opset 17, batch 1, fp32) and times with onnxruntime:
  - backbone: transformers' Dinov2Model from --vision (a Hugging Face DINOv2 directory, e.g. the full-size
    reference's vision-encoder/), on a 224 x 224 input: last_hidden_state;
  - policy: HyperVLA's base network after the backbone at the released size (768 -> 64 projection, 257 tokens,
    4 pre-LN blocks with 4 x 16 heads and a 64 -> 128 -> 64 tanh-GELU MLP, the patch tokens masked from the
    action token, final LayerNorm, 24 + 4 head outputs), random weights;
  - step: both in sequence (backbone then policy), i.e. the per-step network.
Medians of --runs timed runs after 3 warm-up runs, for each thread count.

With --vlac and --policy, every round also runs `vlac bench --json` on the policy with each thread count
(step program = backbone + policy network, the policy part from its per-op profile, and the whole step with
the image and action contracts), and with --peak the fp32 FMA peak of `vlac-kernel-bench peak`, so that the
ratios compare figures measured under the same load. Rounds interleave everything; medians over rounds.
"""
import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
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


def session(path, threads, spinning=True):
    """An onnxruntime CPU session with `threads` intra-op threads and one inter-op thread, as every timing here uses.
    spinning=False turns off its intra-op threads' spin-wait after a run (session.intra_op.allow_spinning = 0):
    for timings that share the process with another engine, whose threads it would otherwise compete with."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def time_session(path, example, threads, runs):
    s = session(path, threads)
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
    ap.add_argument("--vlac", help="the vlac executable (with --policy: time `vlac bench` in the same rounds)")
    ap.add_argument("--policy", help="a full-size compiled policy .vla for --vlac")
    ap.add_argument("--shared", help="shared-blob folder for --policy (default: next to the policy)")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per `vlac bench` run")
    ap.add_argument("--peak", help="vlac-kernel-bench executable: measure the fp32 FMA peak every round")
    a = ap.parse_args()
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix="bench_onnxruntime_")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # the exported models: up to 1 GB
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
        for t in a.threads:
            for name, (path, example) in models.items():
                results.setdefault(("onnxruntime", name, t), []).append(time_session(path, example, t, a.runs))
            if a.vlac and a.policy:
                for key, value in vlac_bench(a, t).items():
                    results.setdefault(("vlac", key, t), []).append(value)
            if a.peak:
                out = subprocess.run([a.peak, "peak", "--threads", str(t)], capture_output=True, text=True, check=True).stdout
                results.setdefault(("peak", "GFLOP/s", t), []).append(float(out.split(":")[-1].split()[0]))
    med = {k: statistics.median(v) for k, v in results.items()}
    for (who, name, t), v in sorted(results.items()):
        label = f"onnxruntime {ort.__version__}" if who == "onnxruntime" else who
        print(f"{label:18s} {name:14s} threads {t}: median {med[(who, name, t)]:9.3f}  (rounds: {', '.join(f'{x:.3f}' for x in v)})")
    for t in a.threads:
        pairs = [("step program", "step"), ("policy", "policy")]
        for mine, theirs in pairs:
            if ("vlac", mine, t) in med and ("onnxruntime", theirs, t) in med:
                # Ratios within each round (same load), then their median.
                ratios = [o / v for o, v in zip(results[("onnxruntime", theirs, t)], results[("vlac", mine, t)])]
                print(f"threads {t}: onnxruntime {theirs} / vlac {mine} = {statistics.median(ratios):.2f} median of rounds "
                      f"({', '.join(f'{x:.2f}' for x in ratios)}; > 1: vlac faster)")
        if ("vlac", "GFLOP/s", t) in med and ("peak", "GFLOP/s", t) in med:
            shares = [100 * v / p for v, p in zip(results[("vlac", "GFLOP/s", t)], results[("peak", "GFLOP/s", t)])]
            print(f"threads {t}: vlac step program at {statistics.median(shares):.0f} % of the peak measured in the same round "
                  f"(rounds: {', '.join(f'{x:.0f}' for x in shares)} %)")


def vlac_bench(a, threads):
    """One `vlac bench --json` run: step program and whole-step p50 (ms), the policy part (ms per profiled run)."""
    cmd = [a.vlac, "bench", a.policy, "--json", "--threads", str(threads), "--steps", str(a.steps)]
    if a.shared:
        cmd += ["--shared", a.shared]
    j = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    parts = {p["name"]: p["milliseconds"] for p in j["parts"]}
    out = {"step program": j["programMsP50"], "step": j["stepMsP50"], "GFLOP/s": j["programGFLOPPerSecond"],
           "allocations": j["allocationsPerStep"]}
    # Format 1.1 policies call the blob program "policy-tail"; 1.0 policies (--embed-shared) name it "policy".
    for name in ("policy-tail", "policy"):
        if name in parts:
            out["policy"] = parts[name]
            break
    return out


if __name__ == "__main__":
    main()
