"""vlac's fp32, bf16 and int8 steps against onnxruntime fp32 and dynamic int8, in the same interleaved rounds
(not a fixture generator; prints timings and errors). A sibling of bench_onnxruntime.py that imports its torch
modules (the policy network after the backbone, Backbone, Step), its ONNX export and its onnxruntime timer, so
both scripts time exactly the same exported networks; that script keeps its one-policy command line and output.

    .venv/bin/python Tests/Reference/bench_precision.py --vision DIR [--threads 1 2] [--runs 10] [--rounds 3]
        [--parts backbone step] [--quant pc-s8 pt-s8] [--quant-ops MatMul Gemm]
        [--vlac .build/release/vlac --policy fp32=P32.vla --policy bf16=P16.vla --policy int8=P8.vla
         [--shared DIR] [--steps 8] [--vlac-kernels avx2]] [--peak .build/release/vlac-kernel-bench]
        [--paired N --vlart .build/release/libvlart.so] [--emulate-cpu avx2] [--json OUT.json]

--vision is a Hugging Face DINOv2 directory (the full-size reference's vision-encoder/). Without --vlac only the
onnxruntime side runs. Each --policy is LABEL=PATH (a compiled policy; its shared blobs are found next to it as
`vlac bench` finds them, or in --shared); the labels fp32, bf16 and int8 are the ones the final ratios use.
Only `vlac bench POLICY --json --threads N --steps S [--kernels SET]` and `vlac dump POLICY --json` are run;
--vlac-kernels SET passes `--kernels SET` (avx2: what an AVX2-only CPU would run; avx-vnni: what an Alder Lake or
later client core would run; both timed on this one; onnxruntime keeps every instruction set this CPU has, so its
figures are not such a CPU's). --emulate-cpu avx2 instead makes every engine choose its code for a CPU with AVX2 +
FMA and nothing newer: the script builds Tests/Reference/cpuid_avx2_only.c (a preload library that turns on the
kernel's CPUID faulting and answers `cpuid` with the AVX-512, VNNI, AVX-VNNI, BF16 and AMX bits cleared) and runs
itself again with it in LD_PRELOAD, which vlac, vlac-kernel-bench and the paired libvlart inherit. onnxruntime's
MLAS then runs its AVX2 kernels (its int8 products `vpmaddubsw`, which saturates, so its int8 error grows), vlac
its path 1, OpenBLAS and numpy theirs; the peak is the AVX2 FMA peak. The timings are this CPU's core running
AVX2 code, not an AVX2-only CPU's microarchitecture; it needs CPUID faulting (`cpuid_fault` in /proc/cpuinfo).

What it prints, in order:
  - cpu: /proc/cpuinfo's model name, the usable cores, and for each instruction set that matters here (avx2,
    fma, avx512f, avx512bw, avx512_vnni, avx_vnni, avx512_bf16, amx_bf16/amx_int8/amx_tile) whether the kernel
    reports it; with --emulate-cpu, what a library asking `cpuid` in this process sees (numpy's detection; the
    script stops if AVX-512 is still visible); the onnxruntime, torch and numpy versions; the load average before and after; and the OpenBLAS
    kernel set vlac's fp32 linears get (openblas_get_corename of the libopenblas `ldd vlac` names, with
    OPENBLAS_CORETYPE as inherited: the script never sets it). OpenBLAS 0.3.21 does not know recent Xeons (family
    6, model 207 here) and falls back to its SSE3 "Prescott" kernels; vlac then calls OpenBLAS for nothing (its
    constant-weight products run its own packed kernels anyway, and it trusts OpenBLAS only with FMA kernel
    families: `Gemm.openBLASIsFast`, Docs/Interpreter.md), so the line is informative.
  - quantization: for each int8 variant of each part, onnxruntime.quantization.quantize_dynamic(per_channel,
    weight_type, op_types_to_quantize=--quant-ops) and what it did: the fp32 graph's MatMul / Gemm / Conv counts
    (MatMul: how many have a constant weight B), the quantized graph's counts of the same ops left in float and of
    MatMulInteger / ConvInteger / DynamicQuantizeLinear, and the kernels onnxruntime's CPU graph optimizer turns
    them into (e.g. DynamicQuantizeMatMul, MatMulIntegerToFloat), and the file sizes. Dynamic mode first rewrites
    every Gemm as MatMul + Add and quantizes only MatMuls whose B is a constant (MatMulConstBOnly), so with the
    default --quant-ops the 72 linears of DINOv2-base (and the policy network's) become int8 and attention's
    Q.K^T and P.V, the patch-embedding Conv, LayerNorm, softmax and GELU stay fp32, as in vlac's linear_i8. Variants: pc-s8 = per-channel
    QInt8 weights (the reference int8), pt-s8 = per-tensor QInt8, pc-u8 / pt-u8 = QUInt8 weights. Activations
    are always dynamic per-tensor uint8 (DynamicQuantizeLinear), as onnxruntime's dynamic mode does.
  - errors (one input: a seeded N(0, 1) 1 x 3 x 224 x 224 tensor, i.e. an already normalized image): for each
    int8 variant against onnxruntime fp32 on the same input, the relative L2 error ||y - y_ref|| / ||y_ref|| and
    the max |y - y_ref| of the backbone's last_hidden_state (all 257 tokens), of its 256 patch tokens (what the
    policy reads), of the CLS token, and of the step's 4 x 7 raw action output; plus onnxruntime fp32 against
    torch eager fp32 as the floor of the comparison.
  - vlac deviation: for each policy, every value under a key containing "deviation" (any case, any depth) in
    `vlac dump --json` and in `vlac bench --json`; "not available" when the files and vlac report none (nothing
    is computed here for vlac's precisions).
  - rounds: every measured figure per round and its median over rounds. onnxruntime: median ms of --runs timed
    runs after 3 warm-up runs of a fresh session (intra-op threads = N, inter-op 1), for each part and variant.
    vlac (`vlac bench --json`, --steps timed steps): "step program" = programMsP50 (the per-step network alone,
    the figure compared with onnxruntime's step), "step" = stepMsP50 (+ image and action contracts), "backbone"
    and "policy" = the profiled time of the step program's calls into the backbone blob's `backbone` and
    `policy-tail` programs, "GFLOP/s" = programGFLOPPerSecond. peak: `vlac-kernel-bench peak --threads N`,
    the fp32 FMA peak in GFLOP/s measured in that round (it drops when other work takes the cores). "best" is
    the fastest round (the highest GFLOP/s): on a shared machine the closest to what an idle core gives.
  - final table, for each thread count: medians (ms) of every engine/precision, and same-run ratios written
    "x faster" = time_other / time_vlac (or time_fp32 / time_int8 within one engine), each the median of the
    per-round ratios (so both figures of a ratio were measured under the same load):
      vlac int8 vs ORT int8     = ORT pc-s8 step / vlac int8 step program
      vlac int8 vs vlac fp32    = vlac fp32 step program / vlac int8 step program
      vlac bf16 vs vlac fp32    = vlac fp32 step program / vlac bf16 step program
      vlac fp32 vs ORT fp32     = ORT fp32 step / vlac fp32 step program
      policy part               = ORT fp32 policy network / vlac fp32 "policy" (with --parts policy)
      ORT int8 vs ORT fp32      = ORT fp32 / ORT int8 (each variant, backbone and step)
    and vlac fp32's share of the peak measured in the same round.
  - paired (--paired N, with --vlart LIB: libvlart.so, and the repository's python/vlart package): the rounds
    above put tens of seconds between an onnxruntime figure and the vlac figure it is divided by, and on a shared
    machine the speed of a core changes faster than that. Here both run in this process, step by step: for each
    thread count, onnxruntime sessions of the step (pc-s8 and fp32; intra-op threads N, inter-op 1, and
    session.intra_op.allow_spinning = 0: otherwise its idle intra-op threads keep spinning on the cores that vlac's
    step then needs in this process; with 2 threads that took vlac's step from 32-33 to 46-50 ms while onnxruntime's
    own time moved by 1-2 ms, Docs/Benchmarks.md) and vlart
    sessions of the int8, bf16 and fp32 policies (N kernel threads); then N pairs per comparison, each one
    onnxruntime run and one vlac step (`Session.step` on a frame of the network's size: the whole step, image and
    action contracts included) timed back to back, 10 ms apart, the order alternating from pair to pair. Printed:
    the median of each side and the median of the per-pair ratios (onnxruntime / vlac, "x faster"), with the
    25th and 75th percentiles of those ratios; written under "paired" in --json.
--json OUT writes all of it (cpu, versions, quantization, errors, deviations, per-round figures, medians, ratios).
"""
import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_onnxruntime as bo  # noqa: E402  (PolicyTail, Backbone, Step, export, time_session)

