"""Builds the provider adapter of a deployment from its catalog entry."""

from __future__ import annotations

import aiohttp

from tokenops.catalog import Deployment, Model
from tokenops.errors import ConfigError
from tokenops.providers.anthropic import AnthropicProvider
from tokenops.providers.base import Provider
from tokenops.providers.openai_compat import OpenAICompatProvider
from tokenops.providers.simulated import SimulatedProvider


def build_provider(deployment: Deployment, model: Model, session: aiohttp.ClientSession) -> Provider:
    if deployment.provider == "simulated":
        return SimulatedProvider(deployment, model)
    if deployment.provider == "openai":
        return OpenAICompatProvider(session, deployment)
    if deployment.provider == "anthropic":
        return AnthropicProvider(session, deployment, model)
    raise ConfigError(f"deployments[{deployment.id}].provider: {deployment.provider!r} is not available yet")
