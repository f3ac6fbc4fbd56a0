"""The operator dashboard at /dashboard: static pages, and JSON views for an admin token's scope."""
