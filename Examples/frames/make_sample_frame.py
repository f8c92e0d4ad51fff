"""Writes the sample camera frame coffee.jpg (320 x 256) from a real photograph with no copyright restrictions.

The source is scikit-image's `coffee.png` (600 x 400 RGB: a coffee cup on a saucer on a wooden table; "No copyright
restrictions. CC0 by the photographer (Rachel Michetti)", scikit-image's data documentation). Get it from the
scikit-image 0.26.0 wheel without installing it:

    pip download --no-deps scikit-image==0.26.0 -d /tmp/skimage
    unzip -o /tmp/skimage/scikit_image-0.26.0-*.whl 'skimage/data/coffee.png' -d /tmp/skimage
    python Examples/frames/make_sample_frame.py /tmp/skimage/skimage/data/coffee.png Examples/frames/coffee.jpg

The photo is cropped to the centre 500 x 400 (the 5:4 of a 320 x 256 camera), scaled to 320 x 256 by averaging
over each output pixel's footprint, and encoded as a baseline 4:2:0 JPEG (quality 90) with libjpeg-turbo's
TurboJPEG API through ctypes (no Pillow). The PNG is decoded here with zlib (8-bit RGB, not interlaced).
"""

import ctypes
import ctypes.util
import struct
import sys
import zlib

import numpy as np

H, W = 256, 320


def read_png_rgb8(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour == 2 and interlace == 0, "expects 8-bit RGB, not interlaced"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * 3)
    out = np.zeros((height, width * 3), dtype=np.int32)
    prev = np.zeros(width * 3, dtype=np.int32)
    for r in range(height):
        kind, line = raw[r, 0], raw[r, 1:].astype(np.int32)
        cur = np.zeros(width * 3, dtype=np.int32)
        for i in range(width * 3):
            a = cur[i - 3] if i >= 3 else 0
            b = prev[i]
            c = prev[i - 3] if i >= 3 else 0
            if kind == 0:
                p = 0
            elif kind == 1:
                p = a
            elif kind == 2:
                p = b
            elif kind == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (line[i] + p) & 0xFF
        out[r] = cur
        prev = cur
    return out.reshape(height, width, 3).astype(np.float64)


def frame(photo):
    h, w, _ = photo.shape
    crop_w, crop_h = 500, 400
    x0, y0 = (w - crop_w) // 2, (h - crop_h) // 2
    crop = photo[y0:y0 + crop_h, x0:x0 + crop_w]
    # Area average: each output pixel is the mean of the source pixels its footprint covers, weighted by overlap.
    def weights(n_out, n_in):
        m = np.zeros((n_out, n_in))
        scale = n_in / n_out
        for o in range(n_out):
            lo, hi = o * scale, (o + 1) * scale
            for i in range(int(lo), min(int(np.ceil(hi)), n_in)):
                m[o, i] = min(hi, i + 1) - max(lo, i)
        return m / m.sum(axis=1, keepdims=True)
    rows, cols = weights(H, crop_h), weights(W, crop_w)
    scaled = np.einsum("oi,ijc,pj->opc", rows, crop, cols)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def encode_jpeg(rgb, quality=90):
    lib = ctypes.CDLL(ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0")
    lib.tjInitCompress.restype = ctypes.c_void_p
    lib.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_ulong),
                                ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.tjFree.argtypes = [ctypes.c_void_p]
    lib.tjDestroy.argtypes = [ctypes.c_void_p]
    handle = lib.tjInitCompress()
    out, size = ctypes.c_void_p(), ctypes.c_ulong(0)
    rgb = np.ascontiguousarray(rgb)
    TJPF_RGB, TJSAMP_420 = 0, 2
    if lib.tjCompress2(handle, rgb.ctypes.data, W, W * 3, H, TJPF_RGB, ctypes.byref(out), ctypes.byref(size),
                       TJSAMP_420, quality, 0) != 0:
        raise RuntimeError("tjCompress2 failed")
    data = ctypes.string_at(out, size.value)
    lib.tjFree(out)
    lib.tjDestroy(handle)
    return data


if __name__ == "__main__":
    source, target = sys.argv[1], sys.argv[2]
    open(target, "wb").write(encode_jpeg(frame(read_png_rgb8(source))))
