#!/usr/bin/env python3
"""Writes Sources/VLATokenizer/BertUnicodeTables.swift: the character classes that the `tokenizers`
library's BERT components use, measured by asking `tokenizers` itself about every Unicode scalar.

`tokenizers` takes these classes from the `unicode_categories` crate, whose tables are older than the
Unicode data Swift ships, so Swift's own general categories disagree on some characters (newer
characters, and characters whose category changed, e.g. U+1734 was Mn and is Mc today). Probing the
library gives the exact sets:
  control      BertNormalizer(clean_text=True) removes the character
  punctuation  BertPreTokenizer splits "a<c>a" into three pieces with <c> alone in the middle
  mark         BertNormalizer(strip_accents=True) removes the character (only characters equal to their NFD)
"""
import os
import unicodedata

import tokenizers
from tokenizers import normalizers, pre_tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "Sources", "VLATokenizer", "BertUnicodeTables.swift")


def ranges(points):
    out = []
    for p in points:
        if out and out[-1][1] == p - 1:
            out[-1][1] = p
        else:
            out.append([p, p])
    return out


def swift_array(name, doc, rs):
    lines = [f"    /// {doc}", f"    static let {name}: [UInt32] = ["]
    items = [f"0x{a:X}, 0x{b:X}" for a, b in rs]
    row = "       "
    for it in items:
        if len(row) + len(it) + 2 > 116:
            lines.append(row.rstrip())
            row = "       "
        row += " " + it + ","
    lines.append(row.rstrip())
    lines.append("    ]")
    return "\n".join(lines)


def main():
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    pre = pre_tokenizers.BertPreTokenizer()
    control, punct, mark = [], [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if cp not in (0, 0xFFFD) and clean.normalize_str(c) == "":
            control.append(cp)
        if unicodedata.normalize("NFD", c) == c and strip.normalize_str(c) == "":
            mark.append(cp)
        p = pre.pre_tokenize_str("a" + c + "a")
        if len(p) == 3 and p[1][0] == c:
            punct.append(cp)
    body = [
        "// DO NOT EDIT.",
        "// swift-format-ignore-file",
        f"// Source: Tests/Reference/gen_bert_unicode_tables.py, probing tokenizers {tokenizers.__version__}.",
        "",
        "/// The character classes of `tokenizers`' BertNormalizer and BertPreTokenizer, as sorted inclusive",
        "/// ranges (lower, upper, lower, upper, ...).",
        "enum BertUnicodeTables {",
        swift_array("control", "Removed by `clean_text` (besides NUL and U+FFFD).", ranges(control)),
        "",
        swift_array("punctuation", "Split off by BertPreTokenizer.", ranges(punct)),
        "",
        swift_array("nonspacingMark", "Removed by `strip_accents` after NFD.", ranges(mark)),
        "}",
        "",
    ]
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(body))
    print(f"{os.path.relpath(OUT, ROOT)}: {len(ranges(control))} control, {len(ranges(punct))} punctuation, "
          f"{len(ranges(mark))} mark ranges")


if __name__ == "__main__":
    main()
