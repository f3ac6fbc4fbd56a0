"""Provider adapters: pure translators between our canonical request and each upstream."""

from tokenops.providers.base import ChatResult, ChatStream, EmbedResult, Provider, Usage
from tokenops.providers.registry import build_provider

__all__ = ["ChatResult", "ChatStream", "EmbedResult", "Provider", "Usage", "build_provider"]
