"""Writes tabletop.jpg: a synthetic 320 x 256 camera frame of a table with a red block and a bowl.

No real photograph with a license to commit was at hand, so the sample frame is rendered: a wooden table in
perspective under a soft light, a red block and a blue bowl with shadows, a wall, lens vignetting and sensor
noise, encoded as a baseline 4:2:0 JPEG (quality 90) through libjpeg-turbo's TurboJPEG API (ctypes, no Pillow).

    python Examples/frames/make_tabletop.py Examples/frames/tabletop.jpg

The committed file is the output of one run (numpy seed 7, libjpeg-turbo 2.1.5); `vlac run` and `make demo`
read it, and the tests decode it.
"""

import ctypes
import ctypes.util
import sys

import numpy as np

H, W = 256, 320


def render(seed=7):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    img = np.zeros((H, W, 3))
    horizon = 78.0
    # Wall: warm off-white with a gentle gradient.
    wall = np.array([0.80, 0.78, 0.72]) * (0.85 + 0.15 * (1 - y / horizon))[..., None]
    img[:] = wall
    # Table in perspective: depth grows toward the horizon; wood grain along the depth.
    table = y >= horizon
    depth = 1.0 / np.maximum(y - horizon + 6, 1)
    u = (x - W / 2) * depth * 40  # across the table
    v = depth * 900  # along the table
    grain = 0.5 + 0.5 * np.sin(u * 1.7 + 3.0 * np.sin(v * 0.35) + 0.6 * np.sin(u * 0.23))
    wood = np.array([0.55, 0.36, 0.20])[None, None] * (0.82 + 0.18 * grain[..., None])
    light = np.exp(-(((x - 210) / 260) ** 2 + ((y - 150) / 200) ** 2))[..., None]
    img[table] = (wood * (0.65 + 0.45 * light))[table]
    # Table edge line.
    edge = np.abs(y - horizon) < 1.5
    img[edge] = img[edge] * 0.6
    # Bowl: an ellipse with a darker inside and a rim highlight, and a shadow.
    bx, by, brx, bry = 215.0, 168.0, 46.0, 22.0
    shadow = (((x - bx - 10) / (brx + 6)) ** 2 + ((y - by - 10) / (bry + 8)) ** 2) < 1
    img[shadow & table] *= 0.62
    outer = ((x - bx) / brx) ** 2 + ((y - by) / bry) ** 2
    inner = ((x - bx) / (brx - 6)) ** 2 + ((y - by + 3) / (bry - 5)) ** 2
    body = (outer < 1) | ((np.abs(x - bx) < brx * 0.92) & (y > by) & (y < by + 20) & (((x - bx) / brx) ** 2 + ((y - by - 20) / 10) ** 2 < 1.2))
    blue = np.array([0.18, 0.32, 0.62])
    img[body] = blue * (0.75 + 0.35 * (1 - (x[body] - bx + brx) / (2 * brx)))[..., None]
    img[inner < 1] = blue * 0.45
    rim = (outer < 1) & (outer > 0.82) & (y < by)
    img[rim] = np.minimum(img[rim] * 1.6 + 0.1, 1)
    # Red block: a cube seen from above-front, with a shadow.
    cx, cy, s = 112.0, 170.0, 30.0
    shadow = (x > cx - s / 2 + 8) & (x < cx + s / 2 + 14) & (y > cy - 4) & (y < cy + s / 2 + 10)
    img[shadow & table] *= 0.6
    top = (x > cx - s / 2 + 6) & (x < cx + s / 2 + 6) & (y > cy - s / 2 - 8) & (y < cy - s / 2 + 4)
    top &= (y - (cy - s / 2 - 8)) >= (x - (cx - s / 2 + 6)) * 0 - 0
    front = (x > cx - s / 2) & (x < cx + s / 2) & (y >= cy - s / 2 + 4) & (y < cy + s / 2)
    side = (x >= cx + s / 2) & (x < cx + s / 2 + 6) & (y > cy - s / 2 - 2) & (y < cy + s / 2 - 2)
    img[top] = [0.86, 0.22, 0.18]
    img[front] = [0.70, 0.12, 0.10]
    img[side] = [0.48, 0.07, 0.06]
    # A gripper finger entering from the top right (gray metal).
    finger = (x > 250) & (x < 268) & (y < 60 + (x - 250) * 0.2)
    img[finger] = np.array([0.42, 0.43, 0.45]) * (0.8 + 0.3 * ((x[finger] - 250) / 18))[..., None]
    # Vignetting, slight blur from the lens, sensor noise.
    vignette = 1 - 0.28 * (((x - W / 2) / (W / 2)) ** 2 + ((y - H / 2) / (H / 2)) ** 2)
    img *= vignette[..., None]
    blurred = img.copy()
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        blurred += np.roll(np.roll(img, dy, 0), dx, 1)
    img = blurred / 5
    img += rng.normal(0, 0.012, img.shape)
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


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
    with open(sys.argv[1], "wb") as f:
        f.write(encode_jpeg(render()))
