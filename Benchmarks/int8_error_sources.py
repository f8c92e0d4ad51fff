"""Where the int8 error of DINOv2-base comes from: a float simulation of vlac's `linear_i8` and of onnxruntime's
dynamic int8, layer kind by layer kind (not a fixture generator; prints relative L2 errors).

    .venv/bin/python Benchmarks/int8_error_sources.py --vision DIR [--input testframe|normal]

--vision is a Hugging Face DINOv2 directory (the full-size reference's vision-encoder/). The input is vlac's fixed
test frame (the frame `vlac compile --precision` measures its deviation on; Tests/Reference/bench_precision.py
builds it the same way) or a seeded N(0, 1) tensor (bench_precision.py's other input). Every figure is the
relative L2 error ||y - y_ref|| / ||y_ref|| of the 256 patch tokens of last_hidden_state against the float32
model (no quantization), with some linears' inputs and weights replaced by their quantized values:

  weights   per output channel, symmetric int8: s = max|w|/127, round half to even (linear_i8's file format)
  vlac      activations per row (token), symmetric: s = max|x|/127, values in [-127, 127] (linear_i8's rule)
  ORT       activations per tensor, asymmetric uint8 with a zero point (onnxruntime's DynamicQuantizeLinear)
  asym row  activations per row, asymmetric uint8 with a zero point (not implemented in vlac: what it would give)

The simulation rounds in float32 (torch.round: half to even), so it reproduces vlac's and onnxruntime's measured
errors to about 1% of their value, not bit for bit; it is for ranking where the error comes from.
"""
import argparse
import os
import sys

import numpy as np
import torch
from transformers import Dinov2Model

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Reference"))
from bench_precision import vlac_test_frame  # noqa: E402


def weights_int8(w):
    s = w.abs().amax(dim=1, keepdim=True) / 127
    return torch.round(w / torch.where(s > 0, s, 1)) * s


def rows_symmetric(x):
    s = x.abs().amax(dim=-1, keepdim=True) / 127
    return torch.round(torch.clamp(x / torch.where(s > 0, s, 1), -127, 127)) * s


def asymmetric(x, lo, hi):
    lo, hi = torch.clamp(lo, max=0), torch.clamp(hi, min=0)
    s = (hi - lo) / 255
    s = torch.where(s > 0, s, torch.ones_like(s))
    z = torch.round(-lo / s)
    return (torch.clamp(torch.round(x / s) + z, 0, 255) - z) * s


def tensor_asymmetric(x):
    return asymmetric(x, x.min(), x.max())


def rows_asymmetric(x):
    return asymmetric(x, x.amin(dim=-1, keepdim=True), x.amax(dim=-1, keepdim=True))


def kind(name):
    last = name.rsplit(".", 1)[-1]
    return {"q_proj": "qkv", "k_proj": "qkv", "v_proj": "qkv", "o_proj": "out", "fc1": "fc1", "fc2": "fc2"}.get(last)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vision", required=True)
    ap.add_argument("--input", choices=["testframe", "normal"], default="testframe")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = Dinov2Model.from_pretrained(a.vision).eval()
    if a.input == "testframe":
        x = torch.from_numpy(vlac_test_frame()).permute(2, 0, 1)[None]
    else:
        x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32))
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and kind(n)]
    quantized = {m: weights_int8(m.weight.data) for _, m in linears}
    with torch.no_grad():
        ref = model(pixel_values=x).last_hidden_state[0, 1:].double().numpy()

    def error(scheme):
        """scheme: layer kind -> activation function (identity: weights only); kinds not named stay float."""
        saved = []
        for name, m in linears:
            f = scheme.get(kind(name))
            if f is None:
                continue
            saved.append((m, m.forward))
            m.forward = lambda t, m=m, f=f: torch.nn.functional.linear(f(t), quantized[m], m.bias)
        try:
            with torch.no_grad():
                y = model(pixel_values=x).last_hidden_state[0, 1:].double().numpy()
        finally:
            for m, f in saved:
                m.forward = f
        return float(np.linalg.norm(y - ref) / np.linalg.norm(ref))

    kinds = ["qkv", "out", "fc1", "fc2"]
    same = lambda f: {k: f for k in kinds}  # noqa: E731
    print(f"input: {a.input}; relative L2 of the patch tokens against float32")
    print(f"  vlac (weights int8, activations per row symmetric)   {error(same(rows_symmetric)):.4%}")
    print(f"  ORT (weights int8, activations per tensor asym u8)   {error(same(tensor_asymmetric)):.4%}")
    print(f"  weights int8 only (activations float)                {error(same(lambda t: t)):.4%}")
    for k in kinds:
        print(f"  only {k:4s} quantized (vlac's rule)                   {error({k: rows_symmetric}):.4%}")
    print(f"  fc2's input per row asym u8, the rest vlac's rule    {error({**same(rows_symmetric), 'fc2': rows_asymmetric}):.4%}")
    print(f"  every input per row asym u8                          {error(same(rows_asymmetric)):.4%}")


if __name__ == "__main__":
    main()
