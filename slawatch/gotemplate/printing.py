"""Go's fmt for alert templates: the verbs, `%v` of floats, Sprint and Sprintf.

Prometheus prints every template value with Go's fmt package, and users read those strings
next to Prometheus' own, so the digits, padding and `%!verb(type=value)` errors must match
byte for byte. How a value prints follows from its Go type (see `values`): Stringers such
as time.Duration print their String() for %v and %s, structs print as `{field ...}`, a
pointer to a struct as `&{...}`. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from slawatch.gotemplate.values import NO_VALUE, CallError, GoStruct, Pointer, type_name

__all__ = [
    "Spec", "can_backquote", "format_float", "format_value", "go_quote", "sprint", "sprintf",
]


# ---- Go's fmt: %v and friends ----


@dataclass(frozen=True, slots=True)
class Spec:
    """A printf verb's flags, width and precision; `plus_v` is %+v (field names in structs)."""

    flags: str = ""
    width: int | None = None
    prec: int | None = None
    plus_v: bool = False


_PLAIN = Spec()


def _digits(x: float) -> tuple[str, int]:
    """Shortest round-trip digits of x > 0 and the decimal point: x = 0.DIGITS * 10**point."""
    mantissa, _, exponent = repr(x).partition("e")
    whole, _, frac = mantissa.partition(".")
    raw = whole + frac
    stripped = raw.lstrip("0")
    point = len(whole) + int(exponent or 0) - (len(raw) - len(stripped))
    return stripped.rstrip("0"), point


def _shortest(x: float) -> str:
    """Go's strconv 'g' with precision -1 (what %v prints) for finite x >= 0."""
    if x == 0:
        return "0"
    digits, point = _digits(x)
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _pad(text: str, spec: Spec, zero_ok: bool = True) -> str:
    if spec.width is None or len(text) >= spec.width:
        return text
    if "-" in spec.flags:
        return text + " " * (spec.width - len(text))
    return ("0" if "0" in spec.flags and zero_ok else " ") * (spec.width - len(text)) + text


def _pad_number(lead: str, body: str, spec: Spec, zero_ok: bool = True) -> str:
    """Pad a signed number; zero padding goes between the sign/prefix and the digits."""
    if "0" in spec.flags and "-" not in spec.flags and zero_ok and spec.width is not None:
        return lead + body.rjust(spec.width - len(lead), "0")
    return _pad(lead + body, spec, zero_ok=False)


def _sign(negative: bool, spec: Spec) -> str:
    return "-" if negative else "+" if "+" in spec.flags else " " if " " in spec.flags else ""


def format_float(x: float, verb: str, spec: Spec) -> str:
    if math.isnan(x) or math.isinf(x):
        text = "NaN" if math.isnan(x) else ("-Inf" if x < 0 else "+Inf")
        if "+" in spec.flags and text == "NaN":
            text = "+NaN"
        elif " " in spec.flags and "+" not in spec.flags and text[0] != "-":
            text = " " + text.lstrip("+")
        return _pad(text, spec, zero_ok=False)
    prec, value = spec.prec, abs(x)
    if verb == "b":
        body = _float_b(value)
    elif verb in "xX":
        body = _float_x(value, prec)
    elif verb in "vgG":
        body = _shortest(value) if prec is None else "%.*g" % (prec, value)
    else:
        body = ("%.*e" if verb in "eE" else "%.*f") % (6 if prec is None else prec, value)
    if "#" in spec.flags and verb != "b":
        body = _sharp(body, verb, prec)
    body = body.upper() if verb in "EGX" else body
    return _pad_number(_sign(math.copysign(1, x) < 0, spec), body, spec)


def _sharp(body: str, verb: str, prec: int | None) -> str:
    """Go's '#' flag on floats: keep a decimal point and pad %g to its significant digits."""
    digits = (6 if prec is None else prec) if verb in "vgGxX" else 0
    cut = next((i for i, c in enumerate(body) if c in ("pP" if verb in "xX" else "eE")), len(body))
    mantissa, tail = body[:cut], body[cut:]
    digits -= len(mantissa.replace(".", "").lstrip("0"))
    if "." not in mantissa:
        digits -= mantissa == "0"
        mantissa += "."
    return mantissa + "0" * max(digits, 0) + tail


def _float_b(x: float) -> str:
    """Go's %b: integer mantissa and binary exponent, e.g. 5629499534213120p-51."""
    if x == 0:
        return "0p-1074"
    fraction, exp = math.frexp(x)
    mantissa, exp = int(fraction * 2**53), exp - 53
    if exp < -1074:  # subnormal
        mantissa, exp = mantissa >> (-1074 - exp), -1074
    return f"{mantissa}p{exp:+d}"


