"""The catalog as frozen objects: tenants, keys, models, deployments, aliases.

A `Catalog` is an immutable snapshot; the request path reads it without locks and a
change builds a new snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

TenantKind = Literal["enterprise", "government", "consumer"]
Isolation = Literal["shared", "dedicated"]
ModelKind = Literal["chat", "embedding"]
ProviderKind = Literal["simulated", "openai", "anthropic"]
Strategy = Literal["least_busy", "weighted", "lowest_latency", "lowest_cost"]
STRATEGIES: tuple[str, ...] = ("least_busy", "weighted", "lowest_latency", "lowest_cost")
# Tokenizer families counted exactly offline (the encodings `tokenops.bpe` ships), and `estimate`
# for a model whose counts can only be estimated when its upstream sends no usage.
EXACT_TOKENIZERS: tuple[str, ...] = ("cl100k", "o200k")
TOKENIZERS: tuple[str, ...] = (*EXACT_TOKENIZERS, "estimate")
# The tokenize endpoints a deployment's server may offer, for its own count when it sends no usage:
# `auto` probes for one, `none` never asks.
TOKENIZE_STYLES: tuple[str, ...] = ("vllm", "llama.cpp", "llama-cpp-python", "tgi")
TOKENIZE_CHOICES: tuple[str, ...] = ("auto", "none", *TOKENIZE_STYLES)


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    kind: TenantKind
    sector: str
    residency: tuple[str, ...]
    isolation: Isolation
    models: tuple[str, ...]
    content_logging: bool = False
    routing_threshold: float | None = None  # this tenant's threshold for complexity-routed aliases
    compaction: Literal["off", "threshold"] = "off"  # off: the client gets the context-length error
    compaction_threshold: float = 0.85  # of the serving model's window, after the reply's cap
    compaction_target: float = 0.6
    retention_days: int = 30  # how long archived transcripts are kept (when content may be stored)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    tenant_id: str
    key_hash: str
    prefix: str
    models: tuple[str, ...] = ()  # empty: every model the tenant may use
    status: Literal["active", "revoked", "suspended"] = "active"
    expires_at: str | None = None


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    kind: ModelKind
    context_window: int
    tokenizer: str  # a family of TOKENIZERS, or the absolute path of the model's tokenizer file
    max_output_tokens: int = 4096
    dimensions: int = 256
    strategy: Strategy = "least_busy"


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    model: str
    provider: ProviderKind
    region: str
    pool: Isolation
    tenant: str | None  # owner of a dedicated deployment
    upstream_model: str
    base_url: str | None = None
    api_key_env: str | None = None
    input_cost_per_mtok: Decimal = Decimal(0)
    output_cost_per_mtok: Decimal = Decimal(0)
    weight: int = 1
    capacity: int = 0  # concurrent requests it can take; 0: unbounded
    timeout_s: float = 600.0
    simulate: dict[str, Any] = field(default_factory=dict)
    tokenize: str = "auto"  # one of TOKENIZE_CHOICES


@dataclass(frozen=True, slots=True)
class Alias:
    name: str
    target: str
    strategy: Strategy | None = None  # overrides the target model's strategy
    fallbacks: tuple[str, ...] = ()  # models tried, in order, when every deployment of the target fails
    router: Literal["complexity"] | None = None  # choose between `weak` and `strong` per request
    weak: str | None = None
    strong: str | None = None
    threshold: float = 0.5  # scores at or above it go to `strong`


@dataclass(frozen=True, slots=True)
class Catalog:
    tenants: dict[str, Tenant]
    keys: dict[str, ApiKey]  # by key hash
    models: dict[str, Model]
    deployments: dict[str, Deployment]
    aliases: dict[str, Alias]
    _by_model: dict[str, list[Deployment]] = field(init=False, repr=False, compare=False)

    def resolve_model(self, name: str) -> Model | None:
        alias = self.aliases.get(name)
        return self.models.get(alias.target if alias else name)

    def deployments_of(self, model: str) -> list[Deployment]:
        return self._by_model.get(model, [])

    def __post_init__(self) -> None:
        by_model: dict[str, list[Deployment]] = {}
        for d in self.deployments.values():
            by_model.setdefault(d.model, []).append(d)
        object.__setattr__(self, "_by_model", by_model)
