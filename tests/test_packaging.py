"""The wheel as pip builds it: it carries the BSD-3-Clause LICENSE, and a plain
``pip install cellfleet`` pulls no CUDA package and pins Dask to no single release
(``cellfleet[cuda]`` brings dask-cuda and its pin; ``cellfleet[postgres]`` the driver).

The wheel is built offline, with the build backend installed by the ``test`` extra.
"""

from __future__ import annotations

import email.parser
import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
_CUDA = re.compile(r"^(dask-cuda|cuda-.*|rapids-.*|cupy.*|cudf.*|nvidia-(?!ml-py$).*)$")
"""CUDA packages (nvidia-ml-py is NVML's pure-Python binding, which GPU discovery reads)."""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    missing = [name for name in ("hatchling", "hatch_jupyter_builder", "hatch_nodejs_version")
               if importlib.util.find_spec(name) is None]  # fmt: skip
    assert not missing, f"the build backend is missing ({', '.join(missing)}): pip install -e '.[test]'"
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
               "-w", str(out), str(ROOT)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (built,) = out.glob("cellfleet-*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    return email.parser.Parser().parsestr(wheel.read(name).decode())


def _requirements(wheel: zipfile.ZipFile) -> list[Requirement]:
    return [Requirement(line) for line in _metadata(wheel).get_all("Requires-Dist") or []]


def _extras(requirement: Requirement) -> set[str]:
    marker = str(requirement.marker or "")
    return set(re.findall(r"extra == [\"']([^\"']+)[\"']", marker))


def test_the_wheel_carries_the_bsd_license(wheel):
    licenses = [name for name in wheel.namelist() if re.fullmatch(r"[^/]+\.dist-info/licenses/LICENSE", name)]
    assert licenses, wheel.namelist()[-10:]
    text = wheel.read(licenses[0]).decode()
    assert text == (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License") and "Copyright (c) 2026, Cellfleet developers" in text
    metadata = _metadata(wheel)
    assert metadata["License-Expression"] == "BSD-3-Clause" and metadata.get_all("License-File") == ["LICENSE"]


def test_a_plain_install_pulls_no_cuda_package(wheel):
    plain = [r for r in _requirements(wheel) if not _extras(r)]
    assert {"dask", "distributed", "nvidia-ml-py"} <= {canonicalize_name(r.name) for r in plain}
    cuda = [str(r) for r in plain if _CUDA.match(canonicalize_name(r.name))]
    assert not cuda, f"a plain install would pull {cuda}"


def test_dask_is_pinned_to_no_single_release(wheel):
    for requirement in _requirements(wheel):
        if canonicalize_name(requirement.name) in ("dask", "distributed"):
            operators = {spec.operator for spec in requirement.specifier}
            assert not operators & {"==", "===", "~="}, str(requirement)


def test_the_extras_bring_dask_cuda_and_the_postgres_driver(wheel):
    by_extra: dict[str, list[Requirement]] = {}
    for requirement in _requirements(wheel):
        for extra in _extras(requirement):
            by_extra.setdefault(extra, []).append(requirement)
    cuda = {canonicalize_name(r.name): r for r in by_extra["cuda"]}
    assert "dask-cuda" in cuda and {s.operator for s in cuda["dask-cuda"].specifier} == {"=="}
    (postgres,) = by_extra["postgres"]
    assert canonicalize_name(postgres.name) == "psycopg" and postgres.extras == {"binary"}
    assert str(postgres.specifier) == ">=3.1"
