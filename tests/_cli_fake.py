"""The aip-sdk CLI with the scripted fake registered (as ``scripted`` and, slowed down, ``slow``),
for tests of the CLI's own behaviour (signals, resume) where the model is not the point; ``slow``
and ``sleepy`` sleep 0.05 s and 2 s per call, so that a run lasts long enough to interrupt."""

from __future__ import annotations

import sys

import attrs

from aip_sdk import register_backend
from aip_sdk.testing import ScriptedBackend


@attrs.define
class SlowScripted(ScriptedBackend):
    delay: float = 0.05


@attrs.define
class SleepyScripted(ScriptedBackend):
    delay: float = 2.0


register_backend("scripted", ScriptedBackend, override=True)
register_backend("slow", SlowScripted, override=True)
register_backend("sleepy", SleepyScripted, override=True)

if __name__ == "__main__":
    from aip_sdk.cli import main

    sys.exit(main())
