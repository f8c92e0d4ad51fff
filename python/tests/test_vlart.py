"""The vlart package against the vlac command and against bad input."""

import ctypes
import json
import os
import subprocess
import threading

import numpy as np
import pytest

import vlart
from vlart import _library


def frames(count, height=120, width=160, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def write_ppm(path, frame):
    height, width, _ = frame.shape
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (width, height))
        f.write(np.ascontiguousarray(frame).tobytes())


def vlac_actions(vlac, policy_path, shared, paths):
    arguments = [vlac, "run", str(policy_path), "--shared", str(shared), "--json"]
    for path in paths:
        arguments += ["--image", str(path)]
    result = subprocess.run(arguments, check=True, capture_output=True, text=True)
    # Floats as written (Swift's shortest round-trip spelling of the Float), parsed straight to float32.
    document = json.loads(result.stdout, parse_float=str)
    return [np.array(step["action"], dtype=np.float32) for step in document["steps"]]


def run_episode(policy, episode, threads=1):
    with vlart.Session(policy, threads=threads) as session:
        session.reset(episode[0])
        return [session.step(frame) for frame in episode]


def test_info_and_self_test(policy_path, compiled):
    with vlart.Policy(policy_path, shared=[compiled / "shared"]) as policy:
        assert policy.info.action_dim == 7
        assert policy.info.horizon == 4
        assert (policy.info.image_height, policy.info.image_width) == (224, 224)
        assert policy.info.has_reset
        assert policy.info.arena_bytes > 0 and policy.info.mapped_bytes > os.path.getsize(policy_path)
        assert policy.self_test() is True
    assert policy.closed


def test_actions_equal_vlac_run_bit_for_bit(tmp_path, vlac, policy_path, compiled):
    episode = frames(3, seed=1) + frames(1, height=480, width=640, seed=2)
    paths = []
    for t, frame in enumerate(episode):
        paths.append(tmp_path / f"f{t}.ppm")
        write_ppm(paths[-1], frame)
    expected = vlac_actions(vlac, policy_path, compiled / "shared", paths)
    with vlart.Policy(policy_path, shared=[compiled / "shared"]) as policy:
        actions = run_episode(policy, episode)
    assert len(actions) == len(expected) == 4
    for got, want in zip(actions, expected):
        assert got.dtype == np.float32
        assert got.view(np.uint32).tolist() == want.view(np.uint32).tolist()


def test_chunk_processed_and_raw(policy_path, compiled):
    episode = frames(2, seed=3)
    with vlart.Policy(policy_path, shared=[compiled / "shared"]) as policy, vlart.Session(policy) as session:
        session.reset(episode[0])
        action = session.step(episode[1])
        processed, raw = session.chunk(), session.chunk(processed=False)
        assert processed.shape == raw.shape == (4, 7)
        assert processed.dtype == raw.dtype == np.float32
        assert not np.array_equal(processed, raw)
        # A fresh episode's first action moves as the first processed action does (one chunk in the ensemble;
        # the rotation is converted after the chunk, so only the translation is compared).
        assert processed[0, :3].tolist() == action[:3].tolist()


def test_strided_bgr_view_and_rgba_frames_equal_packed_rgb(policy_path, compiled):
    episode = frames(2, seed=4)
    with vlart.Policy(policy_path, shared=[compiled / "shared"]) as policy:
        expected = run_episode(policy, episode)
        # A view into a larger padded buffer (row stride > width * 3) and a BGR buffer seen as RGB (negative stride).
        padded = []
        for frame in episode:
            buffer = np.zeros((frame.shape[0], frame.shape[1] + 13, 3), np.uint8)
            buffer[:, :frame.shape[1]] = frame
            padded.append(buffer[:, :frame.shape[1]])
        assert not padded[0].flags.c_contiguous
        bgr_views = [np.ascontiguousarray(frame[:, :, ::-1])[:, :, ::-1] for frame in episode]
        rgba = [np.concatenate([frame, np.full(frame.shape[:2] + (1,), 7, np.uint8)], axis=2) for frame in episode]
        for variant in (padded, bgr_views, rgba):
            got = run_episode(policy, variant)
            assert [a.tobytes() for a in got] == [a.tobytes() for a in expected]


@pytest.mark.parametrize("frame, error", [
    (np.zeros((64, 64, 3), np.float32), TypeError),
    (np.zeros((64, 64, 3), np.int64), TypeError),
    (np.zeros((64, 64), np.uint8), ValueError),
    (np.zeros((64, 64, 2), np.uint8), ValueError),
    (np.zeros((1, 64, 64, 3), np.uint8), ValueError),
    (np.zeros((0, 64, 3), np.uint8), ValueError),
    ([[[0, 0, 0]]], TypeError),
    (None, TypeError),
])
def test_bad_frames_raise(policy_path, compiled, frame, error):
    with vlart.Policy(policy_path, shared=[compiled / "shared"]) as policy, vlart.Session(policy) as session:
        with pytest.raises(error):
            session.reset(frame)
        session.reset(frames(1)[0])
        with pytest.raises(error):
            session.step(frame)


