#!/usr/bin/env python3
"""Writes inputs and numpy reference outputs for every op of the op set (VLARuntime's op tests).

Outputs (committed): Tests/Fixtures/VLARuntime/ops.json (the cases) and ops.bin (their little-endian data).
Run from the package root:  .venv/bin/python Tests/Reference/gen_ops_reference.py

Reference values are computed in float64 from the exact f32 (or f16/bf16/i8) inputs, following the formulas in
Docs/Ops.md; the Swift test compares vlac's f32 result with |vlac - ref| <= atol + rtol * |ref| per element.
"""
import json
import math
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "VLARuntime")
U = 2.0 ** -24  # f32 unit roundoff

rng = np.random.default_rng(20261125)
blob = bytearray()
cases = []

GFM = float(np.finfo(np.float32).max)


def put(array, dtype):
    """Appends array's bytes (64-byte aligned) and returns its descriptor."""
    global blob
    while len(blob) % 64:
        blob.append(0)
    if dtype == "bf16":
        data = (np.asarray(array, dtype=np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    else:
        np_type = {"f32": "<f4", "f16": "<f2", "i8": "i1", "u8": "u1", "i32": "<i4"}[dtype]
        data = np.asarray(array).astype(np_type).tobytes()
    desc = {"dtype": dtype, "shape": list(np.shape(array)), "offset": len(blob), "bytes": len(data)}
    blob += data
    return desc


def f32(a):
    return np.asarray(a, dtype=np.float32)


def case(name, op, inputs, out, atol, rtol, attributes=(), scales=None):
    """inputs: list of (array, dtype); scales: {input index: f32 scale array} for i8 inputs."""
    descs = []
    for i, (a, dt) in enumerate(inputs):
        d = put(a, dt)
        if scales and i in scales:
            d["scale"] = put(f32(scales[i]), "f32")
        descs.append(d)
    o = put(np.asarray(out, dtype=np.float64).astype(np.float32), "f32")
    assert atol >= 0 and rtol >= 0
    cases.append({"name": name, "op": op, "attributes": [int(a) for a in attributes], "inputs": descs,
                  "output": o, "atol": float(atol), "rtol": float(rtol)})


def bits(x):
    return int(np.float32(x).view(np.uint32))


def randn(*shape, scale=1.0):
    return f32(rng.standard_normal(shape) * scale)


# --- linear --------------------------------------------------------------------------------------------------
def linear_ref(x, w, b):
    y = x.astype(np.float64) @ w.astype(np.float64)
    bound = np.abs(x.astype(np.float64)) @ np.abs(w.astype(np.float64))
    if b is not None:
        y = y + b.astype(np.float64)
        bound = bound + np.abs(b.astype(np.float64))
    k = w.shape[0]
    # Forward error bound of an f32 dot product of length k (+ bias): (k + 2)·u·Σ|x||w|, doubled for margin.
    return y, 2 * (k + 2) * U * float(bound.max(initial=0)) + 1e-30


for name, xs, k, n, bias in [
    ("linear_2d", (3, 5), 5, 7, True), ("linear_rank1", (5,), 5, 3, True), ("linear_k1", (4, 1), 1, 6, True),
    ("linear_m1", (1, 33), 33, 70, True), ("linear_rank3", (2, 3, 4), 4, 5, False),
    ("linear_odd", (13, 31), 31, 65, True), ("linear_blas_size", (20, 48), 48, 130, True),
    ("linear_n1", (9, 17), 17, 1, True), ("linear_wide", (3, 64), 64, 200, False),
]:
    x = randn(*xs)
    w = randn(k, n)
    b = randn(n) if bias else None
    y, atol = linear_ref(x, w, b)
    ins = [(x, "f32"), (w, "f32")] + ([(b, "f32")] if bias else [])
    case(name, "linear", ins, y, atol, 0)

for dt in ["f16", "bf16"]:
    x = randn(6, 24)
    w = randn(24, 19)
    b = randn(19)
    if dt == "f16":
        wq = w.astype(np.float16)
        wexact = wq.astype(np.float32)
    else:
        wexact = (w.view(np.uint32) & 0xFFFF0000).view(np.float32)  # bf16 by truncation of the f32 bits
        wq = wexact
    y, atol = linear_ref(x, wexact, b)
    case(f"linear_w_{dt}", "linear", [(x, "f32"), (wq, dt), (b, "f32")], y, atol, 0)

x = randn(5, 12)
q = rng.integers(-127, 128, size=(12, 9)).astype(np.int8)
scale = f32(rng.uniform(0.001, 0.05, size=9))
wexact = q.astype(np.float32) * scale  # exact in f32? compute the reference from the f32 products
y, atol = linear_ref(x, f32(wexact), None)
case("linear_w_i8", "linear", [(x, "f32"), (q, "i8")], y, atol, 0, scales={1: scale})


# --- norms ---------------------------------------------------------------------------------------------------
def layer_norm(x, g, b, eps):
    x = x.astype(np.float64)
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


for name, shape, eps, offset in [("layer_norm_2d", (4, 10), 1e-5, 0.0), ("layer_norm_rank1", (7,), 1e-6, 0.0),
                                 ("layer_norm_d1", (3, 1), 1e-5, 0.0), ("layer_norm_offset", (2, 3, 37), 1e-6, 100.0),
                                 ("layer_norm_wide", (3, 768), 1e-6, 0.0)]:
    x = randn(*shape) + f32(offset)
    g = randn(shape[-1])
    b = randn(shape[-1])
    case(name, "layer_norm", [(x, "f32"), (g, "f32"), (b, "f32")], layer_norm(x, g, b, np.float32(eps)),
         1e-5 * (1 + offset / 10), 1e-5, attributes=[bits(eps)])


def rms_norm(x, g, eps):
    x = x.astype(np.float64)
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


for name, shape, eps in [("rms_norm_2d", (3, 16), 1e-6), ("rms_norm_rank1", (5,), 1e-6), ("rms_norm_d1", (4, 1), 1e-6),
                         ("rms_norm_odd", (2, 2, 45), 1e-5)]:
    x = randn(*shape)
    g = randn(shape[-1])
    case(name, "rms_norm", [(x, "f32"), (g, "f32")], rms_norm(x, g, np.float32(eps)), 1e-5, 1e-5, attributes=[bits(eps)])


# --- softmax -------------------------------------------------------------------------------------------------
def softmax(x):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


for name, x in [("softmax_2d", randn(4, 9)), ("softmax_rank1", randn(1)), ("softmax_cols1", randn(2, 1)),
                ("softmax_large", f32(rng.uniform(-3e4, 3e4, size=(3, 20)))),
                ("softmax_huge", f32(np.array([[1e30, -1e30, 1e30, 0.0, 3e38], [-GFM, -GFM, -GFM, -GFM, -GFM],
                                               [-GFM, 5.0, -GFM, 4.0, 88.0]]))),
                ("softmax_odd", randn(3, 37, scale=10))]:
    case(name, "softmax", [(x, "f32")], softmax(x), 1e-6, 1e-5)


# --- attention -----------------------------------------------------------------------------------------------
def attention(q, k, v, scale, mask=None, bias=None):
    q, k, v = (a.astype(np.float64) for a in (q, k, v))
    batched = q.ndim == 4
    if not batched:
        q, k, v = q[None], k[None], v[None]
    B, Tq, H, d = q.shape
    Tk = k.shape[1]
    logits = np.einsum("bqhd,bkhd->bhqk", q, k) * scale
    if bias is not None:
        logits = logits + bias.astype(np.float64)[None]
    if mask is not None:
        m = mask
        if m.ndim == 1:
            m = np.broadcast_to(m[None, None, None, :], (B, 1, Tq, Tk))
        elif batched and m.ndim == 2 and m.shape == (B, Tk):
            m = m[:, None, None, :]
        elif m.ndim == 2:
            m = m[None, None]
        else:
            m = m[:, None]
        logits = np.where(m != 0, logits, -GFM)
    p = softmax(logits)
    y = np.einsum("bhqk,bkhd->bqhd", p, v)
    return y if batched else y[0]


def attn_case(name, batch, tq, tk, h, d, dv, scale, mask_kind=None, with_bias=False, fully_masked=False):
    lead = (batch,) if batch else ()
    q, k, v = randn(*lead, tq, h, d), randn(*lead, tk, h, d), randn(*lead, tk, h, dv)
    ins = [(q, "f32"), (k, "f32"), (v, "f32")]
    mask = None
    flags = 0
    if mask_kind:
        shape = {"k": (tk,), "qk": (tq, tk), "bk": (batch, tk), "bqk": (batch, tq, tk)}[mask_kind]
        mask = (rng.uniform(size=shape) < 0.7).astype(np.uint8)
        mask[..., 0] = 1
        if fully_masked:
            if mask_kind in ("qk", "bqk"):
                mask[..., 1, :] = 0
            else:
                mask[...] = 0
        ins.append((mask, "u8"))
        flags |= 1
    bias = None
    if with_bias:
        bias = randn(h, tq, tk, scale=2)
        ins.append((bias, "f32"))
        flags |= 2
    y = attention(q, k, v, scale, mask, bias)
    case(name, "attention", ins, y, 2e-5, 2e-5, attributes=[bits(scale), flags])


attn_case("attention_plain", 0, 5, 7, 3, 4, 4, 0.5)
attn_case("attention_dv", 0, 4, 6, 2, 8, 3, 1 / math.sqrt(8))
attn_case("attention_mask_k", 0, 5, 9, 2, 4, 4, 0.5, "k")
attn_case("attention_mask_qk_fully", 0, 6, 5, 3, 4, 4, 0.5, "qk", fully_masked=True)
attn_case("attention_mask_k_all_masked", 0, 3, 4, 2, 4, 4, 0.5, "k", fully_masked=True)
attn_case("attention_bias", 0, 5, 5, 4, 8, 8, 1.0, None, True)
attn_case("attention_bias_mask", 0, 7, 7, 2, 6, 6, 1.0, "k", True)
attn_case("attention_q1", 0, 1, 11, 3, 8, 8, 1 / math.sqrt(8), "k")
attn_case("attention_batch", 2, 4, 6, 2, 4, 4, 0.5)
attn_case("attention_batch_mask_bk", 3, 4, 5, 2, 4, 4, 0.5, "bk")
attn_case("attention_batch_mask_bqk", 2, 3, 5, 2, 4, 4, 0.5, "bqk", True, fully_masked=True)
attn_case("attention_batch_mask_k", 2, 3, 5, 2, 4, 4, 0.5, "k")
attn_case("attention_long", 0, 40, 40, 2, 16, 16, 0.25, "k", True)

# --- element-wise --------------------------------------------------------------------------------------------
grid = f32(np.concatenate([np.linspace(-12, 12, 301), [-1e-4, -1e-7, 0.0, 1e-7, 1e-4, 0.39, 0.4, 0.41, -0.4, 9.0, 9.2,
                                                       -30, 30, 87, -87, 100, -100]]))
erf = np.vectorize(math.erf)
g64 = grid.astype(np.float64)
case("gelu_erf_grid", "gelu_erf", [(grid, "f32")], 0.5 * g64 * (1 + erf(g64 / math.sqrt(2))), 1e-6, 1e-6)
inner = math.sqrt(2 / math.pi) * (g64 + 0.044715 * g64 ** 3)
case("gelu_tanh_grid", "gelu_tanh", [(grid, "f32")], 0.5 * g64 * (1 + np.tanh(inner)), 1e-6, 1e-6)
case("tanh_grid", "tanh", [(grid, "f32")], np.tanh(g64), 2e-7, 4e-7)
case("relu_grid", "relu", [(grid, "f32")], np.maximum(g64, 0), 0, 0)
case("scaled_tanh_grid", "scaled_tanh", [(grid, "f32")], 2.5 * np.tanh(g64 / np.float64(np.float32(2.5))), 5e-7, 4e-7,
     attributes=[bits(2.5)])
x = f32(np.concatenate([randn(37), [0.5, 0.5, -0.5, np.nextafter(np.float32(0.5), np.float32(0))]]))
case("threshold_mixed", "threshold", [(x, "f32")], (x >= np.float32(0.5)).astype(np.float64), 0, 0, attributes=[bits(0.5)])
x = randn(2, 3, 33, scale=3)
case("gelu_erf_3d", "gelu_erf", [(x, "f32")], 0.5 * x.astype(np.float64) * (1 + erf(x.astype(np.float64) / math.sqrt(2))),
     1e-6, 1e-6)
case("relu_rank1_one", "relu", [(f32([-3.0]), "f32")], [0.0], 0, 0)

for name, ashape, bshape in [("same", (3, 4, 5), (3, 4, 5)), ("vec", (3, 4, 5), (5,)), ("mat", (3, 4, 5), (4, 5)),
                             ("rank1", (7,), (7,)), ("one", (6, 1), (1,)), ("wide", (5, 70), (70,))]:
    a, b = randn(*ashape), randn(*bshape)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    case(f"add_{name}", "add", [(a, "f32"), (b, "f32")], a64 + b64, 0, U)
    case(f"mul_{name}", "mul", [(a, "f32"), (b, "f32")], a64 * b64, 0, U)


# --- patch embedding -----------------------------------------------------------------------------------------
def patch_embed(img, kern, b, p):
    H, W, C = img.shape
    gh, gw = H // p, W // p
    patches = img[:gh * p, :gw * p].astype(np.float64).reshape(gh, p, gw, p, C).transpose(0, 2, 1, 3, 4)
    patches = patches.reshape(gh * gw, p * p * C)
    kk = kern.astype(np.float64).reshape(p * p * C, -1)
    bound = np.abs(patches) @ np.abs(kk) + np.abs(b)
    return patches @ kk + b, 2 * (p * p * C + 2) * U * float(bound.max())


for name, (h, w, c, p, d) in [("patch_embed_2", (8, 10, 3, 2, 5)), ("patch_embed_trailing", (9, 7, 2, 3, 4)),
                              ("patch_embed_p1", (3, 2, 4, 1, 3)), ("patch_embed_14", (28, 28, 3, 14, 20))]:
    img, kern, b = randn(h, w, c), randn(p, p, c, d), randn(d)
    y, atol = patch_embed(img, kern, b, p)
    case(name, "patch_embed", [(img, "f32"), (kern, "f32"), (b, "f32")], y, atol, 0, attributes=[p])

# --- gather, mean_pool, l2_normalize -------------------------------------------------------------------------
table = randn(10, 4)
ids = np.array([0, 9, 3, 3, 7, 1], dtype=np.int32)
case("gather_rows", "gather", [(table, "f32"), (ids, "i32")], table[ids], 0, 0)
case("gather_one", "gather", [(table[:1], "f32"), (np.array([0], dtype=np.int32), "i32")], table[:1], 0, 0)

for name, x, mask in [("mean_pool_mask", randn(5, 3), np.array([1, 0, 1, 1, 0], np.uint8)),
                      ("mean_pool_all", randn(4, 6), np.ones(4, np.uint8)),
                      ("mean_pool_none", randn(3, 2), np.zeros(3, np.uint8)),
                      ("mean_pool_t1", randn(1, 5), np.ones(1, np.uint8))]:
    w = mask.astype(np.float64)
    y = (w[:, None] * x.astype(np.float64)).sum(0) / max(w.sum(), 1e-9)
    case(name, "mean_pool", [(x, "f32"), (mask, "u8")], y, 1e-6, 1e-6)

for name, x, eps in [("l2_normalize_2d", randn(3, 8), 1e-12), ("l2_normalize_zero_row", f32([[0, 0, 0], [3, 4, 0]]), 1e-12),
                     ("l2_normalize_rank1", randn(384), 1e-12), ("l2_normalize_eps", f32([[1e-4, 0.0]]), 1e-3)]:
    x64 = x.astype(np.float64)
    n = np.sqrt((x64 * x64).sum(-1, keepdims=True))
    case(name, "l2_normalize", [(x, "f32")], x64 / np.maximum(n, eps), 1e-7, 1e-6, attributes=[bits(eps)])

# --- concat, slice, reshape ----------------------------------------------------------------------------------
for axis in range(3):
    shapes = []
    for i, extra in enumerate([1, 3, 2]):
        s = [2, 3, 4]
        s[axis] = extra
        shapes.append(randn(*s))
    case(f"concat_axis{axis}", "concat", [(a, "f32") for a in shapes], np.concatenate(shapes, axis), 0, 0, attributes=[axis])
a = randn(5)
case("concat_single", "concat", [(a, "f32")], a, 0, 0, attributes=[0])

x = randn(4, 5, 6)
for axis, start, length in [(0, 1, 2), (1, 0, 5), (2, 3, 3), (2, 5, 1)]:
    sl = [slice(None)] * 3
    sl[axis] = slice(start, start + length)
    case(f"slice_axis{axis}_{start}_{length}", "slice", [(x, "f32")], x[tuple(sl)], 0, 0, attributes=[axis, start, length])

r = randn(2, 6)
case("reshape_2x6_3x4", "reshape", [(r, "f32")], r.reshape(3, 4), 0, 0)

# --- convert -------------------------------------------------------------------------------------------------
h = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 6e-8, -6e-5, np.inf, -np.inf, 0.333], dtype=np.float16)
case("convert_f16", "convert", [(h, "f16")], h.astype(np.float64), 0, 0)
bf = randn(3, 5)
bf_exact = (bf.view(np.uint32) & 0xFFFF0000).view(np.float32)
case("convert_bf16", "convert", [(bf_exact, "bf16")], bf_exact, 0, 0)
q = rng.integers(-128, 128, size=(4, 6)).astype(np.int8)
sc = f32(rng.uniform(0.01, 2.0, size=6))
case("convert_i8", "convert", [(q, "i8"), (sc, "f32")], (q.astype(np.float32) * sc).astype(np.float64), 0, 0)
u = rng.integers(0, 256, size=(7,)).astype(np.uint8)
case("convert_u8", "convert", [(u, "u8")], u.astype(np.float64), 0, 0)
i = np.array([0, -1, 2 ** 24, -(2 ** 20), 7], dtype=np.int32)
case("convert_i32", "convert", [(i, "i32")], i.astype(np.float64), 0, 0)

