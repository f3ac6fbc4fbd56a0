"""Builds the provider adapter of a deployment from its catalog entry."""

from __future__ import annotations

from tokenops.catalog import Deployment, Model
from tokenops.errors import ConfigError
from tokenops.providers.anthropic import AnthropicProvider
from tokenops.providers.base import Provider
from tokenops.providers.client import Upstream
from tokenops.providers.openai_compat import OpenAICompatProvider
from tokenops.providers.simulated import SimulatedProvider
from tokenops.providers.tokenize import Detections


def build_provider(
    deployment: Deployment, model: Model, upstream: Upstream, detections: Detections | None = None
) -> Provider:
    """`detections`: what probing found of each server's tokenize endpoint, kept by the caller across rebuilds."""
    if deployment.provider == "simulated":
        return SimulatedProvider(deployment, model)
    if deployment.provider == "openai":
        return OpenAICompatProvider(upstream, deployment, {} if detections is None else detections)
    if deployment.provider == "anthropic":
        return AnthropicProvider(upstream, deployment, model)
    raise ConfigError(f"deployments[{deployment.id}].provider: {deployment.provider!r} is not available yet")