def _float_x(x: float, prec: int | None) -> str:
    """Go's %x on a float: 0x1.8p+01, rounded half-even to `prec` hex digits if given."""
    mantissa, exp = 0, 0
    if x != 0:
        fraction, exp = math.frexp(x)
        mantissa, exp = int(fraction * 2**61), exp - 1  # leading 1 at bit 60
    if prec is not None and prec < 15:
        shift = 60 - prec * 4
        extra, mantissa = mantissa & ((1 << shift) - 1), mantissa >> shift
        if extra > 1 << (shift - 1) or (extra == 1 << (shift - 1) and mantissa & 1):
            mantissa += 1
        mantissa <<= shift
        if mantissa >> 61:
            mantissa, exp = mantissa >> 1, exp + 1
    out = f"0x{mantissa >> 60 & 1}"
    fraction_bits = mantissa & ((1 << 60) - 1)
    count = prec if prec is not None else (0 if fraction_bits == 0 else 15)
    hex_digits = f"{fraction_bits:015x}"[:count]
    if prec is None:
        hex_digits = hex_digits.rstrip("0")
    out += "." + hex_digits if hex_digits else ""
    return f"{out}p{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _format_int(n: int, verb: str, spec: Spec) -> str:
    rune = chr(n) if 0 <= n <= 0x10FFFF and not 0xD800 <= n < 0xE000 else "\ufffd"
    if verb in "cq":
        return _pad(rune if verb == "c" else go_quote(rune, "'", "+" in spec.flags), spec)
    if verb == "U":
        code = n & (2**64 - 1)
        text = f"U+{code:0{max(4, spec.prec or 0)}X}"
        if "#" in spec.flags and code <= 0x10FFFF and rune.isprintable():
            text += f" '{rune}'"
        return _pad(text, spec, zero_ok=False)
    sign = _sign(n < 0, spec)
    digits = format(abs(n), {"b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}.get(verb, "d"))
    if spec.prec is not None:
        digits = "" if spec.prec == 0 and n == 0 else digits.zfill(spec.prec)
    elif "0" in spec.flags and "-" not in spec.flags and spec.width:
        digits = digits.zfill(spec.width - len(sign))  # Go pads digits before any 0x prefix
    prefix = "0o" if verb == "O" else ""
    if "#" in spec.flags:
        prefix = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}.get(verb, prefix)
        prefix = "" if verb == "o" and digits.startswith("0") else prefix
    return _pad(sign + prefix + digits, spec, zero_ok=False)


def go_quote(text: str, quote: str = '"', ascii_only: bool = False) -> str:
    """Go's strconv.Quote (QuoteRune with quote="'"; the ToASCII variants with ascii_only)."""
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
             "\v": "\\v"}
    out = [quote]
    for c in text:
        code = ord(c)
        if c in (quote, "\\"):
            out.append("\\" + c)
        elif c.isprintable() and not (ascii_only and code >= 0x80):
            out.append(c)
        elif c in named:
            out.append(named[c])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out + [quote])


def can_backquote(text: str) -> bool:
    """Go's strconv.CanBackquote: no control characters but tab, no backquote, no BOM."""
    return all(c == "\t" or (c >= " " and c not in "`\x7f\ufeff") for c in text)


def _stringer(arg: object) -> str | None:
    """String() of a fmt.Stringer (a pointer's method set includes its target's)."""
    target = arg.target if isinstance(arg, Pointer) else arg
    go_string = getattr(target, "go_string", None)
    return go_string() if go_string is not None else None


def _struct_fields(arg: GoStruct) -> list[tuple[str, object]]:
    return [(f.name, getattr(arg, f.name)) for f in fields(arg)]  # type: ignore[arg-type]


def _format_arg(arg: object, verb: str, spec: Spec) -> str:
    """One printf operand, including Go's `%!d(float64=1.5)` for a verb of the wrong type."""
    if verb == "T":
        return _pad(type_name(arg), spec)
    if arg is None:
        return _pad("<nil>", spec) if verb == "v" else f"%!{verb}(<nil>)"
    if verb in "vsqxX" and (text := _stringer(arg)) is not None:
        return _format_arg(text, verb, spec)
    if isinstance(arg, Pointer):  # Go prints an address below the top level; slawatch cannot
        target = arg.target
        shown = _format_arg(target, verb, spec)
        return "&" + shown if isinstance(target, (GoStruct, Mapping, list)) else shown
    if isinstance(arg, Mapping):
        pairs = (f"{_format_arg(k, verb, spec)}:{_format_arg(arg[k], verb, spec)}"
                 for k in sorted(arg))
        return "map[" + " ".join(pairs) + "]"
    if isinstance(arg, GoStruct):
        return "{" + " ".join((f"{name}:" if spec.plus_v else "") + _format_arg(value, verb, spec)
                              for name, value in _struct_fields(arg)) + "}"
    if isinstance(arg, list):
        return "[" + " ".join(_format_arg(item, verb, spec) for item in arg) + "]"
    if isinstance(arg, bool) and verb in "tv":
        return _pad("true" if arg else "false", spec)
    if isinstance(arg, int) and not isinstance(arg, bool) and verb in "vdboOxXcqU":
        return _format_int(arg, verb, spec)
    if isinstance(arg, float) and verb in "veEfFgGbxX":
        return format_float(arg, verb, spec)
    if isinstance(arg, str) and verb in "vsqxX":
        if verb in "xX":
            return _pad(_hex_bytes(arg.encode()[: spec.prec], verb, spec.flags), spec)
        text = arg if spec.prec is None else arg[: spec.prec]
        if verb == "q":
            backquote = "#" in spec.flags and can_backquote(text)
            text = f"`{text}`" if backquote else go_quote(text, '"', "+" in spec.flags)
        return _pad(text, spec)
    if arg is NO_VALUE and verb == "v":
        return _pad("<no value>", spec)
    return f"%!{verb}({type_name(arg)}={_format_arg(arg, 'v', spec)})"  # Go keeps the flags


