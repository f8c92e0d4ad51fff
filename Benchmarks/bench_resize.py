"""The image contract's resize in TensorFlow and Pillow, on the frame `vlac-kernel-bench image` uses.

    .venv/bin/python Benchmarks/bench_resize.py [--threads N] [--iterations N]

The frame: 480×640 seeded noise (the LCG of Tests/Reference/gen_preprocess_reference.py). Times, median of N
calls after two warm-up calls, with TensorFlow's intra- and inter-op pools set to N threads (eager mode, as the
released `InferenceWrapper._resize_image` runs):
  - TensorFlow: the released `_resize_image` (resize lanczos3 antialias + crop_and_resize + round/clip/uint8),
    the resize alone, and the rtx variant (resize_with_pad 256×320 first);
  - Pillow: `Image.resize((224, 224), Image.LANCZOS)` on the uint8 frame (Pillow's own Lanczos-3 with
    antialiasing, 8-bit fixed point: close to TensorFlow's values, not bit-identical; one thread).
"""
import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests", "Reference"))

import numpy as np  # noqa: E402


def median_ms(fn, n):
    for _ in range(2):
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iterations", type=int, default=50)
    a = ap.parse_args()
    import tensorflow as tf
    from PIL import Image
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    from gen_preprocess_reference import noise, resize_image
    frame = noise(480, 640)
    n = a.iterations
    print(f"TensorFlow {tf.__version__}, {a.threads} thread(s), 480x640 -> 224x224, median of {n}:")
    print(f"  _resize_image (lanczos3 + crop + round): {median_ms(lambda: resize_image(frame, True, False), n):.2f} ms")
    print(f"  resize lanczos3 antialias only:          "
          f"{median_ms(lambda: tf.image.resize(frame, (224, 224), method='lanczos3', antialias=True).numpy(), n):.2f} ms")
    print(f"  rtx: resize_with_pad + lanczos3 + crop:  {median_ms(lambda: resize_image(frame, True, True), n):.2f} ms")
    image = Image.fromarray(frame)
    print(f"Pillow {Image.__version__ if hasattr(Image, '__version__') else ''} Image.resize(LANCZOS), 1 thread: "
          f"{median_ms(lambda: np.asarray(image.resize((224, 224), Image.LANCZOS)), n):.2f} ms")


if __name__ == "__main__":
    main()
