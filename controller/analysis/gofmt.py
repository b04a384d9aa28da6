"""Go ``fmt`` number formatting, so Halt messages read exactly like Flagger's.

Flagger writes limits with ``%v`` (``99``, ``0.5``, ``1e+06``) and measured values with ``%.2f``.
Python's ``repr`` gives the same shortest round-trip digits as Go's ``strconv`` (both are exact), so
only the layout rules of Go's ``'g'`` verb with shortest precision need porting: exponent form when
the decimal exponent is below -4 or at least 6 (``strconv/ftoa.go`` ``formatDigits``), the exponent
printed with a sign and at least two digits.
"""

from __future__ import annotations

import math
from decimal import Decimal


def format_go_value(value: float) -> str:
    """Format a float64 like Go's ``fmt.Sprintf("%v", value)``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)  # finite values only past this point
    digits = "".join(str(d) for d in digit_tuple)
    # Position of the decimal point relative to the first digit, as Go's decimal.dp.
    decimal_point = len(digits) + exponent
    sci_exponent = decimal_point - 1
    prefix = "-" if sign else ""
    if sci_exponent < -4 or sci_exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        exp_sign = "-" if sci_exponent < 0 else "+"
        return f"{prefix}{mantissa}e{exp_sign}{abs(sci_exponent):02d}"
    if decimal_point <= 0:
        return f"{prefix}0.{'0' * -decimal_point}{digits}"
    if decimal_point >= len(digits):
        return f"{prefix}{digits}{'0' * (decimal_point - len(digits))}"
    return f"{prefix}{digits[:decimal_point]}.{digits[decimal_point:]}"


def format_go_fixed(value: float, precision: int = 2) -> str:
    """Format a float64 like Go's ``%.Nf`` (correctly rounded, ``NaN``/``+Inf`` spelled as Go does)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.{precision}f}"
