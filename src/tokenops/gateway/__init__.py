"""The gateway: the request path from the client to the upstream and back, one module a step."""