ISA_FLAGS = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
             "amx_bf16", "amx_int8", "amx_tile"]
QUANT_VARIANTS = {"pc-s8": (True, "QInt8"), "pt-s8": (False, "QInt8"), "pc-u8": (True, "QUInt8"),
                  "pt-u8": (False, "QUInt8")}


def cpu_info():
    model, flags = "?", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model == "?":
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"model": model, "cores": cores, "isa": {f: f in flags for f in ISA_FLAGS}}


def openblas_core(vlac):
    """The kernel set OpenBLAS picks for vlac's process (OPENBLAS_CORETYPE as inherited, never changed here): the
    libopenblas that `ldd vlac` names, asked in a child process (openblas_get_corename)."""
    lib = "libopenblas.so.0"
    if vlac:
        try:
            for line in subprocess.run(["ldd", vlac], capture_output=True, text=True).stdout.splitlines():
                if "openblas" in line and "=>" in line:
                    lib = line.split("=>")[1].split("(")[0].strip() or lib
        except OSError:
            pass
    code = ("import ctypes, sys; f = ctypes.CDLL(sys.argv[1]).openblas_get_corename; f.restype = ctypes.c_char_p; "
            "print(f().decode())")
    p = subprocess.run([sys.executable, "-c", code, lib], capture_output=True, text=True,
                       env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    return {"library": lib, "core": p.stdout.strip() if p.returncode == 0 else None}


def loadavg():
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return None


def op_counts(model):
    counts = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return counts


def quantize(src, dst, per_channel, weight_type, ops):
    import logging
    from onnxruntime.quantization import QuantType, quantize_dynamic
    logging.getLogger().setLevel(logging.ERROR)  # "consider pre-processing": the graph is exported as is on purpose
    quantize_dynamic(src, dst, per_channel=per_channel, weight_type=getattr(QuantType, weight_type),
                     op_types_to_quantize=ops)


def quant_report(fp32_path, q_path):
    """What quantize_dynamic changed, and the kernels onnxruntime's CPU optimizer runs for the result."""
    m = onnx.load(fp32_path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    before = op_counts(m)
    const_b = sum(1 for n in m.graph.node if n.op_type == "MatMul" and n.input[1] in inits)
    q = onnx.load(q_path, load_external_data=False)
    after = op_counts(q)
    keep = ("MatMul", "Gemm", "Conv", "MatMulInteger", "ConvInteger", "DynamicQuantizeLinear")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3  # the "hardware specific optimizations" warning of saving the optimized graph
    with tempfile.TemporaryDirectory() as tmp:
        opts.optimized_model_filepath = os.path.join(tmp, "optimized.onnx")
        ort.InferenceSession(q_path, opts, providers=["CPUExecutionProvider"])
        optimized = op_counts(onnx.load(opts.optimized_model_filepath, load_external_data=False))
    interesting = {k: v for k, v in optimized.items()
                   if "Integer" in k or "Quant" in k or k in ("MatMul", "Gemm", "Conv", "FusedMatMul", "FusedGemm")}
    return {"fp32": {k: before.get(k, 0) for k in ("MatMul", "Gemm", "Conv")}, "fp32 MatMul with constant B": const_b,
            "int8": {k: after.get(k, 0) for k in keep}, "optimized (ORT CPU)": interesting,
            "bytes": {"fp32": os.path.getsize(fp32_path), "int8": os.path.getsize(q_path)}}


def run_session(path, feed_array, threads=1):
    return bo.session(path, threads).run(None, {"x": feed_array})[0]


def vlac_test_frame():
    """vlac's fixed test frame (VLACompiler `Compiler.testFrame()`): a deterministic uint8 pattern, /255, ImageNet
    mean and std, f32 [224, 224, 3]."""
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    out = np.zeros((224, 224, 3), np.float32)
    s = 0x12345678
    for y in range(224):
        for x in range(224):
            for c in range(3):
                s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
                v = ((x * 3 + y * 2 + c * 60) % 256 + (s >> 28)) % 256
                out[y, x, c] = (np.float32(v) / np.float32(255) - mean[c]) / std[c]
    return out


def errors(y, ref):
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    return {"rel_l2": float(np.linalg.norm(y - ref) / np.linalg.norm(ref)), "max_abs": float(np.max(np.abs(y - ref))),
            "ref_max_abs": float(np.max(np.abs(ref)))}


def find_deviation(obj, path=""):
    """(path, value) for every key containing 'deviation' (any case, any depth)."""
    found = []
    if isinstance(obj, dict) and isinstance(obj.get("key"), str) and "deviation" in obj["key"].lower():
        # A provenance option of `vlac dump --json`: {"key": "deviation.backbone.rel_l2", "value": "0.0148"}.
        return [(f"{path}.{obj['key']}" if path else obj["key"], obj.get("value"))]
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{path}.{k}" if path else k
            if "deviation" in k.lower():
                found.append((p, v))
            found += find_deviation(v, p)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += find_deviation(v, f"{path}[{i}]")
    return found


def vlac_json(a, sub, policy, *extra):
    cmd = [a.vlac, sub, policy, "--json", *extra]
    if sub == "bench":
        for s in a.shared or []:
            cmd += ["--shared", s]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout)


def vlac_bench(a, policy, threads):
    extra = ["--kernels", a.vlac_kernels] if a.vlac_kernels != "best" else []
    j = vlac_json(a, "bench", policy, "--threads", str(threads), "--steps", str(a.steps), *extra)
    parts = {p["name"]: p["milliseconds"] for p in j.get("parts", [])}
    out = {"step program": j["programMsP50"], "step": j["stepMsP50"], "GFLOP/s": j["programGFLOPPerSecond"]}
    if "backbone" in parts:
        out["backbone"] = parts["backbone"]
    for name in ("policy-tail", "policy"):  # 1.1 policies call "policy-tail"; --embed-shared ones use "policy/" ops
        if name in parts:
            out["policy"] = parts[name]
            break
    return out, j


EMULATED_ENV = "VLAC_BENCH_EMULATED_CPU"  # set in the re-executed process: "avx2 DIR" (DIR holds the preload library)


def emulate_cpu(kind):
    """--emulate-cpu avx2: build Tests/Reference/cpuid_avx2_only.c into a temporary folder and run this script again
    with it preloaded (LD_PRELOAD, inherited by vlac and vlac-kernel-bench), so that onnxruntime's MLAS, numpy,
    OpenBLAS and vlac's kernels all choose their code for a CPU with AVX2 + FMA and nothing newer. Returns in the
    re-executed process (after arranging the folder's removal); never returns in the first one."""
    here = os.environ.get(EMULATED_ENV, "")
    if here.split(" ")[0] == kind:
        folder = here.partition(" ")[2]
        # Remove only the folder of the library this process runs under (never one an outer environment named).
        if os.environ.get("LD_PRELOAD", "").split(":")[0] == os.path.join(folder, "cpuid_avx2_only.so"):
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
        return
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpuid_avx2_only.c")
    folder = tempfile.mkdtemp(prefix="bench_cpuid_")
    lib = os.path.join(folder, "cpuid_avx2_only.so")
    preload = ":".join(x for x in (lib, os.environ.get("LD_PRELOAD")) if x)
    env = dict(os.environ, LD_PRELOAD=preload, **{EMULATED_ENV: f"{kind} {folder}"})
    try:
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC", "-o", lib, src], check=True)
        # The library exits a process with status 3 where the CPU or kernel has no CPUID faulting.
        probe = subprocess.run(["true"], env=env, capture_output=True, text=True)
        if probe.returncode != 0:
            raise RuntimeError(probe.stderr.strip() or f"a test process under it exited with {probe.returncode}")
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)
    except (OSError, subprocess.CalledProcessError, RuntimeError) as e:
        shutil.rmtree(folder, ignore_errors=True)
        sys.exit(f"--emulate-cpu {kind}: {src} (built with $CC or cc) cannot mask cpuid here: {e}")


