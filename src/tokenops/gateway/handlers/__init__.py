"""HTTP handlers: each composes the path's steps for one endpoint and stays thin."""
