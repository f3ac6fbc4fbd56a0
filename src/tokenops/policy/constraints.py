"""What a candidate catalog changes in the hard constraints as in force, before any traffic runs.

A tenant's residency widened or its isolation loosened, or a dedicated deployment moved to
the shared pool, handed to another tenant or out of its owner's regions: each is a finding,
and a candidate with any finding does not pass, whatever the replayed traffic happened to use.
"""

from __future__ import annotations

from tokenops.catalog import Catalog


def findings(in_force: Catalog, candidate: Catalog) -> list[str]:
    found = []
    for tenant in in_force.tenants.values():
        new = candidate.tenants.get(tenant.id)
        if new is None:
            continue
        wider = sorted(set(new.residency) - set(tenant.residency))
        if wider:
            found.append(f"tenant {tenant.id}: residency widened to {', '.join(wider)}")
        if tenant.isolation == "dedicated" and new.isolation != "dedicated":
            found.append(f"tenant {tenant.id}: isolation loosened from dedicated to {new.isolation}")
    for dep in candidate.deployments.values():
        owner = in_force.tenants.get(dep.tenant or "")
        if owner is not None and dep.region not in owner.residency:
            found.append(f"deployment {dep.id}: dedicated to {owner.id} but in {dep.region}, outside its residency")
    for old in in_force.deployments.values():
        new_dep = candidate.deployments.get(old.id)
        if old.pool != "dedicated" or new_dep is None:
            continue
        if new_dep.pool != "dedicated":
            found.append(f"deployment {old.id}: dedicated to {old.tenant} in force, moved to the shared pool")
        elif new_dep.tenant != old.tenant:
            found.append(f"deployment {old.id}: dedicated to {old.tenant} in force, given to {new_dep.tenant}")
    return found