# --- linear_i8, linear_bf16 (format 1.2) -------------------------------------------------------------------
# Appended last so that the random draws of the cases above stay what they were.
def quantize_rows(x):
    """The int8 row quantization of linear_i8, in f32 exactly as Schemas/vla-format.md §8.2 states it."""
    x2 = f32(x).reshape(-1, x.shape[-1])
    a = np.max(np.abs(x2), axis=1).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(a > 0, np.float32(127) / np.where(a > 0, a, np.float32(1)), np.float32(0)).astype(np.float32)
    s = (a / np.float32(127)).astype(np.float32)
    t = (x2 * inv[:, None]).astype(np.float32)
    t = np.minimum(np.maximum(t, np.float32(-127)), np.float32(127))
    return np.rint(t).astype(np.int64), s


for name, xs, k, n, bias in [
    ("linear_i8_2d", (5, 12), 12, 9, True), ("linear_i8_m1", (1, 33), 33, 70, False),
    ("linear_i8_odd", (13, 31), 31, 65, True), ("linear_i8_rank3", (2, 3, 4), 4, 5, True),
    ("linear_i8_k1", (4, 1), 1, 17, True), ("linear_i8_deep", (3, 300), 300, 40, True),
]:
    x = randn(*xs) * 2
    x2 = x.reshape(-1, k)
    if x2.shape[0] > 2:
        x2[1, :] = 0  # a zero row: scale 0, the output is the bias
        x2[2, 0] = 1e3  # one large value: the rest of the row quantizes coarsely
    x = f32(x2.reshape(xs))
    q = rng.integers(-127, 128, size=(k, n)).astype(np.int8)
    sigma = f32(rng.uniform(0.001, 0.05, size=n))
    b = randn(n) if bias else None
    qx, s = quantize_rows(x)
    acc = qx @ q.astype(np.int64)  # exact
    assert np.abs(acc).max(initial=0) < 2 ** 24  # so f32(acc) is exact here
    t = (s[:, None] * sigma[None, :]).astype(np.float32)  # one f32 rounding, as the op does
    y = acc.astype(np.float64) * t.astype(np.float64) + (b.astype(np.float64) if bias else 0.0)
    y = y.reshape(xs[:-1] + (n,))
    ins = [(x, "f32"), (q, "i8")] + ([(b, "f32")] if bias else [])
    # The only rounding left after the exact sum is the final fma: half an ulp.
    case(name, "linear_i8", ins, y, 1e-37, 2.0 ** -23, scales={1: sigma})


def bf16_round(a):
    u = f32(a).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32)


for name, xs, k, n, bias in [
    ("linear_bf16_2d", (6, 24), 24, 19, True), ("linear_bf16_m1", (1, 33), 33, 70, False),
    ("linear_bf16_odd", (13, 31), 31, 65, True), ("linear_bf16_rank3", (2, 3, 5), 5, 4, True),
    ("linear_bf16_deep", (3, 300), 300, 40, False),
]:
    x = randn(*xs)
    w = bf16_round(randn(k, n))
    b = randn(n) if bias else None
    y, atol = linear_ref(bf16_round(x), w, b)
    ins = [(x, "f32"), (w, "bf16")] + ([(b, "f32")] if bias else [])
    case(name, "linear_bf16", ins, y, atol, 0)

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "ops.bin"), "wb") as f:
    f.write(bytes(blob))
with open(os.path.join(OUT, "ops.json"), "w") as f:
    json.dump({"generator": "Tests/Reference/gen_ops_reference.py", "numpy": np.__version__, "cases": cases}, f, indent=1)
print(f"{len(cases)} cases, {len(blob)} bytes", file=sys.stderr)
