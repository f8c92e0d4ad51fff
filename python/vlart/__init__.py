"""vlart: run compiled HyperVLA policies (.vla files) from Python through libvlart.

    import numpy as np, vlart

    with vlart.Policy("out/policies/pick-up-the-coke-can-9a42d32d.vla", shared=["out/shared"]) as policy:
        policy.self_test()
        with vlart.Session(policy) as session:
            session.reset(first_frame)           # H x W x 3 (or 4) uint8 numpy array
            action = session.step(frame)          # float32 array of policy.info.action_dim values

The library is found by ``vlart.load_library(path)``, else ``$VLART_LIBRARY``, else the dynamic linker's search
for ``libvlart.so``. Every runtime failure raises ``vlart.Error`` with the runtime's message and status.
``reset`` and ``step`` release the GIL (ctypes does for every foreign call), so sessions in different threads
run in parallel; one session is used by one thread at a time (a second thread gets ``Error`` with status
``busy``). See Docs/Python.md.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from . import _library
from ._library import load_library

__all__ = ["Error", "Policy", "PolicyInfo", "Session", "load_library", "as_rgb_frame"]
__version__ = "0.1.0"


class Error(RuntimeError):
    """A libvlart call failed: ``message`` is the runtime's text, ``status`` its vla_status_t (``code`` its name)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = _library.STATUS_NAMES.get(status, f"status {status}")

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"


def _check(lib: ctypes.CDLL, status: int, what: str) -> None:
    if status != _library.OK:
        message = _library.last_error_message(lib) or f"{what} failed"
        raise Error(message, status)


@dataclass(frozen=True)
class PolicyInfo:
    """What a policy takes and produces (vla_policy_info_t)."""

    action_dim: int
    """Values per action (7 for HyperVLA)."""
    horizon: int
    """Actions per raw chunk."""
    image_height: int
    """Network input height; frames of any size are resized to it."""
    image_width: int
    """Network input width."""
    has_reset: bool
    """True when the policy has a reset program: call ``Session.reset`` before ``step``."""
    mapped_bytes: int
    """Bytes of the policy file and its shared blobs, mapped read-only."""
    arena_bytes: int
    """Bytes of the arena each session allocates."""


