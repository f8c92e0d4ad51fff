"""TensorFlow goldens for vlac's image contract: the released HyperVLA evaluation's `_resize_image`.

    .venv/bin/python Tests/Reference/gen_preprocess_reference.py      (tensorflow-cpu==2.21.0, numpy, pillow)

For every case it runs, with TensorFlow on the CPU, what `InferenceWrapper._resize_image` in
data/utils/hypervla_interface.py (MasterXiong/Hyper-VLA) does with image_size 224:
  padded_resize (image_aug_style "rtx"): tf.image.resize_with_pad(frame, 256, 320)
  tf.image.resize(frame, (224, 224), method="lanczos3", antialias=True)
  crop: tf.image.crop_and_resize with the box [o, o, o + s, o + s], s = np.sqrt(0.9), o = (1 - s) / 2
  tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
on uint8 frames of many sizes: seeded noise (`noise`: a 32-bit LCG, byte = state >> 24, seed = h·65536 + w,
the same generator as PreprocessTests.swift), the synthetic pattern of gen_runtime_reference.py (`pattern`), and
Examples/frames/coffee.jpg decoded by Pillow (libjpeg-turbo, accurate DCT and fancy upsampling: what vlac's
decoder does). Writes Tests/Fixtures/VLARuntime/preprocess/index.json (per case: the SHA-256 of the 224×224×3
uint8 output, its byte sum) and three full outputs (<name>.u8) to show where a mismatch is.
"""
import hashlib
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "VLARuntime", "preprocess")
SIZE = 224


def resize_image(image, crop, padded_resize):
    """The released `_resize_image`, line for line (image_size 224)."""
    if padded_resize:
        image = tf.image.resize_with_pad(image, target_height=256, target_width=320)
    image = tf.image.resize(image, size=(SIZE, SIZE), method="lanczos3", antialias=True)
    if crop:
        scale = np.sqrt(0.9)
        offset = (1 - scale) / 2
        target_size = scale
        bounding_boxes = np.array([offset, offset, offset + target_size, offset + target_size]).reshape(1, 4)
        image = tf.image.crop_and_resize(image[None], bounding_boxes, tf.range(1), (SIZE, SIZE))
        image = image[0]
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8).numpy()


def noise(h, w):
    n = h * w * 3
    out = np.empty(n, np.uint8)
    s = (h * 65536 + w) & 0xFFFFFFFF
    # Vectorised LCG: s_k = a^k s_0 + c (a^k - 1)/(a - 1), done step by step in blocks for clarity.
    for i in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        out[i] = s >> 24
    return out.reshape(h, w, 3)


def pattern(h, w):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    v = (x * 3 + y * 2 + c * 71 + ((x // 3 + y // 3) % 2) * 60 + (x * y) // 11) % 256
    return v.astype(np.uint8)


SIZES = [(480, 640), (512, 640), (256, 256), (120, 160), (300, 200), (224, 224), (256, 320), (900, 300),
         (7, 9), (1, 1), (37, 300), (1080, 1920)]
FULL = {"480x640-noise-crop", "512x640-noise-rtx", "coffee-rtx-crop"}


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    frames = []
    for h, w in SIZES:
        frames.append((f"{h}x{w}-noise", "noise", h, w, noise(h, w)))
        if h * w <= 640 * 480:
            frames.append((f"{h}x{w}-pattern", "pattern", h, w, pattern(h, w)))
    coffee = np.asarray(Image.open(os.path.join(ROOT, "Examples", "frames", "coffee.jpg")).convert("RGB"))
    frames.append(("coffee", "coffee", coffee.shape[0], coffee.shape[1], coffee))
    index = []
    for stem, kind, h, w, frame in frames:
        for pad in (False, True):
            for crop in (False, True):
                name = stem + ("-rtx" if pad else "") + ("-crop" if crop else "")
                out = resize_image(frame, crop, pad)
                assert out.shape == (SIZE, SIZE, 3)
                entry = {"name": name, "frame": kind, "height": h, "width": w, "crop": crop, "pad": pad,
                         "sha256": hashlib.sha256(out.tobytes()).hexdigest(), "sum": int(out.astype(np.int64).sum())}
                if kind == "coffee":
                    entry["frameSHA256"] = hashlib.sha256(frame.tobytes()).hexdigest()
                if name in FULL:
                    out.tofile(os.path.join(OUT, name + ".u8"))
                    entry["file"] = name + ".u8"
                index.append(entry)
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({"tensorflow": tf.__version__, "cases": index}, f, indent=1)
    print(f"{len(index)} cases")


if __name__ == "__main__":
    main()
