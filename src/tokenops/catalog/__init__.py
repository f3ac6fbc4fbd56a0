"""Tenants, keys, models, deployments and aliases: what the operator sells and where it runs."""

from tokenops.catalog.load import CatalogSpec, load_catalog, parse_catalog
from tokenops.catalog.model import Alias, ApiKey, Catalog, Deployment, Model, Tenant

__all__ = [
    "Alias",
    "ApiKey",
    "Catalog",
    "CatalogSpec",
    "Deployment",
    "Model",
    "Tenant",
    "load_catalog",
    "parse_catalog",
]