def as_rgb_frame(frame) -> np.ndarray:
    """Returns ``frame`` as a C-contiguous H x W x 3 uint8 array (the runtime's packed RGB).

    Accepts numpy uint8 arrays of shape H x W x 3 with any strides (copied when not contiguous) or H x W x 4
    (RGBA: the alpha channel is dropped into a packed copy). Raises TypeError for another type or dtype and
    ValueError for another shape; nothing is converted silently (a float image is not scaled for you).
    """
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"a frame must be a numpy uint8 array of shape (H, W, 3) or (H, W, 4), not {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise TypeError(f"a frame must have dtype uint8 (0...255 RGB), not {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise ValueError(f"a frame must have shape (H, W, 3) or (H, W, 4), not {frame.shape}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"a frame must have at least one row and one column, not shape {frame.shape}")
    if frame.shape[2] == 4:
        frame = frame[:, :, :3]
    return np.ascontiguousarray(frame)


def _pointer(array: np.ndarray, kind):
    return array.ctypes.data_as(ctypes.POINTER(kind))


class _Handle:
    """An owned runtime handle: ``close()`` releases it once, ``with`` blocks and garbage collection close it, and
    every call through ``_live_handle()`` after closing raises ``Error`` instead of reaching the C library."""

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return not self._handle

    def _live_handle(self) -> ctypes.c_void_p:
        if not self._handle:
            raise Error(self._closed_message(), _library.ERR_INVALID_ARGUMENT)
        return self._handle

    def close(self) -> None:
        """Releases the handle; a second call does nothing."""
        if self._handle:
            self._release(self._handle)
            self._handle = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None):
            self.close()


class Policy(_Handle):
    """An opened, verified policy with its shared blobs mapped (vla_policy_t).

    ``path`` is the .vla file; ``shared`` the folders searched, in order, for its shared blobs by SHA-256 (when
    empty: the policy's folder and ``../shared`` beside it). Immutable after opening: use it from any number of
    threads. Close it with ``close()`` or a ``with`` block; sessions keep what they need alive.
    """

    def __init__(self, path, shared: Iterable = (), library: Optional[str] = None):
        self._lib = load_library(library)
        self._handle = ctypes.c_void_p()
        folders = [os.fsencode(folder) for folder in shared]
        array = (ctypes.c_char_p * max(len(folders), 1))(*folders)
        status = self._lib.vla_policy_open(os.fsencode(path), array, len(folders), ctypes.byref(self._handle))
        _check(self._lib, status, "vla_policy_open")
        self.path = os.fspath(path)
        info = _library.PolicyInfoStruct()
        _check(self._lib, self._lib.vla_policy_info(self._handle, ctypes.byref(info)), "vla_policy_info")
        self.info = PolicyInfo(info.action_dim, info.horizon, info.image_height, info.image_width,
                               bool(info.has_reset), info.mapped_bytes, info.arena_bytes)

    def _closed_message(self) -> str:
        return f"{self.path}: the policy is closed"

    def self_test(self) -> bool:
        """Runs the policy's embedded test vectors on a fresh arena; returns True, or raises Error with the message."""
        passed = ctypes.c_int32(0)
        _check(self._lib, self._lib.vla_policy_self_test(self._live_handle(), ctypes.byref(passed)), "vla_policy_self_test")
        if passed.value != 1:
            raise Error(_library.last_error_message(self._lib) or "the self-test failed", _library.ERR_RUNTIME)
        return True

    def session(self, threads: int = 1, max_arena_bytes: int = 0) -> "Session":
        """A new session of this policy (same as ``Session(policy, ...)``)."""
        return Session(self, threads=threads, max_arena_bytes=max_arena_bytes)

    def _release(self, handle) -> None:
        """Releases the policy handle (``close()``)."""
        self._lib.vla_policy_close(handle)

    def __repr__(self) -> str:
        return f"vlart.Policy({self.path!r}{', closed' if self.closed else ''})"


class Session(_Handle):
    """One episode stream of a policy, with its own arena (vla_session_t).

    ``threads`` kernel threads (1...64) run each step. Use a session from one thread at a time; different
    sessions may run in different threads at once (the GIL is released inside ``reset`` and ``step``).
    """

    def __init__(self, policy: Policy, threads: int = 1, max_arena_bytes: int = 0):
        if not isinstance(policy, Policy):
            raise TypeError(f"Session needs a vlart.Policy, not {type(policy).__name__}")
        self._lib = policy._lib
        self.policy = policy
        self.info = policy.info
        self._handle = ctypes.c_void_p()
        options = _library.SessionOptionsStruct(ctypes.sizeof(_library.SessionOptionsStruct), int(threads),
                                                int(max_arena_bytes))
        status = self._lib.vla_session_create_with_options(policy._live_handle(), ctypes.byref(options),
                                                          ctypes.byref(self._handle))
        _check(self._lib, status, "vla_session_create")
        self._action = np.empty(self.info.action_dim, np.float32)

    def _closed_message(self) -> str:
        return "the session is closed"

    def reset(self, frame) -> None:
        """Starts an episode on its first frame: image contract, the reset program, cleared ensembling state."""
        handle = self._live_handle()
        rgb = as_rgb_frame(frame)
        height, width = rgb.shape[0], rgb.shape[1]
        status = self._lib.vla_session_reset(handle, _pointer(rgb, ctypes.c_uint8), height, width, rgb.nbytes)
        _check(self._lib, status, "vla_session_reset")

    def step(self, frame) -> np.ndarray:
        """One control step on a frame of any size; returns a new float32 array of ``info.action_dim`` values."""
        handle = self._live_handle()
        rgb = as_rgb_frame(frame)
        action = np.empty(self.info.action_dim, np.float32)
        status = self._lib.vla_session_step(handle, _pointer(rgb, ctypes.c_uint8), rgb.shape[0], rgb.shape[1],
                                            rgb.nbytes, _pointer(action, ctypes.c_float), action.size)
        _check(self._lib, status, "vla_session_step")
        return action

    def chunk(self, processed: bool = True) -> np.ndarray:
        """The last action chunk, ``(horizon, action_dim)`` float32: processed (squash, gripper rule,
        unnormalization) or, with ``processed=False``, raw as the step program wrote it."""
        handle = self._live_handle()
        out = np.empty((self.info.horizon, self.info.action_dim), np.float32)
        status = self._lib.vla_session_chunk(handle, 1 if processed else 0, _pointer(out, ctypes.c_float), out.size)
        _check(self._lib, status, "vla_session_chunk")
        return out

    def _release(self, handle) -> None:
        """Destroys the session and stops its worker threads (``close()``)."""
        self._lib.vla_session_destroy(handle)