def test_frame_over_the_runtime_limit_is_a_runtime_error(policy_path, compiled):
    with vlart.Policy(policy_path, shared=[compiled / "shared"]) as policy, vlart.Session(policy) as session:
        session.reset(frames(1)[0])
        # 1 x 20000 pixels: a side over the runtime's 16384, refused by the C API with its message.
        with pytest.raises(vlart.Error) as raised:
            session.step(np.zeros((1, 20000, 3), np.uint8))
        assert raised.value.code == "invalid_argument"
        assert "20000" in raised.value.message


def test_step_before_reset_is_a_state_error(policy_path, compiled):
    with vlart.Policy(policy_path, shared=[compiled / "shared"]) as policy, vlart.Session(policy) as session:
        with pytest.raises(vlart.Error) as raised:
            session.step(frames(1)[0])
        assert raised.value.status == _library.ERR_STATE
        assert raised.value.message


def test_closed_session_and_policy_raise(policy_path, compiled):
    policy = vlart.Policy(policy_path, shared=[compiled / "shared"])
    session = vlart.Session(policy)
    session.close()
    session.close()
    for call in (lambda: session.reset(frames(1)[0]), lambda: session.step(frames(1)[0]), lambda: session.chunk()):
        with pytest.raises(vlart.Error, match="the session is closed"):
            call()
    policy.close()
    with pytest.raises(vlart.Error, match="the policy is closed"):
        vlart.Session(policy)
    with pytest.raises(vlart.Error, match="the policy is closed"):
        policy.self_test()


def test_a_session_outlives_its_closed_policy(policy_path, compiled):
    episode = frames(2, seed=5)
    with vlart.Policy(policy_path, shared=[compiled / "shared"]) as policy:
        expected = run_episode(policy, episode)
        session = vlart.Session(policy)
    session.reset(episode[0])
    assert [session.step(frame).tobytes() for frame in episode] == [a.tobytes() for a in expected]
    session.close()


def test_missing_blob_raises_with_the_runtime_message(tmp_path, policy_path):
    with pytest.raises(vlart.Error) as raised:
        vlart.Policy(policy_path, shared=[tmp_path])
    assert raised.value.code == "shared_blob"
    assert "shared blobs not found" in raised.value.message and "sha256:" in raised.value.message


def test_missing_and_altered_policy_files_raise(tmp_path, policy_path, compiled):
    with pytest.raises(vlart.Error) as raised:
        vlart.Policy(tmp_path / "nothing.vla")
    assert raised.value.code == "invalid_file"
    altered = bytearray(policy_path.read_bytes())
    for offset in (0, 9, 100, len(altered) // 2, len(altered) - 1):
        copy = bytearray(altered)
        copy[offset] ^= 0x5A
        path = tmp_path / f"altered-{offset}.vla"
        path.write_bytes(bytes(copy))
        with pytest.raises(vlart.Error) as raised:
            vlart.Policy(path, shared=[compiled / "shared"])
        assert raised.value.code == "invalid_file"
    truncated = tmp_path / "truncated.vla"
    truncated.write_bytes(bytes(altered[: len(altered) // 3]))
    with pytest.raises(vlart.Error):
        vlart.Policy(truncated, shared=[compiled / "shared"])


def test_bad_session_options_raise(policy_path, compiled):
    with vlart.Policy(policy_path, shared=[compiled / "shared"]) as policy:
        with pytest.raises(vlart.Error) as raised:
            vlart.Session(policy, threads=65)
        assert raised.value.code == "invalid_argument"
        with pytest.raises(vlart.Error) as raised:
            vlart.Session(policy, max_arena_bytes=1024)
        assert raised.value.code == "limit_exceeded"
    with pytest.raises(TypeError):
        vlart.Session("not a policy")


def test_two_sessions_in_two_threads(policy_path, compiled):
    episodes = [frames(3, seed=10), frames(3, height=200, width=100, seed=11)]
    with vlart.Policy(policy_path, shared=[compiled / "shared"]) as policy:
        expected = [run_episode(policy, episode) for episode in episodes]
        results, failures = [None, None], []
        start = threading.Barrier(2)

        def worker(i):
            try:
                start.wait()
                results[i] = run_episode(policy, episodes[i], threads=2)
            except BaseException as error:  # reported below
                failures.append(error)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    for got, want in zip(results, expected):
        assert [a.tobytes() for a in got] == [a.tobytes() for a in want]


def test_foreign_calls_release_the_gil():
    # ctypes holds the GIL during a call only for PyDLL functions (FUNCFLAG_PYTHONAPI); vlart uses CDLL.
    lib = vlart.load_library()
    assert type(lib) is ctypes.CDLL
    assert not lib.vla_session_step._flags_ & ctypes._FUNCFLAG_PYTHONAPI
    assert not lib.vla_session_reset._flags_ & ctypes._FUNCFLAG_PYTHONAPI
    # The same kind of call, blocking: a thread reads a pipe through a CDLL function while this thread, which
    # needs the GIL to run, writes the byte that lets it return. Holding the GIL in the call would deadlock.
    libc = ctypes.CDLL(None)
    libc.read.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    libc.read.restype = ctypes.c_ssize_t
    readable, writable = os.pipe()
    got = []
    buffer = ctypes.create_string_buffer(1)
    reader = threading.Thread(target=lambda: got.append(libc.read(readable, buffer, 1)), daemon=True)
    reader.start()
    os.write(writable, b"x")
    reader.join(60)  # a watchdog, not a timing: the read returns as soon as the byte is written
    os.close(readable)
    os.close(writable)
    assert got == [1] and buffer.raw == b"x"
