"""Money: integer accounting units for amounts, Decimal for rates.

The accounting unit is a millionth of the major unit (10^-6 CNY, USD, EUR, JPY…) for
every currency, far finer than any minor unit, so a request that costs 0.0003 CNY is
charged 300 units, not rounded away. A signed 64-bit count of units holds 9.2 trillion
major units. A charge is rated exactly and rounded half up once, to the unit.

Rounding to the currency's minor unit (fen, cent; none for JPY) happens only where
money meets a customer: an invoice line, a receipt, a shown balance. The rule, once:
half up on the account's running total (see `invoice.py`), so what a line's rounding
leaves over is carried to the next line and period, never dropped.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation

from tokenops.errors import ConfigError

MINOR_DIGITS = {"CNY": 2, "USD": 2, "EUR": 2, "JPY": 0}
UNIT_DIGITS = 6  # amounts are integer millionths of the major unit
UNIT = Decimal(10) ** UNIT_DIGITS
MTOK = Decimal(1_000_000)


def minor_digits(currency: str) -> int:
    return MINOR_DIGITS.get(currency, 2)


def minor_step(currency: str) -> int:
    """Accounting units in one minor unit (10,000 for the fen and the cent)."""
    return int(10 ** (UNIT_DIGITS - minor_digits(currency)))


def parse_amount(value: object, currency: str, where: str) -> int:
    """'12.34' (major units, a string or an integer; never a float; at most the minor unit's decimals)
    to accounting units, exactly."""
    if isinstance(value, (bool, float)):
        raise ConfigError(f"{where}: write money as a string or integer, e.g. '12.50'")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: not a decimal amount: {value!r}") from None
    minor = amount.scaleb(minor_digits(currency))
    if not minor.is_finite() or minor != minor.to_integral_value():
        raise ConfigError(f"{where}: {value!r} has more decimals than {currency} allows")
    return int(minor) * minor_step(currency)


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
    """The one rounding of a charge: exact accounting units to an integer, half up."""
    return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


def round_up(amount: Decimal) -> int:
    """For reservations: an upper bound is never below the charge it bounds."""
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


def to_minor(units: int, currency: str) -> int:
    """Accounting units to whole minor units, half up (away from zero for debits, as for credits)."""
    step = minor_step(currency)
    whole, rest = divmod(abs(units), step)
    rounded = whole + (1 if 2 * rest >= step else 0)
    return rounded if units >= 0 else -rounded


def format_minor(minor: int, currency: str) -> str:
    digits = minor_digits(currency)
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"


def format_amount(units: int, currency: str) -> str:
    """What a customer is shown: the amount rounded half up to the minor unit, e.g. '12.35'."""
    return format_minor(to_minor(units, currency), currency)


def format_exact(units: int) -> str:
    """The amount to the accounting unit, e.g. '0.000300' (costs per request, ledger entries)."""
    return f"{Decimal(units).scaleb(-UNIT_DIGITS):.{UNIT_DIGITS}f}"


def rate_units(token_price_sum: Decimal) -> int:
    """Σ tokens * price per million tokens (major units) to accounting units, rounded once, half up.
    Revenue and upstream cost are both rated so, per request: a price at or above cost never
    rates below it."""
    return round_half_up(token_price_sum * UNIT / MTOK)
