"""Complexity routing: score a chat request's need for the strong model, and measure routers."""

from tokenops.routing.model import ComplexityRouter

__all__ = ["ComplexityRouter"]
