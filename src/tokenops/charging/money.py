"""Money: integer minor units for amounts, Decimal for rates, half-up rounding once per charge."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation

from tokenops.errors import ConfigError

MINOR_DIGITS = {"CNY": 2, "USD": 2, "EUR": 2, "JPY": 0}
MTOK = Decimal(1_000_000)


def minor_digits(currency: str) -> int:
    return MINOR_DIGITS.get(currency, 2)


def parse_amount(value: object, currency: str, where: str) -> int:
    """'12.34' (major units, a string or an integer; never a float) to minor units, exactly."""
    if isinstance(value, (bool, float)):
        raise ConfigError(f"{where}: write money as a string or integer, e.g. '12.50'")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: not a decimal amount: {value!r}") from None
    scaled = amount.scaleb(minor_digits(currency))
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise ConfigError(f"{where}: {value!r} has more decimals than {currency} allows")
    return int(scaled)


def parse_rate(value: object, where: str) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ConfigError(f"{where}: write prices as a string or integer, e.g. '2.50'")
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: not a decimal number: {value!r}") from None
    if not rate.is_finite() or rate < 0:
        raise ConfigError(f"{where}: must be a non-negative decimal")
    return rate


def round_half_up(amount: Decimal) -> int:
    """The one rounding of a charge: exact minor units to an integer, half up."""
    return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


def round_up(amount: Decimal) -> int:
    """For reservations: an upper bound is never below the charge it bounds."""
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


def format_amount(minor: int, currency: str) -> str:
    digits = minor_digits(currency)
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"
