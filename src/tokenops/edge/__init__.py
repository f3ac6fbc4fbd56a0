"""The edge: the ASGI application every surface is mounted on (client APIs, admin API, dashboard, metrics)."""
