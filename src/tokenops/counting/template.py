"""A model's chat template (Jinja), rendered the way inference servers render it.

Servers built on Hugging Face's conventions (vLLM, SGLang, TGI, llama-cpp-python) render
in a sandbox with `trim_blocks` and `lstrip_blocks`, loop controls, a `tojson` filter that
keeps non-ASCII text, `raise_exception` and `strftime_now`; the `{% generation %}` tag
some templates carry only marks text and renders as its body.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tokenops.errors import ConfigError


class TemplateRefused(ValueError):
    """The template itself refused the conversation (`raise_exception`): the server would refuse it too."""


class _Generation(jinja2.ext.Extension):
    tags = {"generation"}

    def parse(self, parser: Any) -> Any:
        parser.stream.skip(1)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:  # fmt: skip
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise(message: str) -> None:
    raise TemplateRefused(message)


def _now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class ChatTemplate:
    def __init__(self, source: str, bos_token: str = "", eos_token: str = "", where: str = "chat template") -> None:
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, jinja2.ext.loopcontrols]
        )
        env.filters["tojson"] = _tojson
        try:
            self._template = env.from_string(source)
        except jinja2.TemplateError as exc:
            raise ConfigError(f"{where}: the chat template does not parse ({exc})") from None
        self.source = source
        self._globals = {"bos_token": bos_token, "eos_token": eos_token}

    def render(self, messages: list[Any], tools: Any = None) -> str:
        """The prompt text the server builds for these messages, ending with the assistant's turn opened."""
        try:
            return self._template.render(
                messages=messages, tools=tools or None, add_generation_prompt=True,
                raise_exception=_raise, strftime_now=_now, **self._globals,
            )  # fmt: skip
        except TemplateRefused:
            raise
        except Exception as exc:  # a template written for other message shapes: not exact for this request
            raise TemplateRefused(f"the chat template failed on this conversation: {exc}") from exc
