"""Read and validate a YAML catalog; every error names the offending field."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import orjson
import yaml

from tokenops.catalog.model import STRATEGIES, TOKENIZE_CHOICES, TOKENIZERS, Alias, Deployment, Model, Tenant
from tokenops.errors import ConfigError
from tokenops.tokenize import is_tokenizer_file, load_counter

T = TypeVar("T")

_TENANT_KINDS = ("enterprise", "government", "consumer")
_ISOLATION = ("shared", "dedicated")
_MODEL_KINDS = ("chat", "embedding")
_PROVIDERS = ("simulated", "openai", "anthropic")


@dataclass(frozen=True, slots=True)
class KeySpec:
    id: str
    tenant_id: str
    plaintext: str | None
    key_hash: str | None
    models: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CatalogSpec:
    """A catalog as written in YAML: keys may still be plaintext (hashed when seeded)."""

    tenants: dict[str, Tenant]
    keys: list[KeySpec]
    models: dict[str, Model]
    deployments: dict[str, Deployment]
    aliases: dict[str, Alias]
    raw: dict[str, Any]
    fingerprint: dict[str, Any] = field(default_factory=dict)  # `fingerprint_of` the file it was read from


# The catalog's sections in the groups that seed separately: a group whose sections are unchanged
# since the store was last seeded is not seeded again (see `changed_groups`).
SECTION_GROUPS: dict[str, tuple[str, ...]] = {
    "catalog": ("models", "aliases", "tenants", "deployments"),
    "charging": ("prices", "packages", "plans", "accounts", "budgets", "settings"),
    "admin": ("admin", "limits", "policies", "routing", "alerts"),
}


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint_of(data: bytes, raw: dict[str, Any]) -> dict[str, Any]:
    """What the store keeps of a catalog it was seeded from: the file's digest, and each group of sections'."""
    groups = {}
    for group, sections in SECTION_GROUPS.items():
        body = orjson.dumps({s: raw.get(s) for s in sections}, option=orjson.OPT_SORT_KEYS, default=str)
        groups[group] = hashlib.sha256(body).hexdigest()
    return {"file": file_digest(data), "groups": groups}


def changed_groups(fingerprint: dict[str, Any], seeded: dict[str, Any] | None) -> set[str]:
    """The groups of sections that differ from the catalog the store was last seeded from (all, if none)."""
    before = (seeded or {}).get("groups") or {}
    return {g for g, digest in fingerprint.get("groups", {}).items() if before.get(g) != digest} or (
        set() if seeded else set(SECTION_GROUPS)
    )


class _Obj:
    """A mapping being read, which knows its path for error messages."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: must be a mapping")
        self.data = data
        self.path = path
        self.seen: set[str] = set()

    def _get(self, name: str, kind: type[T] | tuple[type, ...], required: bool, default: Any) -> Any:
        self.seen.add(name)
        if name not in self.data or self.data[name] is None:
            if required:
                raise ConfigError(f"{self.path}.{name}: required field is missing")
            return default
        value = self.data[name]
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise ConfigError(f"{self.path}.{name}: must be a number, got a boolean")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise ConfigError(f"{self.path}.{name}: must be {names}, got {type(value).__name__}")
        return value

    def text(self, name: str, default: str | None = None, *, required: bool = True) -> Any:
        value = self._get(name, str, required and default is None, default)
        if required and value == "":
            raise ConfigError(f"{self.path}.{name}: must not be empty")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> Any:
        value = self.text(name, default)
        if value not in options:
            raise ConfigError(f"{self.path}.{name}: must be one of {', '.join(options)}, got {value!r}")
        return value

    def integer(self, name: str, default: int | None = None, *, minimum: int = 0) -> Any:
        value = self._get(name, int, default is None, default)
        if value < minimum:
            raise ConfigError(f"{self.path}.{name}: must be at least {minimum}")
        return value

    def number(self, name: str, default: float) -> float:
        value = self._get(name, (int, float), False, default)
        if value < 0:
            raise ConfigError(f"{self.path}.{name}: must not be negative")
        return float(value)

    def decimal(self, name: str) -> Decimal:
        self.seen.add(name)
        value = self.data.get(name, 0)
        if isinstance(value, (bool, float)):
            raise ConfigError(f"{self.path}.{name}: write money as a string or integer, e.g. '0.60'")
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            raise ConfigError(f"{self.path}.{name}: not a decimal number: {value!r}") from None
        if not result.is_finite() or result < 0:
            raise ConfigError(f"{self.path}.{name}: must be a non-negative decimal")
        return result

    def strs(self, name: str, *, required: bool = False) -> tuple[str, ...]:
        value = self._get(name, list, required, [])
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise ConfigError(f"{self.path}.{name}[{i}]: must be a non-empty string")
        if required and not value:
            raise ConfigError(f"{self.path}.{name}: must list at least one entry")
        return tuple(value)

    def mapping(self, name: str) -> dict[str, Any]:
        return dict(self._get(name, dict, False, {}))

    def items(self, name: str) -> list[_Obj]:
        value = self._get(name, list, False, [])
        return [_Obj(item, f"{self.path}.{name}[{i}]") for i, item in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ConfigError(f"{self.path}.{unknown[0]}: unknown field")


def read_catalog_file(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read catalog: {exc.strerror}") from None


def parse_document(data: bytes, path: str | Path) -> Any:
    """The catalog file's data: YAML through libyaml where PyYAML has it; a catalog written as JSON (JSON is
    YAML too, and what tooling that generates tens of thousands of tenants tends to write) parses in a fraction
    of the time."""
    if data.lstrip()[:1] == b"{":
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # YAML's flow style starts with a brace too
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8: {exc}") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # the safe loader, in C where built
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def load_catalog(path: str | Path) -> CatalogSpec:
    data = read_catalog_file(path)
    raw = parse_document(data, path) or {}
    spec = parse_catalog(raw, Path(path).parent)
    return dataclasses.replace(spec, fingerprint=fingerprint_of(data, spec.raw))


def parse_catalog(data: Any, base: Path | None = None) -> CatalogSpec:
    """A catalog from its parsed YAML; relative tokenizer paths are read from `base` (the catalog's folder)."""
    root = _Obj(data, "catalog")
    models = _unique((_model(o, base) for o in root.items("models")), "models", lambda m: m.name)
    aliases = _unique((_alias(o) for o in root.items("aliases")), "aliases", lambda a: a.name)
    tenants: dict[str, Tenant] = {}
    keys: list[KeySpec] = []
    for obj in root.items("tenants"):
        tenant, tenant_keys = _tenant(obj)
        if tenant.id in tenants:
            raise ConfigError(f"{obj.path}.id: duplicate tenant id {tenant.id!r}")
        tenants[tenant.id] = tenant
        keys.extend(tenant_keys)
    deployments = _unique((_deployment(o) for o in root.items("deployments")), "deployments", lambda d: d.id)
    for name in ("settings", "prices", "accounts", "packages", "plans", "budgets", "limits", "admin", "routing",
                 "policies", "alerts"):  # fmt: skip
        root.seen.add(name)  # sections owned by other parts of the system
    root.done()
    _cross_check(tenants, keys, models, deployments, aliases)
    return CatalogSpec(tenants, keys, models, deployments, aliases, dict(data))


def _unique(items: Any, section: str, key: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        k = key(item)
        if k in out:
            raise ConfigError(f"catalog.{section}[{i}]: duplicate name {k!r}")
        out[k] = item
    return out


def _tokenizer(o: _Obj, base: Path | None) -> str:
    """A known tokenizer family (`cl100k_base` is read as `cl100k`) or the model's own tokenizer file (a GGUF
    model file, a tokenizer.json or its folder), read now so a file that cannot count fails here; any other word
    is an error, not an estimate."""
    value = str(o.text("tokenizer", "cl100k")).removesuffix("_base")
    if is_tokenizer_file(value):
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        value = str(path.resolve())
        try:
            load_counter(value)
        except ConfigError as exc:
            raise ConfigError(f"{o.path}.tokenizer: {exc}") from None
        return value
    if value not in TOKENIZERS:
        raise ConfigError(
            f"{o.path}.tokenizer: unknown tokenizer family {value!r}; known families: {', '.join(TOKENIZERS)}, "
            "or the path of the model's tokenizer file (a .gguf model file, a tokenizer.json or its folder); "
            "use 'estimate' for a model that can only be estimated when its upstream sends no usage"
        )
    return value


def _model(o: _Obj, base: Path | None) -> Model:
    model = Model(
        name=o.text("name"),
        kind=o.choice("kind", _MODEL_KINDS, "chat"),
        context_window=o.integer("context_window", minimum=1),
        tokenizer=_tokenizer(o, base),
        max_output_tokens=o.integer("max_output_tokens", 4096, minimum=1),
        dimensions=o.integer("dimensions", 256, minimum=1),
        strategy=o.choice("strategy", STRATEGIES, "least_busy"),
    )
    o.done()
    return model


def _alias(o: _Obj) -> Alias:
    strategy = o.choice("strategy", STRATEGIES, "least_busy") if o.data.get("strategy") is not None else None
    o.seen.add("strategy")
    router = o.choice("router", ("complexity",)) if o.data.get("router") is not None else None
    o.seen.add("router")
    weak = o.text("weak", required=router is not None)
    strong = o.text("strong", required=router is not None)
    target = o.text("target", strong)
    threshold = o.number("threshold", 0.5)
    if threshold > 1:
        raise ConfigError(f"{o.path}.threshold: must be between 0 and 1")
    alias = Alias(
        name=o.text("name"),
        target=target,
        strategy=strategy,
        fallbacks=o.strs("fallbacks"),
        router=router,
        weak=weak,
        strong=strong,
        threshold=threshold,
    )
    o.done()
    return alias


def _tenant(o: _Obj) -> tuple[Tenant, list[KeySpec]]:
    tenant = Tenant(
        id=o.text("id"),
        name=o.text("name", o.data.get("id") or ""),
        kind=o.choice("kind", _TENANT_KINDS),
        sector=o.text("sector", "general"),
        residency=o.strs("residency", required=True),
        isolation=o.choice("isolation", _ISOLATION, "shared"),
        models=o.strs("models", required=True),
        content_logging=bool(o._get("content_logging", bool, False, False)),
        routing_threshold=o.number("routing_threshold", -1.0) if "routing_threshold" in o.data else None,
    )
    if tenant.routing_threshold is not None and not 0 <= tenant.routing_threshold <= 1:
        raise ConfigError(f"{o.path}.routing_threshold: must be between 0 and 1")
    if "compaction" in o.data:
        tenant = _with_compaction(tenant, _Obj(o.data["compaction"], f"{o.path}.compaction"))
    o.seen.add("compaction")
    tenant = dataclasses.replace(tenant, retention_days=o.integer("retention_days", 30, minimum=1))
    keys = []
    for k in o.items("keys"):
        plaintext = k.text("key", required=False)
        key_hash = k.text("key_hash", required=False)
        if (plaintext is None) == (key_hash is None):
            raise ConfigError(f"{k.path}: give exactly one of key (plaintext, demo only) or key_hash")
        keys.append(KeySpec(k.text("id"), tenant.id, plaintext, key_hash, k.strs("models")))
        k.done()
    o.done()
    return tenant, keys


def _with_compaction(tenant: Tenant, c: _Obj) -> Tenant:
    mode = c.choice("mode", ("off", "threshold"), "threshold")
    threshold = c.number("threshold", 0.85)
    target = c.number("target", 0.6)
    if not 0 < target <= threshold <= 1:
        raise ConfigError(f"{c.path}: need 0 < target <= threshold <= 1")
    c.done()
    return dataclasses.replace(tenant, compaction=mode, compaction_threshold=threshold, compaction_target=target)


def _deployment(o: _Obj) -> Deployment:
    pool = o.choice("pool", _ISOLATION, "shared")
    dep = Deployment(
        id=o.text("id"),
        model=o.text("model"),
        provider=o.choice("provider", _PROVIDERS),
        region=o.text("region"),
        pool=pool,
        tenant=o.text("tenant", required=pool == "dedicated"),
        upstream_model=o.text("upstream_model", o.data.get("model") or ""),
        base_url=o.text("base_url", required=False),
        api_key_env=o.text("api_key_env", required=False),
        input_cost_per_mtok=o.decimal("input_cost_per_mtok"),
        output_cost_per_mtok=o.decimal("output_cost_per_mtok"),
        weight=o.integer("weight", 1, minimum=0),
        capacity=o.integer("capacity", 0, minimum=0),
        timeout_s=o.number("timeout_s", 600.0),
        simulate=o.mapping("simulate"),
        tokenize=o.choice("tokenize", TOKENIZE_CHOICES, "auto"),
    )
    if dep.provider != "simulated" and not dep.base_url:
        raise ConfigError(f"{o.path}.base_url: required for provider {dep.provider}")
    if dep.pool == "shared" and dep.tenant:
        raise ConfigError(f"{o.path}.tenant: only a dedicated deployment belongs to a tenant")
    o.done()
    return dep


def _cross_check(
    tenants: dict[str, Tenant],
    keys: list[KeySpec],
    models: dict[str, Model],
    deployments: dict[str, Deployment],
    aliases: dict[str, Alias],
) -> None:
    for i, alias in enumerate(aliases.values()):
        if alias.target not in models:
            raise ConfigError(f"catalog.aliases[{i}].target: unknown model {alias.target!r}")
        if alias.name in models:
            raise ConfigError(f"catalog.aliases[{i}].name: {alias.name!r} is already a model name")
        for side in ("weak", "strong"):
            name = getattr(alias, side)
            if name is not None and (name not in models or models[name].kind != "chat"):
                raise ConfigError(f"catalog.aliases[{i}].{side}: unknown chat model {name!r}")
        for j, fallback in enumerate(alias.fallbacks):
            if fallback not in models or models[fallback].kind != models[alias.target].kind:
                raise ConfigError(
                    f"catalog.aliases[{i}].fallbacks[{j}]: unknown {models[alias.target].kind} model {fallback!r}"
                )
    for i, tenant in enumerate(tenants.values()):
        for j, name in enumerate(tenant.models):
            if name not in models and name not in aliases:
                raise ConfigError(f"catalog.tenants[{i}].models[{j}]: unknown model {name!r}")
    seen: set[str] = set()
    for key in keys:
        if key.id in seen:
            raise ConfigError(f"catalog.tenants[{key.tenant_id}].keys: duplicate key id {key.id!r}")
        seen.add(key.id)
    for i, dep in enumerate(deployments.values()):
        if dep.model not in models:
            raise ConfigError(f"catalog.deployments[{i}].model: unknown model {dep.model!r}")
        if dep.tenant is not None:
            owner = tenants.get(dep.tenant)
            if owner is None:
                raise ConfigError(f"catalog.deployments[{i}].tenant: unknown tenant {dep.tenant!r}")
            if owner.isolation != "dedicated":
                raise ConfigError(f"catalog.deployments[{i}].tenant: tenant {dep.tenant!r} is not dedicated")
