"""Render a model's own chat template (the ``tokenizer.chat_template`` of a GGUF file).

An in-process runtime declares its model's template once, as a :class:`ChatTemplate`, and the
engine renders every prompt through it (:func:`render_chat_template`), so two backends on the
same model build the same prompt. The Jinja setup is the one ``transformers`` and
llama-cpp-python use (a sandbox, ``trim_blocks``/``lstrip_blocks``, loop controls, ``tojson``
without ASCII escaping, ``strftime_now``, and the ``{% generation %}`` tag passed through), so
templates written for them render here unchanged. Needs ``jinja2``, a dependency of every backend
plugin that renders templates; it is imported on the first render, not with ``aip_sdk``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from aip_sdk.backend import ChatMessage
from aip_sdk.errors import ConfigError

__all__ = ["ChatTemplate", "render_chat_template"]


def _tojson(
    x: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@functools.lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    """The compiled template (compiled once: the Planner renders a prompt every step)."""
    import jinja2.ext
    from jinja2 import BaseLoader
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Generation(jinja2.ext.Extension):
        """Pass-through for Hugging Face's ``{% generation %}`` tag."""

        tags = {"generation"}  # noqa: RUF012 (jinja2 declares it an instance attribute)

        def parse(self, parser: Any) -> Any:
            parser.stream.skip(1)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    env = ImmutableSandboxedEnvironment(
        loader=BaseLoader(),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_Generation, jinja2.ext.loopcontrols],
    )
    env.filters["tojson"] = _tojson
    return env.from_string(template)


def render_chat_template(
    template: str,
    messages: Sequence[ChatMessage],
    *,
    add_generation_prompt: bool,
    bos_token: str,
    eos_token: str,
) -> str:
    """``messages`` rendered with ``template``.

    Raises:
        ConfigError: the template is broken or rejected the messages (its ``raise_exception``).
    """
    from jinja2.exceptions import TemplateError

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    try:
        return str(
            _compile(template).render(
                messages=[dict(m) for m in messages],
                raise_exception=raise_exception,
                add_generation_prompt=add_generation_prompt,
                bos_token=bos_token,
                eos_token=eos_token,
                strftime_now=_strftime_now,
            )
        )
    except TemplateError as exc:
        raise ConfigError(f"the model's chat template rejected the messages: {exc}") from exc


@attrs.frozen(kw_only=True)
class ChatTemplate:
    """A model's chat template with the texts of its special tokens, as a runtime declares it.

    Attributes:
        source: the Jinja source (``tokenizer.chat_template``).
        bos_token: the text of the beginning-of-sequence token (``""`` where there is none).
        eos_token: the text of the end-of-sequence token.
    """

    source: str
    bos_token: str
    eos_token: str

    def render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool) -> str:
        """``messages`` rendered (see :func:`render_chat_template`)."""
        return render_chat_template(
            self.source,
            messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )
