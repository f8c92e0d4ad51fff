#!/usr/bin/env python3
"""Writes inputs and float64 references for attention with bf16 products (attention flag bit 2, format 1.4;
numerics in Schemas/vla-format.md §8.2, kernels vla_attn_bf16_* in Sources/CVLAKernels/include/vla_kernels.h),
for Tests/VLARuntimeTests/AttentionBF16Tests.swift.

Output (committed): Tests/Fixtures/VLARuntime/attention_bf16.json. Run from the package root:
    .venv/bin/python Tests/Reference/gen_attention_bf16_reference.py

"kernel" cases (one head): s = q̃·k̃ᵀ and y = p̃·ṽ in float64 from the stored f32 q, k, p, v rounded to bf16 in
numpy (round half to even): the products of two bf16 are exact, so the only error of an f32 result is its sum's,
and the tolerance per element is 2·(n + 2)·u·Σ|products| (u = 2⁻²⁴, n = d or tk: the forward error bound of an
f32 dot product, doubled; it also covers the AMX order, whose bound is about the same).
"op" cases (the whole op through the interpreter): s = scale·(q̃·k̃ᵀ) + bias, masked entries replaced by
−3.4028235e38, p = softmax(s) in float64, p̃ = bf16(p), y = Σ p̃·ṽ. vlac's p is f32 and may round to the other
bf16 neighbour where float64's p lies within a relative 2⁻¹⁶ of a rounding midpoint: for those (rare) entries the
tolerance adds 2⁻⁸·p·|ṽ|; everything else gets 2e-5 + 2e-5·|y| (the f32 attention op's tolerance: a few ulps of
the softmax and the sums).
All values are finite; every f32 is written as the decimal of its exact double value (it reads back exactly).
"""
import json
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "VLARuntime", "attention_bf16.json")
COMMAND = ".venv/bin/python Tests/Reference/gen_attention_bf16_reference.py"
U = 2.0 ** -24
NEG = -3.4028234663852886e38

rng = np.random.default_rng(20261206)


def f32list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def bf16(x):
    """f32 -> the nearest bf16 value (round half to even; finite inputs), as float64."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    h = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint32)
    return (h << 16).view(np.float32).astype(np.float64)


def near_midpoint(p):
    """Whether float64 p lies within a relative 2⁻¹⁶ of a bf16 rounding midpoint (f32 p may round otherwise)."""
    p = np.abs(np.asarray(p, dtype=np.float64))
    out = np.zeros(p.shape, dtype=bool)
    nz = p > 0
    e = np.floor(np.log2(p[nz]))
    ulp = 2.0 ** (e - 7)
    frac = (p[nz] / ulp) % 1.0
    out[nz] = np.abs(frac - 0.5) * ulp <= p[nz] * 2.0 ** -16
    return out


def kernel_case(name, tq, tk, d, dv, scale_q=1.0):
    q = (rng.standard_normal((tq, d)) * scale_q).astype(np.float32)
    k = rng.standard_normal((tk, d)).astype(np.float32)
    v = rng.standard_normal((tk, dv)).astype(np.float32)
    logits = rng.standard_normal((tq, tk)) * 2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    qt, kt, vt, pt = bf16(q), bf16(k), bf16(v), bf16(p)
    s = qt @ kt.T
    s_tol = 2 * (d + 2) * U * (np.abs(qt) @ np.abs(kt).T)
    y = pt @ vt
    y_tol = 2 * (tk + 2) * U * (np.abs(pt) @ np.abs(vt))
    return {
        "name": name, "kind": "kernel", "tq": tq, "tk": tk, "h": 1, "d": d, "dv": dv,
        "q": f32list(q), "k": f32list(k), "v": f32list(v), "p": f32list(p),
        "s": [float(x) for x in s.ravel()], "sTol": [float(x) for x in s_tol.ravel()],
        "y": [float(x) for x in y.ravel()], "yTol": [float(x) for x in y_tol.ravel()],
    }


def op_case(name, batch, tq, tk, h, d, dv, mask_shape, bias):
    lead = (batch,) if batch else ()
    q = rng.standard_normal(lead + (tq, h, d)).astype(np.float32)
    k = rng.standard_normal(lead + (tk, h, d)).astype(np.float32)
    v = rng.standard_normal(lead + (tk, h, dv)).astype(np.float32)
    scale = np.float32(1 / np.sqrt(d))
    mask = None
    if mask_shape is not None:
        mask = (rng.random(mask_shape) > 0.25).astype(np.uint8)
    b = rng.standard_normal((h, tq, tk)).astype(np.float32) if bias else None
    B = batch or 1
    qb, kb, vb = (x.reshape((B,) + x.shape[-3:]) for x in (q, k, v))
    y = np.zeros((B, tq, h, dv))
    tol = np.zeros((B, tq, h, dv))
    for bi in range(B):
        for hh in range(h):
            s = float(scale) * (bf16(qb[bi, :, hh, :]) @ bf16(kb[bi, :, hh, :]).T)
            if b is not None:
                s = s + b[hh].astype(np.float64)
            if mask is not None:
                if mask.ndim == 1:
                    m = np.broadcast_to(mask, (tq, tk))
                elif mask.ndim == 2 and batch:
                    m = np.broadcast_to(mask[bi], (tq, tk))
                elif mask.ndim == 2:
                    m = mask
                else:
                    m = mask[bi]
                s = np.where(m == 0, NEG, s)
            p = np.exp(s - s.max(axis=1, keepdims=True))
            p = p / p.sum(axis=1, keepdims=True)
            vt = bf16(vb[bi, :, hh, :])
            yy = bf16(p.astype(np.float32)) @ vt
            y[bi, :, hh, :] = yy
            flips = np.where(near_midpoint(p), 2.0 ** -8 * p, 0.0)
            tol[bi, :, hh, :] = 2e-5 + 2e-5 * np.abs(yy) + flips @ np.abs(vt)
    shape = lead + (tq, h, dv)
    case = {
        "name": name, "kind": "op", "batch": batch, "tq": tq, "tk": tk, "h": h, "d": d, "dv": dv,
        "scale": float(scale), "q": f32list(q), "k": f32list(k), "v": f32list(v),
        "y": [float(x) for x in y.reshape(shape).ravel()], "yTol": [float(x) for x in tol.reshape(shape).ravel()],
    }
    if mask is not None:
        case["mask"] = [int(x) for x in mask.ravel()]
        case["maskShape"] = list(mask.shape)
    if b is not None:
        case["bias"] = f32list(b)
    return case


cases = [
    kernel_case("one", 1, 1, 1, 1),
    kernel_case("small odd", 5, 7, 3, 2),
    kernel_case("head 64", 8, 33, 64, 32),
    kernel_case("257 keys", 4, 257, 8, 9),
    kernel_case("tails", 33, 19, 35, 17, scale_q=30.0),
    op_case("mask and bias", 0, 9, 11, 3, 16, 8, (9, 11), True),
    op_case("batched key mask", 2, 6, 13, 2, 8, 5, (2, 13), False),
    op_case("plain", 0, 16, 16, 2, 32, 16, None, False),
]
with open(OUT, "w") as f:
    json.dump({"command": COMMAND, "cases": cases}, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {OUT}: {len(cases)} cases")