def seen_features():
    """What a library asking `cpuid` in this process gets (numpy's runtime detection), for the instruction sets
    that choose kernels here; under --emulate-cpu these differ from /proc/cpuinfo's flags."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as f
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as f  # numpy 1.x
        except ImportError:
            return {}
    return {k: bool(f.get(k)) for k in ("AVX2", "FMA3", "AVX512F", "AVX512BW", "AVX512VNNI", "AVX512_SPR")}


def fmt_isa(isa):
    return " ".join(f"{k}{'+' if v else '-'}" for k, v in isa.items())


def paired(a, models, policies):
    """vlac steps and onnxruntime runs timed back to back in this process (--paired): per thread count and
    comparison, the medians of both sides and of the per-pair ratios, with their quartiles."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import vlart

    vlart.load_library(a.vlart)
    comparisons = [(v, label) for v, label in (("pc-s8", "int8"), ("fp32", "fp32"), ("fp32", "bf16"))
                   if ("step", v) in models and label in policies]
    out = {}
    print(f"paired: {a.paired} back-to-back pairs per comparison (onnxruntime run without its threads' spin-wait, "
          f"vlac step incl. contracts)")
    for t in a.threads:
        sessions = {}
        for v in sorted({v for v, _ in comparisons}):
            path, example = models[("step", v)]
            sessions[v] = (bo.session(path, t, spinning=False), {"x": example.numpy()})
        vlac = {}
        for _, label in comparisons:
            policy = vlart.Policy(policies[label], shared=a.shared or [])
            session = vlart.Session(policy, threads=t)
            info = policy.info
            frame = np.random.default_rng(0).integers(0, 256, (info.image_height, info.image_width, 3), dtype=np.uint8)
            if info.has_reset:
                session.reset(frame)
            vlac[label] = (policy, session, frame)
        for v, label in comparisons:
            o_sess, feed = sessions[v]
            _, session, frame = vlac[label]
            for _ in range(3):
                o_sess.run(None, feed)
                session.step(frame)
            ort_ms, vlac_ms = [], []
            for i in range(a.paired):
                for first in ((0, 1) if i % 2 == 0 else (1, 0)):
                    time.sleep(0.01)
                    start = time.perf_counter()
                    if first == 0:
                        o_sess.run(None, feed)
                    else:
                        session.step(frame)
                    (ort_ms if first == 0 else vlac_ms).append((time.perf_counter() - start) * 1e3)
            ratios = sorted(o / w for o, w in zip(ort_ms, vlac_ms))
            q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
            entry = {"onnxruntime ms": statistics.median(ort_ms), "vlac ms": statistics.median(vlac_ms),
                     "ratio median": statistics.median(ratios), "ratio quartiles": [q[0], q[2]],
                     "onnxruntime ms values": ort_ms, "vlac ms values": vlac_ms}
            out[f"vlac {label} vs ORT {v}, threads {t}"] = entry
            print(f"  threads {t}: vlac {label} step {entry['vlac ms']:.2f} ms, ORT {v} step {entry['onnxruntime ms']:.2f} "
                  f"ms; per pair {entry['ratio median']:.2f}x faster (quartiles {q[0]:.2f}-{q[2]:.2f})", flush=True)
        for policy, session, _ in vlac.values():
            session.close()
            policy.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vision", required=True, help="Hugging Face DINOv2 directory (e.g. the full reference's vision-encoder)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=10, help="timed onnxruntime runs per measurement (after 3 warm-up)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds over everything")
    ap.add_argument("--parts", nargs="+", default=["backbone", "step"], choices=["backbone", "step", "policy"],
                    help="exported networks timed with onnxruntime (policy: the part after the backbone, fp32 only)")
    ap.add_argument("--quant", nargs="*", default=["pc-s8", "pt-s8"], choices=sorted(QUANT_VARIANTS),
                    help="onnxruntime dynamic int8 variants (pc/pt = per-channel/per-tensor, s8/u8 = QInt8/QUInt8 weights)")
    ap.add_argument("--quant-ops", nargs="+", default=["MatMul", "Gemm"],
                    help="op_types_to_quantize ('all': onnxruntime's default, which adds Conv etc.)")
    ap.add_argument("--vlac", help="the vlac executable")
    ap.add_argument("--policy", action="append", default=[], help="LABEL=PATH of a compiled policy (repeat: fp32=, bf16=, int8=)")
    ap.add_argument("--shared", action="append", help="shared-blob folder for the policies (repeatable; default: next to each)")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per `vlac bench` run")
    ap.add_argument("--vlac-kernels", default="best", choices=["best", "avx512", "avx512-bf16", "avx-vnni", "avx2", "portable"],
                    help="`vlac bench --kernels`: the instruction sets vlac's kernels use in the rounds (onnxruntime "
                         "keeps what this CPU has)")
    ap.add_argument("--peak", help="vlac-kernel-bench executable: measure the fp32 FMA peak every round")
    ap.add_argument("--paired", type=int, default=0, metavar="N",
                    help="after the rounds: N back-to-back pairs per comparison in this process (needs --vlart)")
    ap.add_argument("--vlart", help="libvlart.so for --paired (e.g. .build/release/libvlart.so)")
    ap.add_argument("--emulate-cpu", choices=["avx2"],
                    help="run everything (onnxruntime, vlac, the peak) as on a CPU with AVX2 + FMA and nothing newer: "
                         "cpuid answers masked by Tests/Reference/cpuid_avx2_only.c (needs CPUID faulting)")
    ap.add_argument("--json", dest="json_out", help="write every figure to this file")
    a = ap.parse_args()
    if a.paired and not (a.vlart and a.policy):
        ap.error("--paired needs --vlart and --policy")
    if a.emulate_cpu and a.vlac_kernels != "best":
        ap.error("--emulate-cpu already limits vlac's kernels; leave --vlac-kernels at best")
    if a.paired and a.vlac_kernels != "best":
        ap.error("--paired runs vlac through libvlart with the best kernels; --vlac-kernels applies to the rounds only")
    quant_ops = None if a.quant_ops == ["all"] else a.quant_ops
    policies = {}
    for p in a.policy:
        label, sep, path = p.partition("=")
        if not sep:
            label, path = "fp32", p
        policies[label] = path
    if policies and not a.vlac:
        ap.error("--policy needs --vlac")
    if a.emulate_cpu:
        emulate_cpu(a.emulate_cpu)  # runs this script again under the library; returns only in that run

    report = {"cpu": cpu_info(), "versions": {"onnxruntime": ort.__version__, "torch": torch.__version__,
                                              "numpy": np.__version__},
              "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"), "openblas": openblas_core(a.vlac),
              "loadavg_start": loadavg(), "emulated cpu": a.emulate_cpu, "features seen": seen_features(),
              "settings": {k: v for k, v in vars(a).items() if k != "json_out"}}
    c = report["cpu"]
    print(f"cpu: {c['model']}, {c['cores']} usable cores; {fmt_isa(c['isa'])}")
    if a.emulate_cpu:
        seen = report["features seen"]
        print(f"emulated: a CPU with {a.emulate_cpu} and nothing newer (cpuid masked; every library here and every "
              f"vlac process asks it); numpy's detection sees {fmt_isa(seen)}")
        if not seen:
            print("  (this numpy cannot say what it detects; vlac bench's kernel levels in the JSON still show it)")
        elif seen.get("AVX512F") or not seen.get("AVX2"):
            sys.exit("--emulate-cpu: the masking did not take effect (see numpy's detection above)")
    print(f"onnxruntime {ort.__version__}, torch {torch.__version__}, numpy {np.__version__}; "
          f"load average {report['loadavg_start']}")
    ob = report["openblas"]
    print(f"OpenBLAS for vlac's fp32 linears: {ob['library']}, core {ob['core']} "
          f"(OPENBLAS_CORETYPE={report['OPENBLAS_CORETYPE']}, inherited, not changed here)")
    if ob["core"] and ob["core"].lower() in ("prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "generic"):
        print(f"  note: OpenBLAS does not know this CPU and would run its {ob['core']} (SSE) kernels; vlac does not call "
              "OpenBLAS then (its own kernels take every product)")

    # Export fp32 (the same modules and exporter as bench_onnxruntime.py), then quantize.
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix="bench_precision_")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # the exported models: about 1 GB
    from transformers import Dinov2Model
    bb = bo.Backbone(Dinov2Model.from_pretrained(a.vision).eval())
    hidden = bb.model.config.hidden_size  # 768 for DINOv2-base; other sizes only for quick checks of the script
    tail = bo.PolicyTail(image_dim=hidden).eval()
    px = torch.randn(1, 3, 224, 224)
    patches = torch.randn(1, 256, hidden)
    nets = {"backbone": (bb, px), "step": (bo.Step(bb, tail).eval(), px), "policy": (tail, patches)}
    need = sorted(set(a.parts) | {"backbone", "step"})  # errors always use backbone and step
    models = {}  # (part, variant) -> (path, example)
    t0 = time.time()
    for part in need:
        module, example = nets[part]
        path = os.path.join(tmp, f"{part}-fp32.onnx")
        bo.export(module, example, path)
        models[(part, "fp32")] = (path, example)
    print(f"exported {', '.join(need)} (opset 17, fp32) in {time.time() - t0:.1f} s")
    report["quantization"] = {}
    for part in ("backbone", "step"):
        for v in a.quant:
            per_channel, wtype = QUANT_VARIANTS[v]
            path = os.path.join(tmp, f"{part}-{v}.onnx")
            quantize(models[(part, "fp32")][0], path, per_channel, wtype, quant_ops)
            models[(part, v)] = (path, models[(part, "fp32")][1])
            q = quant_report(models[(part, "fp32")][0], path)
            q.update(per_channel=per_channel, weight_type=wtype, op_types_to_quantize=quant_ops or "all supported")
            report["quantization"][f"{part} {v}"] = q
            print(f"quantize_dynamic {part} {v} (per_channel={per_channel}, {wtype}, ops {quant_ops or 'all'}): "
                  f"fp32 {q['fp32']} ({q['fp32 MatMul with constant B']} MatMul with constant B) -> int8 {q['int8']}; "
                  f"ORT CPU runs {q['optimized (ORT CPU)']}; {q['bytes']['fp32'] / 1e6:.1f} -> {q['bytes']['int8'] / 1e6:.1f} MB")

    # Errors against the fp32 result of the same engine, one input.
    with torch.no_grad():
        torch_bb = bb(px).numpy()
    x = px.numpy()
    ref = {part: run_session(models[(part, "fp32")][0], x) for part in ("backbone", "step")}
    report["errors"] = {"ORT fp32 vs torch fp32": {"last_hidden_state": errors(ref["backbone"], torch_bb)}}
    for v in a.quant:
        yb, ys = run_session(models[("backbone", v)][0], x), run_session(models[("step", v)][0], x)
        report["errors"][f"ORT {v} vs ORT fp32"] = {
            "last_hidden_state": errors(yb, ref["backbone"]), "patch tokens": errors(yb[:, 1:], ref["backbone"][:, 1:]),
            "CLS": errors(yb[:, 0], ref["backbone"][:, 0]), "step actions": errors(ys, ref["step"])}
    # The same figure on vlac's fixed test frame, which `vlac compile --precision` measures its own backbone on
    # (the manifest's precision.backbone.testFrame: relative L2 of the patch tokens), so the two compare directly.
    tf = vlac_test_frame().transpose(2, 0, 1)[None].copy()
    ref_tf = run_session(models[("backbone", "fp32")][0], tf)
    for v in a.quant:
        y_tf = run_session(models[("backbone", v)][0], tf)
        report["errors"][f"ORT {v} vs ORT fp32 (vlac test frame)"] = {"patch tokens": errors(y_tf[:, 1:], ref_tf[:, 1:])}
    print("errors (one seeded N(0,1) 224 x 224 input, and vlac's test frame where named): relative L2 / max abs (reference max abs)")
    for who, e in report["errors"].items():
        print(f"  {who:24s} " + "; ".join(f"{k} {x['rel_l2']:.3e} / {x['max_abs']:.3e} ({x['ref_max_abs']:.3g})"
                                          for k, x in e.items()))

    # vlac's own deviation figures (never computed here).
    report["vlac deviation"] = {}
    for label, path in policies.items():
        try:
            found = [("dump." + p, v) for p, v in find_deviation(vlac_json(a, "dump", path))]
        except (RuntimeError, json.JSONDecodeError) as e:
            found = []
            print(f"vlac {label}: vlac dump --json failed: {e}")
        # The manifest next to the policy: the backbone's figures and this policy's entry.
        manifest = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(path))), "manifest.json")
        if os.path.exists(manifest):
            with open(manifest) as f:
                m = json.load(f)
            if "precision" in m:
                found.append(("manifest.precision.backbone", m["precision"].get("backbone")))
            for entry in m.get("policies", []):
                if os.path.basename(entry.get("file", "")) == os.path.basename(path) and "deviation" in entry:
                    found.append(("manifest.policy.deviation", entry["deviation"]))
        report["vlac deviation"][label] = dict(found)

    # Interleaved rounds.
    results = {}  # (engine, variant, part, threads) -> {round: value}
    failed = {}

    def put(key, r, value):
        results.setdefault(key, {})[r] = value

    for r in range(a.rounds):
        for t in a.threads:
            for (part, variant), (path, example) in models.items():
                if part in a.parts and (variant == "fp32" or part != "policy"):
                    put(("ORT", variant, part, t), r, bo.time_session(path, example, t, a.runs))
            for label, path in policies.items():
                if label in failed:
                    continue
                try:
                    figures, raw = vlac_bench(a, path, t)
                except (RuntimeError, json.JSONDecodeError, KeyError) as e:
                    failed[label] = str(e)
                    print(f"vlac {label}: {e}; dropped from the following rounds")
                    continue
                for k, value in figures.items():
                    put(("vlac", label, k, t), r, value)
                for p, value in find_deviation(raw):
                    report["vlac deviation"].setdefault(label, {})["bench." + p] = value
            if a.peak:
                out = subprocess.run([a.peak, "peak", "--threads", str(t)], capture_output=True, text=True, check=True).stdout
                put(("peak", "fp32 FMA", "GFLOP/s", t), r, float(out.split(":")[-1].split()[0]))
        print(f"round {r + 1}/{a.rounds} done ({time.time() - t0:.0f} s since start, load {loadavg()})", flush=True)
    report["loadavg_end"] = loadavg()

    for label in policies:
        dev = report["vlac deviation"].get(label) or {}
        if dev:
            for p, v in dev.items():
                print(f"vlac {label} deviation: {p} = {json.dumps(v)}")
        else:
            print(f"vlac {label} deviation: not available (no key containing 'deviation' in `vlac dump --json` or `vlac bench --json`)")

    if a.paired:
        report["paired"] = paired(a, models, policies)

    med = {k: statistics.median(v.values()) for k, v in results.items()}
    print(f"rounds (ms unless stated; medians of {a.rounds} rounds; load average at the end {report['loadavg_end']}):")
    for key in sorted(results):
        engine, variant, part, t = key
        vals = results[key]
        best = (max if part == "GFLOP/s" else min)(vals.values())
        print(f"  {engine:4s} {variant:5s} {part:12s} threads {t}: median {med[key]:9.3f}  best {best:9.3f}  "
              f"(rounds: {', '.join(f'{vals[i]:.3f}' for i in sorted(vals))})")

    def ratio(num, den):
        """Median over rounds of results[num] / results[den] (rounds where both exist), and the per-round list."""
        if num not in results or den not in results:
            return None
        rs = [results[num][i] / results[den][i] for i in sorted(results[num]) if i in results[den] and results[den][i] > 0]
        return (statistics.median(rs), rs) if rs else None

    main_q = "pc-s8" if "pc-s8" in a.quant else (a.quant[0] if a.quant else None)
    report["ratios"] = {}
    print("final table (medians; ratios are medians of same-round ratios, 'x faster' = time_other / time_vlac):")
    for t in a.threads:
        print(f"  threads {t}:")
        for key in sorted(k for k in med if k[3] == t):
            engine, variant, part, _ = key
            unit = "GFLOP/s" if part == "GFLOP/s" else "ms"
            print(f"    {engine} {variant} {part}: {med[key]:.2f} {unit}")
        rows = []
        if main_q:
            rows.append((f"vlac int8 vs ORT int8 ({main_q})", ("ORT", main_q, "step", t), ("vlac", "int8", "step program", t)))
        rows += [("vlac int8 vs vlac fp32", ("vlac", "fp32", "step program", t), ("vlac", "int8", "step program", t)),
                 ("vlac bf16 vs vlac fp32", ("vlac", "fp32", "step program", t), ("vlac", "bf16", "step program", t)),
                 ("vlac fp32 vs ORT fp32", ("ORT", "fp32", "step", t), ("vlac", "fp32", "step program", t))]
        for label in ("int8", "bf16", "fp32"):
            rows.append((f"backbone: vlac {label} vs ORT {'fp32' if label != 'int8' else main_q}",
                         ("ORT", "fp32" if label != "int8" else main_q, "backbone", t), ("vlac", label, "backbone", t)))
        rows.append(("policy part: vlac fp32 vs ORT fp32", ("ORT", "fp32", "policy", t), ("vlac", "fp32", "policy", t)))
        for v in a.quant:
            for part in ("backbone", "step"):
                rows.append((f"ORT {v} vs ORT fp32 ({part})", ("ORT", "fp32", part, t), ("ORT", v, part, t)))
        for name, num, den in rows:
            rr = ratio(num, den)
            if rr is None:
                continue
            report["ratios"][f"{name}, threads {t}"] = {"median": rr[0], "rounds": rr[1]}
            print(f"    {name}: {rr[0]:.2f}x faster  (rounds: {', '.join(f'{x:.2f}' for x in rr[1])})")
        share = ratio(("vlac", "fp32", "GFLOP/s", t), ("peak", "fp32 FMA", "GFLOP/s", t))
        if share:
            report["ratios"][f"vlac fp32 share of peak, threads {t}"] = {"median": share[0], "rounds": share[1]}
            print(f"    vlac fp32 step program at {100 * share[0]:.0f} % of the fp32 FMA peak measured in the same round "
                  f"(rounds: {', '.join(f'{100 * x:.0f}' for x in share[1])} %)")
    for label, why in failed.items():
        print(f"vlac {label}: failed: {why}")

    if a.json_out:
        report["rounds"] = [{"engine": k[0], "variant": k[1], "part": k[2], "threads": k[3],
                             "values": [results[k][i] for i in sorted(results[k])], "median": med[k]} for k in sorted(results)]
        report["vlac failures"] = failed
        with open(a.json_out, "w") as f:
            json.dump(report, f, indent=1, default=str)
            f.write("\n")
        print(f"wrote {a.json_out}")


if __name__ == "__main__":
    main()
