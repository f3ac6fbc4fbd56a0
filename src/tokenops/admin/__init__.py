"""The admin API: keys, tenants, limits, usage, security events, deployments and the audit log."""
