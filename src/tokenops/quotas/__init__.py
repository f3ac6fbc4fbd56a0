"""End-user quotas for consumer tenants: per end user, tokens or money per UTC day or month."""

from tokenops.quotas.config import Quota, TenantQuotas, parse_policies, parse_quotas, parse_tenant_quotas
from tokenops.quotas.service import Crossing, EndUserQuotas, QuotaTicket, period_bounds

__all__ = [
    "Crossing",
    "EndUserQuotas",
    "Quota",
    "QuotaTicket",
    "TenantQuotas",
    "parse_policies",
    "parse_quotas",
    "parse_tenant_quotas",
    "period_bounds",
]
