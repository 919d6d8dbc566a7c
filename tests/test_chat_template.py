"""The one chat-template renderer every in-process runtime uses."""

from __future__ import annotations

import pytest

from aip_sdk import ConfigError
from aip_sdk.chat_template import render_chat_template

HF_STYLE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{% continue %}{% endif %}"
    "<{{ m['role'] }}>{% generation %}{{ m['content'] | tojson }}{% endgeneration %}"
    "{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
)


def test_renders_transformers_style_templates():
    """Loop controls, the generation tag and tojson without ASCII escapes, as transformers and
    llama-cpp-python render them."""
    messages = [
        {"role": "system", "content": "skipped"},
        {"role": "user", "content": "café"},
    ]
    out = render_chat_template(
        HF_STYLE, messages, add_generation_prompt=True, bos_token="<s>", eos_token="</s>"
    )
    assert out == '<s><user>"café"</s><assistant>'
    out = render_chat_template(
        HF_STYLE, messages, add_generation_prompt=False, bos_token="", eos_token="|"
    )
    assert out == '<user>"café"|'


def test_a_template_that_rejects_the_messages_is_a_config_error():
    template = (
        "{% if messages[0]['role'] != 'user' %}{{ raise_exception('user first') }}{% endif %}"
    )
    with pytest.raises(ConfigError, match="user first"):
        render_chat_template(
            template,
            [{"role": "assistant", "content": "x"}],
            add_generation_prompt=True,
            bos_token="",
            eos_token="",
        )
    with pytest.raises(ConfigError, match="chat template"):
        render_chat_template(
            "{% for %}", [], add_generation_prompt=True, bos_token="", eos_token=""
        )
