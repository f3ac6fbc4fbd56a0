"""The one error hierarchy: every error carries its HTTP status and API error type.

Lower-level errors (JSON, YAML, upstream HTTP) are mapped to these at the boundary;
`gateway.render` is the one place that turns them into response bodies.
"""

from __future__ import annotations


class TokenopsError(Exception):
    status = 500
    type = "server_error"
    anthropic_type = "api_error"
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.headers = headers or {}


class BadRequest(TokenopsError):
    status = 400
    type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    code = "invalid_request"


class ContextLengthExceeded(BadRequest):
    code = "context_length_exceeded"


class AuthenticationFailed(TokenopsError):
    status = 401
    type = "authentication_error"
    anthropic_type = "authentication_error"
    code = "invalid_api_key"


class InsufficientFunds(TokenopsError):
    status = 402
    type = "insufficient_quota"
    anthropic_type = "billing_error"
    code = "insufficient_balance"


class PermissionDenied(TokenopsError):
    status = 403
    type = "permission_error"
    anthropic_type = "permission_error"
    code = "forbidden"


class NotFound(TokenopsError):
    status = 404
    type = "invalid_request_error"
    anthropic_type = "not_found_error"
    code = "not_found"


class MethodNotAllowed(TokenopsError):
    status = 405
    type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    code = "method_not_allowed"


class Conflict(TokenopsError):
    """The request clashes with what is stored, e.g. an idempotency key reused with a different body."""

    status = 409
    type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    code = "conflict"


class PayloadTooLarge(TokenopsError):
    status = 413
    type = "invalid_request_error"
    anthropic_type = "request_too_large"
    code = "request_too_large"


class UnsupportedMediaType(TokenopsError):
    status = 415
    type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    code = "unsupported_media_type"


class RateLimited(TokenopsError):
    status = 429
    type = "rate_limit_error"
    anthropic_type = "rate_limit_error"
    code = "rate_limit"


class UpstreamError(TokenopsError):
    status = 502
    type = "upstream_error"
    anthropic_type = "api_error"
    code = "upstream_error"


class ServiceUnavailable(TokenopsError):
    status = 503
    type = "service_unavailable"
    anthropic_type = "overloaded_error"
    code = "no_healthy_deployment"


class UpstreamTimeout(TokenopsError):
    status = 504
    type = "timeout"
    anthropic_type = "api_error"
    code = "upstream_timeout"


class ConfigError(Exception):
    """A catalog or setting is invalid; the message names the offending field."""