def _format_go_syntax(arg: object, verb: str, spec: Spec) -> str:
    """Go's %#v: strings quoted, maps and structs as Go composite literals."""
    go_syntax = getattr(arg.target if isinstance(arg, Pointer) else arg, "go_syntax", None)
    if go_syntax is not None:  # a fmt.GoStringer, such as time.Time
        return str(go_syntax())
    if isinstance(arg, Pointer):
        return "&" + _format_go_syntax(arg.target, verb, spec)
    if isinstance(arg, Mapping):
        items = (f"{_format_go_syntax(k, verb, spec)}:{_format_go_syntax(arg[k], verb, spec)}"
                 for k in sorted(arg))
        return type_name(arg) + "{" + ", ".join(items) + "}"
    if isinstance(arg, GoStruct):
        items = (f"{name}:{_format_go_syntax(value, verb, spec)}" for name, value in _struct_fields(arg))
        return type_name(arg) + "{" + ", ".join(items) + "}"
    if isinstance(arg, list):
        return type_name(arg) + "{" + ", ".join(_format_go_syntax(a, verb, spec) for a in arg) + "}"
    if isinstance(arg, str):
        text = arg if spec.prec is None else arg[: spec.prec]
        return _pad(go_quote(text, '"', "+" in spec.flags), spec)
    return _format_arg(arg, verb, spec)


def _hex_bytes(data: bytes, verb: str, flags: str) -> str:
    """Go's %x on a string: `% x` separates bytes, `%#x` adds 0x (per byte with a space)."""
    prefix = ("0X" if verb == "X" else "0x") if "#" in flags else ""
    pairs = [f"{b:02X}" if verb == "X" else f"{b:02x}" for b in data]
    if " " in flags:
        return " ".join(prefix + pair for pair in pairs)
    return prefix + "".join(pairs) if pairs else ""


def format_value(value: object, top_level: bool = False) -> str:
    """Go's %v; an action prints nil as `<no value>` and a pointer as what it points to."""
    if value is None and top_level:
        return "<no value>"
    if isinstance(value, Pointer) and top_level:
        value = value.target
    return _format_arg(value, "v", _PLAIN)


_VERB = re.compile(r"([-+# 0]*)([0-9]+)?(?:\.([0-9]*))?(.?)", re.S)


def sprintf(fmt: str, args: tuple[object, ...]) -> str:
    """Go's fmt.Sprintf for the verbs and flags templates use (no %[n] or * widths)."""
    out, pos, used = [], 0, 0
    while (start := fmt.find("%", pos)) >= 0:
        out.append(fmt[pos:start])
        match = _VERB.match(fmt, start + 1)
        assert match is not None  # every part of the pattern is optional
        flags, width, prec, verb = match.groups()
        pos = match.end()
        if not verb:
            out.append("%!(NOVERB)")
        elif verb == "%":
            out.append("%")
        elif verb in "[*":
            raise CallError("printf argument indexes and * widths are not supported by slawatch")
        elif used >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            go_syntax, plus_v = verb == "v" and "#" in flags, verb == "v" and "+" in flags
            flags = flags.replace("+", "").replace("#", "") if verb == "v" else flags
            spec = Spec(flags, int(width) if width else None,
                        None if prec is None else int(prec or 0), plus_v)
            format_one = _format_go_syntax if go_syntax else _format_arg
            out.append(format_one(args[used], verb, spec))
            used += 1
    out.append(fmt[pos:])
    if used < len(args):
        extra = ("<nil>" if a is None else f"{type_name(a)}={format_value(a)}" for a in args[used:])
        out.append("%!(EXTRA " + ", ".join(extra) + ")")
    return "".join(out)


def sprint(args: tuple[object, ...]) -> str:
    """Go's fmt.Sprint: a space between operands when neither is a string."""
    out, prev_string = [], False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(arg))
        prev_string = is_string
    return "".join(out)
