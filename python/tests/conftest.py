"""Fixtures: libvlart, the vlac command and a compiled hypervla-tiny policy (reset + step, three shared blobs).

`make test` sets VLART_LIBRARY and VLAC to the debug build's libvlart.so and vlac; run by hand, the tests look for
them in the repository's .build/debug.
"""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _built(variable: str, name: str) -> str:
    path = os.environ.get(variable) or str(ROOT / ".build" / "debug" / name)
    if not os.path.exists(path):
        pytest.exit(f"{path} does not exist: build it with `swift build --product {name.removeprefix('lib').removesuffix('.so')}` "
                    f"or set {variable}", returncode=2)
    return path


@pytest.fixture(scope="session")
def vlac() -> str:
    return _built("VLAC", "vlac")


@pytest.fixture(scope="session", autouse=True)
def library() -> str:
    path = _built("VLART_LIBRARY", "libvlart.so")
    import vlart
    vlart.load_library(path)
    return path


@pytest.fixture(scope="session")
def compiled(tmp_path_factory, vlac) -> pathlib.Path:
    """OUT of `vlac compile` on the demo model for google_robot with the crop: OUT/policies/*.vla, OUT/shared."""
    out = tmp_path_factory.mktemp("tiny")
    (out / "tasks.txt").write_text("pick up the coke can\n")
    subprocess.run([vlac, "compile", "--instructions", str(out / "tasks.txt"), "--model",
                    str(ROOT / "Examples" / "hypervla-tiny" / "model"), "--crop", "--robot", "google_robot",
                    "-o", str(out / "out")], check=True, capture_output=True)
    return out / "out"


@pytest.fixture(scope="session")
def policy_path(compiled) -> pathlib.Path:
    (policy,) = sorted((compiled / "policies").glob("*.vla"))
    return policy
