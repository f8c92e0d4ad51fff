#!/usr/bin/env python3
"""Writes inputs and float64 references for the reduced-precision matrix products of Sources/CVLAKernels
(vla_q8_* and vla_bf16_*, contract in Sources/CVLAKernels/include/vla_kernels.h), for QuantKernelTests.

Output (committed): Tests/Fixtures/VLARuntime/quant.json. Run from the package root:
    .venv/bin/python Tests/Reference/gen_quant_reference.py

int8 cases: q and s follow the documented quantization (f32 arithmetic in numpy: a = max|x|, inv = 127/a,
s = a/127, q = round-half-even(clamp(x·inv, −127, 127))); acc = q·w exactly (int64); y = acc·s·wscale + bias,
then ·mul and + add, in float64, with a per-element tolerance of 4·u·(|acc·s·wscale·mul| + |bias·mul| + |add|)
(u = 2⁻²⁴: the roundings of s·wscale, of the fma, of ·mul and of + add).
bf16 cases: x̃ = x rounded to bf16 (round half to even); y = Σ x̃·w + bias in float64 (exact products), with
tolerance 2·(k + 2)·u·(Σ|x̃·w| + |bias|), the forward error bound of an f32 dot product doubled; ·mul and + add
as above.
int8 cases with a zero point (kind q8zp, vla_q8_quantize_zp / vla_q8_gemm_zp): per row, in f32, lo = min(0, min x),
hi = max(0, max x), r = hi − lo, inv = 255/r, s = r/255, z = round-half-even(clamp(−lo·inv, 0, 255)),
u = round-half-even(clamp(x·inv, −z, 255 − z)) + z; acc = (u − z)·w exactly (int64); y and its tolerance as the
int8 cases. They come after the other cases, so those keep their values.
All values are finite; every f32 is written as the decimal of its exact double value (it reads back exactly).
"""
import json
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "VLARuntime", "quant.json")
COMMAND = ".venv/bin/python Tests/Reference/gen_quant_reference.py"
U = 2.0 ** -24

rng = np.random.default_rng(20261201)


def f32list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def quantize(x):
    """The documented per-row quantization, in f32 like the kernels."""
    x = np.asarray(x, dtype=np.float32)
    q = np.zeros(x.shape, dtype=np.int8)
    s = np.zeros(x.shape[0], dtype=np.float32)
    for i, row in enumerate(x):
        a = np.float32(np.max(np.abs(row), initial=np.float32(0)))
        inv = np.float32(127) / a if a > 0 else np.float32(0)
        s[i] = a / np.float32(127)
        v = (row * inv).astype(np.float32)
        q[i] = np.rint(np.clip(v, np.float32(-127), np.float32(127))).astype(np.int8)  # rint: half to even
    return q, s


