"""Finding and loading libvlart, and the ctypes prototypes of vlart.h.

ctypes rather than a CPython extension or cffi: nothing is compiled when the package is installed (a robot
needs no compiler and no Python headers), and vlart.h is a small, stable C ABI of plain integers, pointers and
two structs, which ctypes describes exactly. Calls go through ``ctypes.CDLL``, which releases the GIL for the
duration of every foreign call, so sessions stepping in different threads run in parallel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import Optional

# Status codes of vlart.h.
OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_INVALID_FILE = 2
ERR_SHARED_BLOB = 3
ERR_INVALID_PROGRAM = 4
ERR_STATE = 5
ERR_BUFFER_TOO_SMALL = 6
ERR_RUNTIME = 7
ERR_OUT_OF_MEMORY = 8
ERR_NON_FINITE_ACTION = 9
ERR_BUSY = 10
ERR_LIMIT_EXCEEDED = 11

STATUS_NAMES = {
    ERR_INVALID_ARGUMENT: "invalid_argument",
    ERR_INVALID_FILE: "invalid_file",
    ERR_SHARED_BLOB: "shared_blob",
    ERR_INVALID_PROGRAM: "invalid_program",
    ERR_STATE: "state",
    ERR_BUFFER_TOO_SMALL: "buffer_too_small",
    ERR_RUNTIME: "runtime",
    ERR_OUT_OF_MEMORY: "out_of_memory",
    ERR_NON_FINITE_ACTION: "non_finite_action",
    ERR_BUSY: "busy",
    ERR_LIMIT_EXCEEDED: "limit_exceeded",
}

ENVIRONMENT_VARIABLE = "VLART_LIBRARY"


class PolicyInfoStruct(ctypes.Structure):
    """vla_policy_info_t."""

    _fields_ = [
        ("action_dim", ctypes.c_uint32),
        ("horizon", ctypes.c_uint32),
        ("image_height", ctypes.c_uint32),
        ("image_width", ctypes.c_uint32),
        ("has_reset", ctypes.c_int32),
        ("mapped_bytes", ctypes.c_uint64),
        ("arena_bytes", ctypes.c_uint64),
    ]


class SessionOptionsStruct(ctypes.Structure):
    """vla_session_options_t."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("threads", ctypes.c_int32),
        ("max_arena_bytes", ctypes.c_uint64),
    ]


_u8p = ctypes.POINTER(ctypes.c_uint8)
_f32p = ctypes.POINTER(ctypes.c_float)
_status = ctypes.c_int32


def _declare(lib: ctypes.CDLL) -> None:
    """Sets argtypes and restype of every vlart.h function the package calls."""
    p = ctypes.c_void_p
    lib.vla_last_error_message.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.vla_last_error_message.restype = ctypes.c_size_t
    lib.vla_policy_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
                                    ctypes.POINTER(p)]
    lib.vla_policy_open.restype = _status
    lib.vla_policy_close.argtypes = [p]
    lib.vla_policy_close.restype = None
    lib.vla_policy_info.argtypes = [p, ctypes.POINTER(PolicyInfoStruct)]
    lib.vla_policy_info.restype = _status
    lib.vla_policy_self_test.argtypes = [p, ctypes.POINTER(ctypes.c_int32)]
    lib.vla_policy_self_test.restype = _status
    lib.vla_session_create_with_options.argtypes = [p, ctypes.POINTER(SessionOptionsStruct), ctypes.POINTER(p)]
    lib.vla_session_create_with_options.restype = _status
    lib.vla_session_destroy.argtypes = [p]
    lib.vla_session_destroy.restype = None
    lib.vla_session_reset.argtypes = [p, _u8p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t]
    lib.vla_session_reset.restype = _status
    lib.vla_session_step.argtypes = [p, _u8p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t, _f32p,
                                     ctypes.c_size_t]
    lib.vla_session_step.restype = _status
    lib.vla_session_chunk.argtypes = [p, ctypes.c_int32, _f32p, ctypes.c_size_t]
    lib.vla_session_chunk.restype = _status


def _candidates(path: Optional[str]) -> list:
    if path:
        return [path]
    env = os.environ.get(ENVIRONMENT_VARIABLE)
    if env:
        return [env]
    names = ["libvlart.so"]
    found = ctypes.util.find_library("vlart")
    if found:
        names.append(found)
    names += ["libvlart.dylib"]
    return names


_lock = threading.Lock()
_loaded: Optional[ctypes.CDLL] = None


def load_library(path: Optional[str] = None) -> ctypes.CDLL:
    """Loads libvlart once: from ``path``, else ``$VLART_LIBRARY``, else the dynamic linker's usual search.

    A second call returns the library already loaded (a different ``path`` then is an error: one process uses
    one libvlart).
    """
    global _loaded
    with _lock:
        if _loaded is not None:
            if path and os.path.abspath(path) != getattr(_loaded, "_vlart_path", None):
                raise RuntimeError(f"libvlart is already loaded from {_loaded._name}; cannot load {path} as well")
            return _loaded
        tried = []
        for name in _candidates(path):
            try:
                # CDLL (not PyDLL): the GIL is released for the duration of each call.
                lib = ctypes.CDLL(name)
            except OSError as error:
                tried.append(f"{name}: {error}")
                continue
            _declare(lib)
            lib._vlart_path = os.path.abspath(name) if os.sep in name else name
            _loaded = lib
            return lib
        raise OSError(
            "cannot load libvlart (" + "; ".join(tried) + "); build it with `swift build -c release --product vlart` "
            f"and set {ENVIRONMENT_VARIABLE} to the libvlart.so in `swift build -c release --show-bin-path`, "
            "or call vlart.load_library(path)")


def last_error_message(lib: ctypes.CDLL) -> str:
    """The calling thread's last libvlart error message."""
    size = lib.vla_last_error_message(None, 0)
    buffer = ctypes.create_string_buffer(size + 1)
    lib.vla_last_error_message(buffer, size + 1)
    return buffer.value.decode("utf-8", errors="replace")
