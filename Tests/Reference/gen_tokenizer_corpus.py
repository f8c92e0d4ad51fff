#!/usr/bin/env python3
"""Writes the tokenizer test corpus (Tests/Fixtures/VLATokenizer/corpus.txt) and the training corpus
(Tests/Reference/tokenizer_training_corpus.txt). Deterministic: a fixed seed, no third-party packages.

Corpus file format: UTF-8, one record per line, lines end with LF. Inside a record a backslash is written
as two backslashes, LF as backslash-n and CR as backslash-r; nothing else is escaped. So a record may hold
any Unicode scalar except that those three are written escaped (tabs, other controls and the Unicode line
separators are stored raw).
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(ROOT, "Tests", "Fixtures", "VLATokenizer", "corpus.txt")
TRAINING = os.path.join(HERE, "tokenizer_training_corpus.txt")

COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "black", "white", "pink", "brown",
           "grey", "silver", "golden", "light blue", "dark green", "striped", "transparent"]
OBJECTS = ["block", "cube", "bowl", "cup", "mug", "plate", "sponge", "spoon", "fork", "knife", "can",
           "bottle", "apple", "banana", "carrot", "eggplant", "towel", "marker", "book", "box", "lid",
           "pot", "pan", "drawer handle", "coke can", "pepsi can", "7up can", "rxbar", "chip bag",
           "alphabet soup", "cream cheese", "ketchup", "tomato sauce", "butter", "milk", "orange juice",
           "black bowl", "wine bottle", "moka pot", "basket", "tray", "cloth", "toy", "ball"]
PLACES = ["the table", "the drawer", "the top drawer", "the middle drawer", "the bottom drawer",
          "the sink", "the microwave", "the cabinet", "the shelf", "the basket", "the tray", "the plate",
          "the bowl", "the stove", "the counter", "the left side", "the right side", "the corner",
          "the box", "the wooden cabinet", "the caddy", "the top of the cabinet", "the dish rack"]
VERBS_PICK = ["pick up", "pick", "grab", "grasp", "lift", "take", "get"]
VERBS_PLACE = ["place", "put", "set", "drop", "leave", "move"]
PREPS = ["in", "into", "on", "onto", "on top of", "inside", "next to", "near", "behind", "in front of",
         "to the left of", "to the right of"]
OPEN_CLOSE = ["open", "close", "shut", "pull open", "push closed", "slide open"]
FURNITURE = ["drawer", "top drawer", "middle drawer", "bottom drawer", "microwave", "cabinet door",
             "fridge", "oven", "lid of the pot", "box", "jar", "laptop"]
ADVERBS = ["", "", "", "carefully ", "slowly ", "quickly ", "gently "]
POLITE = ["", "", "", "please ", "Please ", "can you ", "Could you ", "now ", "Robot, "]
ENDINGS = ["", "", "", ".", "!", " please", " now", " and then stop", "?", " ."]


def instruction(r: random.Random) -> str:
    c1, c2 = r.choice(COLOURS), r.choice(COLOURS)
    o1, o2 = r.choice(OBJECTS), r.choice(OBJECTS)
    place = r.choice(PLACES)
    kind = r.randrange(12)
    if kind == 0:
        s = f"{r.choice(VERBS_PICK)} the {c1} {o1}"
    elif kind == 1:
        s = f"{r.choice(VERBS_PICK)} the {c1} {o1} and {r.choice(VERBS_PLACE)} it {r.choice(PREPS)} {place}"
    elif kind == 2:
        s = f"{r.choice(VERBS_PLACE)} the {o1} {r.choice(PREPS)} the {c2} {o2}"
    elif kind == 3:
        s = f"{r.choice(OPEN_CLOSE)} the {r.choice(FURNITURE)}"
    elif kind == 4:
        s = f"push the {c1} {o1} {r.choice(['to the left', 'to the right', 'forward', 'away', 'towards the robot', 'off the table'])}"
    elif kind == 5:
        s = f"stack the {c1} {o1} on the {c2} {o2}"
    elif kind == 6:
        s = f"move the {o1} near the {o2}"
    elif kind == 7:
        s = f"put the {o1} in the {r.choice(['top', 'middle', 'bottom'])} drawer and close it"
    elif kind == 8:
        s = f"{r.choice(OPEN_CLOSE)} the {r.choice(FURNITURE)}, then {r.choice(VERBS_PLACE)} the {o1} {r.choice(PREPS)} it"
    elif kind == 9:
        s = f"turn {r.choice(['on', 'off'])} the {r.choice(['stove', 'faucet', 'light', 'microwave'])}"
    elif kind == 10:
        s = f"{r.choice(VERBS_PICK)} {r.randrange(1, 6)} {o1}s from {place} and put them {r.choice(PREPS)} the {o2}"
    else:
        s = f"knock the {o1} over" if r.random() < 0.5 else f"wipe {place} with the {c1} {r.choice(['sponge', 'towel', 'cloth'])}"
    words = s.split(" ")
    s = " ".join(words)
    s = r.choice(POLITE) + r.choice(ADVERBS) + s + r.choice(ENDINGS)
    style = r.randrange(10)
    if style == 0:
        s = s.upper()
    elif style == 1:
        s = s[:1].upper() + s[1:]
    elif style == 2:
        s = s.title()
    return s


# Hard cases: each fragment is mixed into instructions and also stands alone.
NFKC = ["ｐｉｃｋ ｕｐ ｔｈｅ ｒｅｄ ｂｌｏｃｋ", "ＡＢＣ１２３", "ﬁll the cup", "ﬂip the ﬀ lid", "ﬃ ﬄ ﬅ",
        "x² + y³ = z¹", "H₂O bottle", "① ② ③ ⑩", "㎏ ㎝ ㍉ ㌔", "Ⅻ o'clock", "ｶﾀｶﾅ ﾊﾝｶｸ", "™ © ®", "½ cup ¼ turn",
        "…", "‥", "ℌℑℜ", "𝐛𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐", "µ Ω Å K", "ǆ ǅ Ǆ", "ﷺ", "ﷻ", "ﾟ ﾞ", "　ideographic　space　",
        "no\u00a0break\u00a0space", "thin\u2009space\u202fnarrow", "ℓ ℮ №", "º ª", "ﹰ ﹱ ﻵ"]
ACCENTS = ["café", "cafe\u0301", "naïve", "nai\u0308ve", "Ångström", "A\u030angstro\u0308m", "Crème brûlée",
           "señor", "sen\u0303or", "Øre", "ḍ̇", "q\u0307\u0323", "e\u0301\u0301\u0301", "ǖ", "Ǖ", "Straße",
           "ΟΔΥΣΣΕΥΣ", "Ελληνικά", "Привет робот", "ÉCOLE", "a\u0300\u0316"]
CJK = ["把红色的方块放进碗里", "打开抽屉", "赤いブロックを拾ってください", "ひらがな カタカナ 漢字",
       "빨간 블록을 집어 그릇에 넣으세요", "한국어 텍스트", "機器人", "𠀋𡈽𡌛", "中文，标点。", "「引用」"]
EMOJI = ["🤖", "put the 🍎 in the 🥣", "👩‍👩‍👧‍👦", "👍🏽", "🏳️‍🌈", "🇫🇷🇯🇵", "❤️", "1️⃣", "🧑🏿‍🔬",
         "👁‍🗨", "😀😃😄", "🫠", "©️", "☕"]
RTL = ["ضع الكتلة الحمراء في الوعاء", "שים את הקובייה בקערה", "مرحبا 123 world", "\u202eevil\u202c",
       "\u200fRLM\u200e", "עברית ועוד", "فارسی: سلام"]
ZW = ["zero\u200bwidth", "z\u200cw\u200dj", "\ufeffbom start", "word\u2060joiner", "soft\u00adhyphen",
      "\u034fcgj", "a\u180eb", "\u200b\u200b\u200b", "x\ufe0fy", "line\u2028sep", "para\u2029sep"]
CONTROL = ["bell\x07char", "nul\x00char", "esc\x1b[31mred\x1b[0m", "del\x7fchar", "c1\x85nel", "\x01\x02\x03",
           "form\x0cfeed", "vertical\x0btab", "unit\x1fsep", "\x9f"]
WHITESPACE = ["tab\there", "\tleading tab", "trailing tab\t", "two\t\ttabs", "line\nbreak", "cr\rlf\r\n",
              "  leading spaces", "trailing spaces   ", "runs    of     spaces", " ", "    ", "\t \t",
              "\n", "a \n b", " \u3000 "]
VALID_ODD = ["\ufffd replacement", "\uffff\ufffe noncharacters", "\ufdd0\ufdef", "\U0010ffff", "\U000e0001tag",
             "\ue000 private", "\U000f0000", "\ud7ff", "\U0001d11e music", "<0x41> looks like a byte",
             "<unk> </s> <s> <pad>", "[CLS] [SEP] [UNK] [PAD] [MASK]", "##ing", "▁meta▁symbol", "\\x00 \\u0000",
             "a\\nb", "%C3%A9", "&amp; &lt;", "ÃƒÂ© mojibake", "\u0300 lone combining", "\u0345\u0345",
             "𝟘𝟙𝟚", "١٢٣ arabic digits", "०१२ devanagari", "ﬀ\u0301", "ﬁ\u0327", "Ⅻ\u0301", "①\u20dd"]
MIXED = ["robot-arm_v2.0", "3.14159", "1,000,000 mm", "10cm", "x=5;y=7", "e-mail: a@b.c", "C++ & C#",
         "(parens) [brackets] {braces}", "it's", "\"quoted\"", "‘curly’ “quotes”", "–—‒", "¿Qué?", "¡Hola!",
         "AVX-512", "f32/bf16", "k-means++", "ﬁnal ＢＬＯＣＫ ２", "user_sym", "<move>", "<grip>"]
HARD_GROUPS = [NFKC, ACCENTS, CJK, EMOJI, RTL, ZW, CONTROL, WHITESPACE, VALID_ODD, MIXED]
ALL_HARD = [f for g in HARD_GROUPS for f in g]


def hard_line(r: random.Random) -> str:
    kind = r.randrange(6)
    frag = r.choice(ALL_HARD)
    if kind == 0:
        return frag
    if kind == 1:
        return instruction(r) + " " + frag
    if kind == 2:
        return frag + " " + instruction(r)
    if kind == 3:
        words = instruction(r).split(" ")
        words.insert(r.randrange(len(words) + 1), frag)
        return " ".join(words)
    if kind == 4:
        return "".join(r.choice(ALL_HARD) for _ in range(r.randrange(2, 6)))
    sep = r.choice([" ", "  ", "\t", "\u3000", "", "\u00a0"])
    return sep.join(r.choice(ALL_HARD + [instruction(r)]) for _ in range(r.randrange(2, 5)))


def random_scalars(r: random.Random, n: int) -> str:
    # Valid scalars from all planes, never surrogates.
    out = []
    for _ in range(n):
        plane = r.random()
        if plane < 0.5:
            cp = r.randrange(0x20, 0x7F)
        elif plane < 0.8:
            cp = r.randrange(0x80, 0xD800)
        elif plane < 0.9:
            cp = r.randrange(0xE000, 0x10000)
        else:
            cp = r.randrange(0x10000, 0x110000)
        out.append(chr(cp))
    return "".join(out)


SYLLABLES = ["ka", "to", "re", "mi", "su", "lan", "dor", "pi", "vex", "qua", "ther", "ing", "ed", "ly", "ment",
             "tion", "pre", "con", "str", "bl", "gr", "ox", "ul", "ai", "ou", "zz", "ph", "ck", "sh", "ch"]


def pseudo_sentence(r: random.Random) -> str:
    # Made-up words, so that the trained vocabulary has a few thousand pieces.
    words = []
    for _ in range(r.randrange(3, 12)):
        w = "".join(r.choice(SYLLABLES) for _ in range(r.randrange(1, 5)))
        if r.random() < 0.1:
            w = w.capitalize()
        words.append(w)
    return " ".join(words) + r.choice(["", ".", ",", "!"])


def escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def main() -> None:
    r = random.Random(20260525)
    lines = []
    # Every hard fragment on its own, then with instructions.
    lines.extend(ALL_HARD)
    lines.extend(["", "", " ", "a", "A", ".", "▁", "  a  b  "])
    for _ in range(3600):
        lines.append(instruction(r))
    for _ in range(1400):
        lines.append(hard_line(r))
    for _ in range(120):
        lines.append(random_scalars(r, r.randrange(1, 40)))
    # Long lines (10,000+ characters).
    long_instr = " ".join(instruction(r) for _ in range(250))
    lines.append(long_instr[:12000])
    lines.append("".join(r.choice(ALL_HARD) for _ in range(900))[:11000])
    lines.append("a" * 10001)
    lines.append(" " * 10000 + "x")
    lines.append("ﬁ" * 10000)
    lines.append(random_scalars(r, 10050))
    lines.append("🤖" * 10000)
    with open(CORPUS, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(escape(line) + "\n")

    t = random.Random(7)
    training = []
    for _ in range(8000):
        training.append(instruction(t))
    for _ in range(1500):
        training.append(hard_line(t).replace("\n", " ").replace("\r", " "))
    for _ in range(6000):
        training.append(pseudo_sentence(t))
    with open(TRAINING, "w", encoding="utf-8", newline="\n") as f:
        for line in training:
            f.write(line + "\n")
    print(f"corpus: {len(lines)} records -> {os.path.relpath(CORPUS, ROOT)}")
    print(f"training corpus: {len(training)} lines -> {os.path.relpath(TRAINING, ROOT)}")


if __name__ == "__main__":
    main()