def bf16_round(x):
    """f32 -> bf16 bits, round half to even (finite inputs)."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_value(h):
    return (h.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def epilogue(y, tol, n, m, use_mul, use_add):
    mul = add = None
    if use_mul:
        mul = rng.uniform(-2, 2, n).astype(np.float32)
        y = y * mul.astype(np.float64)
        tol = tol * np.abs(mul.astype(np.float64))
    if use_add:
        add = rng.standard_normal((m, n)).astype(np.float32)
        y = y + add.astype(np.float64)
        tol = tol + 4 * U * np.abs(add.astype(np.float64))
    return y, tol, mul, add


cases = []


def int8_case(name, kind, x, n, use_bias, use_mul, use_add, centered):
    """One int8 product case: random weights, scales and bias drawn after x (in that order), centered(x) =
    (the integer rows the exact sums use, the row scales, the case's quantization fields), the sums, and y in
    float64 with its tolerance."""
    m, k = x.shape
    w = rng.integers(-127, 128, size=(k, n)).astype(np.int8)
    wscale = rng.uniform(0.001, 0.05, n).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32) if use_bias else None
    left, s, extra = centered(x)
    acc = left @ w.astype(np.int64)
    prod = acc.astype(np.float64) * s.astype(np.float64)[:, None] * wscale.astype(np.float64)[None, :]
    b64 = np.zeros(n) if bias is None else bias.astype(np.float64)
    y = prod + b64[None, :]
    tol = 4 * U * (np.abs(prod) + np.abs(b64)[None, :])
    y, tol, mul, add = epilogue(y, tol, n, m, use_mul, use_add)
    cases.append({
        "name": name, "kind": kind, "m": m, "k": k, "n": n,
        "x": f32list(x), "w": [int(v) for v in w.ravel()], "wscale": f32list(wscale),
        "bias": None if bias is None else f32list(bias), "mul": None if mul is None else f32list(mul),
        "add": None if add is None else f32list(add),
        **extra, "s": f32list(s), "acc": [int(v) for v in acc.ravel()],
        "y": [float(v) for v in y.ravel()], "tol": [float(v) + 1e-30 for v in tol.ravel()],
    })


def symmetric(x):
    q, s = quantize(x)
    return q.astype(np.int64), s, {"q": [int(v) for v in q.ravel()]}

for name, m, k, n, scale, use_bias, use_mul, use_add in [
    ("q8_small", 3, 5, 7, 1.0, True, False, False),
    ("q8_odd", 9, 100, 33, 3.0, True, True, True),
    ("q8_k768", 2, 768, 5, 0.01, False, False, False),
    ("q8_rows", 20, 64, 18, 100.0, True, False, True),
    ("q8_k1", 4, 1, 16, 1.0, True, True, False),
]:
    x = (rng.standard_normal((m, k)) * scale).astype(np.float32)
    x[0, 0] = 0  # a zero inside a row
    int8_case(name, "q8", x, n, use_bias, use_mul, use_add, symmetric)

for name, m, k, n, scale, use_bias, use_mul, use_add in [
    ("bf16_small", 3, 5, 7, 1.0, True, False, False),
    ("bf16_odd", 9, 100, 33, 5.0, True, True, True),
    ("bf16_k768", 2, 768, 5, 1.0, False, False, False),
    ("bf16_k1", 2, 1, 3, 1.0, True, False, False),
]:
    x = (rng.standard_normal((m, k)) * scale).astype(np.float32)
    w = bf16_round(rng.standard_normal((k, n)))
    bias = rng.standard_normal(n).astype(np.float32) if use_bias else None
    xb = bf16_round(x)
    xv, wv = bf16_value(xb), bf16_value(w)
    y = xv @ wv
    bound = np.abs(xv) @ np.abs(wv)
    if bias is not None:
        y = y + bias.astype(np.float64)[None, :]
        bound = bound + np.abs(bias.astype(np.float64))[None, :]
    tol = 2 * (k + 2) * U * bound
    y, tol, mul, add = epilogue(y, tol, n, m, use_mul, use_add)
    if mul is not None:  # the rounding of ·mul, on top of the scaled dot-product bound
        tol = tol + 2 * U * np.abs(y)
    cases.append({
        "name": name, "kind": "bf16", "m": m, "k": k, "n": n,
        "x": f32list(x), "w": [int(v) for v in w.ravel()], "wscale": None,
        "bias": None if bias is None else f32list(bias), "mul": None if mul is None else f32list(mul),
        "add": None if add is None else f32list(add),
        "q": [int(v) for v in xb.ravel()], "s": None, "acc": None,
        "y": [float(v) for v in y.ravel()], "tol": [float(v) + 1e-30 for v in tol.ravel()],
    })

def quantize_zp(x):
    """The documented per-row quantization with a zero point, in f32 like the kernels: (u in [0, 255], z, s)."""
    x = np.asarray(x, dtype=np.float32)
    u = np.zeros(x.shape, dtype=np.int64)
    z = np.zeros(x.shape[0], dtype=np.int64)
    s = np.zeros(x.shape[0], dtype=np.float32)
    for i, row in enumerate(x):
        lo = np.float32(min(np.float32(0), np.min(row)))
        hi = np.float32(max(np.float32(0), np.max(row)))
        r = np.float32(hi - lo)
        inv = np.float32(255) / r if r > 0 else np.float32(0)
        s[i] = r / np.float32(255)
        zf = np.rint(np.clip(np.float32(-lo * inv), np.float32(0), np.float32(255)))
        v = (row * inv).astype(np.float32)
        u[i] = (np.rint(np.clip(v, -zf, np.float32(255) - zf)) + zf).astype(np.int64)  # rint: half to even
        z[i] = int(zf)
    return u, z, s


def zero_point(x):
    u, z, s = quantize_zp(x)
    return u - z[:, None], s, {"q": [int(v) for v in u.ravel()], "z": [int(v) for v in z]}


for name, m, k, n, scale, shift, use_bias, use_mul, use_add in [
    ("q8zp_small", 3, 5, 7, 1.0, 0.0, True, False, False),
    ("q8zp_gelu", 9, 100, 33, 1.0, 0.0, True, True, True),  # GELU-like rows: ≥ −0.17, a long positive tail
    ("q8zp_shifted", 6, 64, 18, 2.0, 3.0, True, False, True),  # rows mostly positive
    ("q8zp_negative", 4, 17, 16, 1.0, -9.0, False, False, False),  # all-negative rows: z = 255
    ("q8zp_k1", 4, 1, 16, 1.0, 0.0, True, True, False),
]:
    x = (rng.standard_normal((m, k)) * scale + shift).astype(np.float32)
    if name == "q8zp_gelu":
        g = x.astype(np.float64)
        x = (0.5 * g * (1 + np.tanh(0.7978845608 * (g + 0.044715 * g ** 3)))).astype(np.float32)
    x[0, 0] = 0  # a zero inside a row
    int8_case(name, "q8zp", x, n, use_bias, use_mul, use_add, zero_point)

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"command": COMMAND, "generator": "Tests/Reference/gen_quant_reference.py", "numpy": np.__version__,
               "note": "q: int8 q for kind q8, u in [0, 255] for kind q8zp (z: its zero points), bf16 bits of x for "
                       "kind bf16 (see the generator's docstring)",
               "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {OUT}: {len(cases)} cases, {os.path.getsize(OUT)} bytes")
