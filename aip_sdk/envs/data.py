"""Where benchmark data is read from.

A suite reads its instances from a folder (``--data PATH``); without one it looks for
``<root>/<suite folder>`` where ``<root>`` is ``$AIP_SDK_DATA``, else ``../shared/data`` next to the
current directory or next to this source checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from aip_sdk.errors import DataError

__all__ = ["DATA_ENV_VAR", "resolve_data_dir"]

DATA_ENV_VAR = "AIP_SDK_DATA"


def _roots() -> list[Path]:
    roots = []
    if os.environ.get(DATA_ENV_VAR):
        roots.append(Path(os.environ[DATA_ENV_VAR]).expanduser())
    cwd = Path.cwd()
    roots += [cwd / "shared" / "data", cwd.parent / "shared" / "data"]
    here = Path(__file__).resolve()
    roots += [p / "shared" / "data" for p in here.parents[:5]]
    return roots


def resolve_data_dir(folder: str, data: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding a suite's data.

    Args:
        folder: the suite's sub-folder under the data root (e.g. ``"planbench"``).
        data: an explicit folder laid out like ``<root>/<folder>``; wins when given.

    Raises:
        DataError: the folder does not exist.
    """
    if data is not None:
        path = Path(data).expanduser()
        if not path.is_dir():
            raise DataError(f"data folder {str(path)!r} does not exist; pass an existing --data")
        return path
    tried = []
    for root in _roots():
        cand = root / folder
        tried.append(str(cand))
        if cand.is_dir():
            return cand
    raise DataError(
        f"no {folder!r} data found (looked in {', '.join(tried[:3])}, ...); pass --data PATH or "
        f"set {DATA_ENV_VAR} to the folder that holds {folder}/"
    )
