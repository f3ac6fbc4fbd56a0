"""Security: the traffic guard, bulk-extraction detection and the responses to it."""

from tokenops.security.guard import Admission, Guard

__all__ = ["Admission", "Guard"]
