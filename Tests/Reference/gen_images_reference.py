"""PNG and PPM fixtures for vlac's image decoder, with the RGB bytes Pillow decodes from each.

    .venv/bin/python Tests/Reference/gen_images_reference.py

Writes Tests/Fixtures/VLACommands/images/<name>.{png,ppm} and <name>.rgb (Pillow's convert("RGB") bytes).
"""
import os
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "VLACommands", "images")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(11)
    # Smooth gradients plus noise, so every PNG filter type is chosen somewhere.
    h, w = 13, 17
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 15, yy * 19, (xx + yy) * 7], -1) + rng.integers(0, 40, (h, w, 3))
    rgb = np.clip(base, 0, 255).astype(np.uint8)
    alpha = rng.integers(0, 256, (h, w), dtype=np.uint8)
    images = {
        "rgb": Image.fromarray(rgb, "RGB"),
        "rgba": Image.fromarray(np.dstack([rgb, alpha]), "RGBA"),
        "gray": Image.fromarray(rgb[..., 0], "L"),
        "gray-alpha": Image.fromarray(np.dstack([rgb[..., 1], alpha]), "LA"),
        "palette": Image.fromarray(rgb, "RGB").quantize(colors=37),
    }
    for name, im in images.items():
        im.save(os.path.join(OUT, name + ".png"), optimize=False, compress_level=6)
        with open(os.path.join(OUT, name + ".rgb"), "wb") as f:
            f.write(np.asarray(Image.open(os.path.join(OUT, name + ".png")).convert("RGB")).tobytes())
    # Noise that does not compress, so Pillow writes it in more than one IDAT chunk (64 KiB each).

    frame = rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)
    Image.fromarray(frame, "RGB").save(os.path.join(OUT, "frame160.png"))
    with open(os.path.join(OUT, "frame160.rgb"), "wb") as f:
        f.write(frame.tobytes())

    # Unsupported: interlaced and 16-bit.
    # Pillow does not write Adam7, so set IHDR's interlace byte (and its CRC) by hand: the decoder must refuse it.
    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "interlaced.png"))
    data = bytearray(open(os.path.join(OUT, "interlaced.png"), "rb").read())
    data[28] = 1
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    open(os.path.join(OUT, "interlaced.png"), "wb").write(bytes(data))
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(os.path.join(OUT, "gray16.png"))
    # PPM (P6) with a comment in the header.
    with open(os.path.join(OUT, "rgb.ppm"), "wb") as f:
        f.write(b"P6\n# made by gen_images_reference.py\n%d %d\n255\n" % (w, h) + rgb.tobytes())


if __name__ == "__main__":
    main()
