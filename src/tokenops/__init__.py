"""tokenops: a token operations platform — an OpenAI- and Anthropic-compatible gateway that meters,
charges, routes and protects every token."""

__version__ = "0.1.0"
