"""Writes the JPEG fixtures of Tests/Fixtures/VLACommands/images from the PNG fixtures' rasters (*.rgb), with
libjpeg-turbo's TurboJPEG API through ctypes (Debian: libturbojpeg0; no Pillow needed), and the raster
libjpeg-turbo decodes from each (*.jpg.rgb: the accurate integer IDCT and fancy upsampling, TurboJPEG's defaults,
which libjpeg-turbo keeps bit-exact across its versions and SIMD paths).

  frame160-q95.jpg      160x160 RGB, baseline, 4:4:4, quality 95
  rgb-progressive.jpg   17x13 RGB (odd sides: partial blocks), progressive, 4:2:0, quality 90
  gray.jpg              17x13 grayscale, quality 100
  cmyk.jpg              17x13 CMYK (YCCK), quality 90: a JPEG vlac refuses as unsupported
"""

import ctypes
import ctypes.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Fixtures", "VLACommands", "images")

TJPF_RGB, TJPF_GRAY, TJPF_CMYK = 0, 6, 11
TJSAMP_444, TJSAMP_420, TJSAMP_GRAY = 0, 2, 3
TJFLAG_PROGRESSIVE = 16384

lib = ctypes.CDLL(ctypes.util.find_library("turbojpeg") or "libturbojpeg.so.0")
lib.tjInitCompress.restype = ctypes.c_void_p
lib.tjInitDecompress.restype = ctypes.c_void_p
lib.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                            ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_ulong), ctypes.c_int,
                            ctypes.c_int, ctypes.c_int]
lib.tjDecompress2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int,
                              ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
lib.tjFree.argtypes = [ctypes.c_void_p]
lib.tjDestroy.argtypes = [ctypes.c_void_p]


def compress(pixels, width, height, pixel_format, channels, subsampling, quality, flags=0):
    handle = lib.tjInitCompress()
    out, size = ctypes.c_void_p(), ctypes.c_ulong(0)
    if lib.tjCompress2(handle, pixels, width, width * channels, height, pixel_format, ctypes.byref(out),
                       ctypes.byref(size), subsampling, quality, flags) != 0:
        raise RuntimeError("tjCompress2 failed")
    data = ctypes.string_at(out, size.value)
    lib.tjFree(out)
    lib.tjDestroy(handle)
    return data


def decompress_rgb(data, width, height):
    handle = lib.tjInitDecompress()
    out = ctypes.create_string_buffer(width * height * 3)
    if lib.tjDecompress2(handle, data, len(data), out, width, width * 3, height, TJPF_RGB, 0) != 0:
        raise RuntimeError("tjDecompress2 failed")
    lib.tjDestroy(handle)
    return out.raw


def read(name):
    with open(os.path.join(OUT, name), "rb") as f:
        return f.read()


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    frame = read("frame160.rgb")
    small = read("rgb.rgb")
    gray = read("gray.rgb")[0::3]
    cmyk = bytes(v for i in range(0, len(small), 3) for v in (small[i], small[i + 1], small[i + 2], 40))
    made = {
        "frame160-q95.jpg": (compress(frame, 160, 160, TJPF_RGB, 3, TJSAMP_444, 95), 160, 160),
        "rgb-progressive.jpg": (compress(small, 17, 13, TJPF_RGB, 3, TJSAMP_420, 90, TJFLAG_PROGRESSIVE), 17, 13),
        "gray.jpg": (compress(gray, 17, 13, TJPF_GRAY, 1, TJSAMP_GRAY, 100), 17, 13),
    }
    for name, (data, width, height) in made.items():
        write(name, data)
        write(name + ".rgb", decompress_rgb(data, width, height))
    write("cmyk.jpg", compress(cmyk, 17, 13, TJPF_CMYK, 4, TJSAMP_444, 90))


if __name__ == "__main__":
    main()
