"""Client APIs: how each API the gateway speaks maps to and from the canonical chat request.

Each API parses its own request body into a `ChatRequest` (OpenAI Chat Completions
form), renders the canonical completion back in its own shape, and encodes the
canonical stream as its own SSE events. The pipeline does everything else.
"""

from tokenops.gateway.apis.base import ClientAPI, StreamEncoder

__all__ = ["ClientAPI", "StreamEncoder"]
