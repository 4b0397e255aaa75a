"""Prometheus-style alert templates (`{{ $labels.instance }}`), rendered as Prometheus does.

Rule annotations and labels are Go text/template with Prometheus' function map and a
header that defines `$labels`, `$externalLabels`, `$externalURL` and `$value`. Users see
these strings in Slack and tickets next to Prometheus' own, so the text must be
identical: values print with Go's fmt rules, maps in sorted key order, and a missing
label renders as an empty string (Prometheus executes with `missingkey=zero`). Parsing
is in `slawatch.gotemplate_parse`; this module holds Go's printing rules, the function
map and the evaluator. Pure: no I/O, no logging, no clock.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, urlparse

from slawatch.gotemplate_parse import (
    Action,
    Break,
    Chain,
    Command,
    Control,
    Dot,
    Field,
    Identifier,
    Literal,
    Nil,
    Node,
    Pipe,
    TemplateError,
    Text,
    Variable,
    parse_nodes,
)

__all__ = ["SUPPORTED_FUNCTIONS", "Template", "TemplateError", "expand", "parse"]

_STRUCT = ("struct { Labels map[string]string; ExternalLabels map[string]string; "
           "ExternalURL string; Value float64 }")
# Prometheus functions that need a query engine or HTML mode, and Go builtins we lack.
_UNSUPPORTED = frozenset({"query", "first", "label", "value", "strvalue", "args", "graphLink",
                          "tableLink", "sortByLabel", "tmpl", "call", "slice"})


@dataclass(frozen=True, slots=True)
class _AlertData:
    """The `.` of an alert template: Prometheus' AlertTemplateData struct."""

    Labels: Mapping[str, str]
    ExternalLabels: Mapping[str, str]
    ExternalURL: str
    Value: float


class _SafeHTML(str):
    """html/template.HTML, returned by safeHtml: prints as-is but is its own Go type."""


class _NoValue:
    """Go's invalid reflect.Value, printed as `<no value>`."""


_NO_VALUE = _NoValue()
_MISSING = object()  # "no final value piped into this command"


class _CallError(Exception):
    """A template function's error return; reported as `error calling NAME: ...`."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _type_name(value: object) -> str:
    if value is None:
        return "<nil>"
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float64"),
                       (_SafeHTML, "template.HTML"), (str, "string"),
                       (Mapping, "map[string]string"), (_AlertData, _STRUCT)):
        if isinstance(value, kind):
            return name
    return type(value).__name__


# ---- Go's fmt: %v and friends ----


@dataclass(frozen=True, slots=True)
class _Spec:
    flags: str = ""
    width: int | None = None
    prec: int | None = None


_PLAIN = _Spec()


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


def _pad(text: str, spec: _Spec, zero_ok: bool = True) -> str:
    if spec.width is None or len(text) >= spec.width:
        return text
    if "-" in spec.flags:
        return text + " " * (spec.width - len(text))
    return ("0" if "0" in spec.flags and zero_ok else " ") * (spec.width - len(text)) + text


def _pad_number(lead: str, body: str, spec: _Spec, zero_ok: bool = True) -> str:
    """Pad a signed number; zero padding goes between the sign/prefix and the digits."""
    if "0" in spec.flags and "-" not in spec.flags and zero_ok and spec.width is not None:
        return lead + body.rjust(spec.width - len(lead), "0")
    return _pad(lead + body, spec, zero_ok=False)


def _sign(negative: bool, spec: _Spec) -> str:
    return "-" if negative else "+" if "+" in spec.flags else " " if " " in spec.flags else ""


def _format_float(x: float, verb: str, spec: _Spec) -> str:
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


def _format_int(n: int, verb: str, spec: _Spec) -> str:
    rune = chr(n) if 0 <= n <= 0x10FFFF and not 0xD800 <= n < 0xE000 else "\ufffd"
    if verb in "cq":
        return _pad(rune if verb == "c" else _go_quote(rune, "'", "+" in spec.flags), spec)
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


def _go_quote(text: str, quote: str = '"', ascii_only: bool = False) -> str:
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


def _format_arg(arg: object, verb: str, spec: _Spec) -> str:
    """One printf operand, including Go's `%!d(float64=1.5)` for a verb of the wrong type."""
    if verb == "T":
        return _pad(_type_name(arg), spec)
    if arg is None:
        return _pad("<nil>", spec) if verb == "v" else f"%!{verb}(<nil>)"
    if isinstance(arg, Mapping):
        pairs = (f"{_format_arg(k, verb, spec)}:{_format_arg(arg[k], verb, spec)}"
                 for k in sorted(arg))
        return "map[" + " ".join(pairs) + "]"
    if isinstance(arg, _AlertData):
        parts = (arg.Labels, arg.ExternalLabels, arg.ExternalURL, arg.Value)
        return "{" + " ".join(_format_arg(p, verb, spec) for p in parts) + "}"
    if isinstance(arg, bool) and verb in "tv":
        return _pad("true" if arg else "false", spec)
    if isinstance(arg, int) and not isinstance(arg, bool) and verb in "vdboOxXcqU":
        return _format_int(arg, verb, spec)
    if isinstance(arg, float) and verb in "veEfFgGbxX":
        return _format_float(arg, verb, spec)
    if isinstance(arg, str) and verb in "vsqxX":
        if verb in "xX":
            return _pad(_hex_bytes(arg.encode()[: spec.prec], verb, spec.flags), spec)
        text = arg if spec.prec is None else arg[: spec.prec]
        if verb == "q":
            backquote = "#" in spec.flags and "`" not in text and "\ufeff" not in text and all(
                c == "\t" or (c >= " " and c != "\x7f") for c in text)
            text = f"`{text}`" if backquote else _go_quote(text, '"', "+" in spec.flags)
        return _pad(text, spec)
    if arg is _NO_VALUE and verb == "v":
        return _pad("<no value>", spec)
    return f"%!{verb}({_type_name(arg)}={_format_arg(arg, 'v', spec)})"  # Go keeps the flags


def _format_go_syntax(arg: object, verb: str, spec: _Spec) -> str:
    """Go's %#v: strings quoted, maps and the data struct as Go composite literals."""
    if isinstance(arg, Mapping):
        items = (f"{_format_go_syntax(k, verb, spec)}:{_format_go_syntax(arg[k], verb, spec)}"
                 for k in sorted(arg))
        return "map[string]string{" + ", ".join(items) + "}"
    if isinstance(arg, _AlertData):
        fields = (f"{name}:{_format_go_syntax(getattr(arg, name), verb, spec)}"
                  for name in _AlertData.__slots__)
        return _STRUCT + "{" + ", ".join(fields) + "}"
    if isinstance(arg, str):
        text = arg if spec.prec is None else arg[: spec.prec]
        return _pad(_go_quote(text, '"', "+" in spec.flags), spec)
    return _format_arg(arg, verb, spec)


def _hex_bytes(data: bytes, verb: str, flags: str) -> str:
    """Go's %x on a string: `% x` separates bytes, `%#x` adds 0x (per byte with a space)."""
    prefix = ("0X" if verb == "X" else "0x") if "#" in flags else ""
    pairs = [f"{b:02X}" if verb == "X" else f"{b:02x}" for b in data]
    if " " in flags:
        return " ".join(prefix + pair for pair in pairs)
    return prefix + "".join(pairs) if pairs else ""


def _format_value(value: object, top_level: bool = False) -> str:
    """Go's %v; an action printing nil shows `<no value>` like text/template."""
    if value is None and top_level:
        return "<no value>"
    return _format_arg(value, "v", _PLAIN)


_VERB = re.compile(r"([-+# 0]*)([0-9]+)?(?:\.([0-9]*))?(.?)", re.S)


def _sprintf(fmt: str, args: tuple[object, ...]) -> str:
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
            raise _CallError("printf argument indexes and * widths are not supported by slawatch")
        elif used >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            go_syntax = verb == "v" and "#" in flags
            flags = flags.replace("+", "").replace("#", "") if verb == "v" else flags
            spec = _Spec(flags, int(width) if width else None,
                         None if prec is None else int(prec or 0))
            format_one = _format_go_syntax if go_syntax else _format_arg
            out.append(format_one(args[used], verb, spec))
            used += 1
    out.append(fmt[pos:])
    if used < len(args):
        extra = ("<nil>" if a is None else f"{_type_name(a)}={_format_value(a)}" for a in args[used:])
        out.append("%!(EXTRA " + ", ".join(extra) + ")")
    return "".join(out)


def _sprint(args: tuple[object, ...]) -> str:
    """Go's fmt.Sprint: a space between operands when neither is a string."""
    out, prev_string = [], False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i and not is_string and not prev_string:
            out.append(" ")
        out.append(_format_value(arg))
        prev_string = is_string
    return "".join(out)


def _eval_args(args: tuple[object, ...]) -> str:
    """text/template's evalArgs, used by html, js and urlquery."""
    if len(args) == 1 and type(args[0]) is str:
        return args[0]
    return _sprint(tuple("<no value>" if a is None or a is _NO_VALUE else a for a in args))


_HTML = str.maketrans({'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;",
                       "\0": "\ufffd"})
_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026",
       "=": "\\u003D"}


def _js_escape(text: str) -> str:
    return "".join(_JS.get(c) or (c if c >= " " and (c < "\x80" or c.isprintable())
                                  else f"\\u{ord(c):04X}") for c in text)


# ---- Prometheus' functions ----

_D, _H = "[0-9](?:_?[0-9])*", "_?[0-9a-fA-F](?:_?[0-9a-fA-F])*"  # Go allows 1_000
_GO_FLOAT = re.compile(rf"[+-]?(?:(?:{_D}(?:\.(?:{_D})?)?|\.{_D})(?:[eE][+-]?{_D})?"
                       rf"|0[xX](?:{_H}(?:\.(?:{_H[2:]})?)?|\.{_H[2:]})[pP][+-]?{_D})")
_GO_SPECIAL = re.compile(r"[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN]")


def _to_float(value: object) -> float:
    """Prometheus' convertToFloat: float64, ints and strings (strconv.ParseFloat)."""
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not str:
        raise _CallError(f"can't convert {_type_name(value)} to float")
    if _GO_SPECIAL.fullmatch(value):
        return float(value)
    if _GO_FLOAT.fullmatch(value):
        plain = value.replace("_", "")
        number = float.fromhex(plain) if "x" in plain.lower() else float(plain)
        if not math.isinf(number):
            return number
        raise _CallError(f"strconv.ParseFloat: parsing {_go_quote(value)}: value out of range")
    raise _CallError(f"strconv.ParseFloat: parsing {_go_quote(value)}: invalid syntax")


def _g4(value: float) -> str:
    return _format_float(value, "g", _Spec(prec=4))


def _scaled(value: float, step: float, big: tuple[str, ...], small: tuple[str, ...]) -> str:
    """Divide (or multiply) by `step` until the magnitude fits, then print 4 digits."""
    prefix = ""
    if abs(value) >= 1:
        for p in big:
            if abs(value) < step:
                break
            prefix, value = p, value / step
    else:
        for p in small:
            if abs(value) >= 1:
                break
            prefix, value = p, value * 1000
    return _g4(value) + prefix


_SI_BIG, _SI_SMALL = tuple("kMGTPEZY"), tuple("munpfazy")


def _humanize(v: float) -> str:
    return _g4(v) if v == 0 or not math.isfinite(v) else _scaled(v, 1000, _SI_BIG, _SI_SMALL)


def _humanize1024(v: float) -> str:
    if abs(v) <= 1 or not math.isfinite(v):
        return _g4(v)
    return _scaled(v, 1024, ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"), ())


def _humanize_duration(v: float) -> str:
    if not math.isfinite(v):
        return _g4(v)
    if v == 0 or abs(v) < 1:
        return (_g4(v) if v == 0 else _scaled(v, 1000, (), _SI_SMALL)) + "s"
    sign, v = ("-" if v < 0 else ""), abs(v)
    total = int(v) if v < 2**63 else -(2**63)  # Go's int64(v) wraps to MinInt64 on amd64

    def div(a: int, b: int) -> int:  # Go's / and % truncate toward zero
        return -(-a // b) if a < 0 else a // b

    days, hours = div(total, 86400), div(total, 3600) - div(total, 86400) * 24
    minutes, seconds = div(total, 60) - div(total, 3600) * 60, total - div(total, 60) * 60
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{_g4(v)}s"


def _humanize_timestamp(v: float) -> str:
    """Unix seconds as Go's time.Time.String() in UTC, truncated to milliseconds."""
    if not math.isfinite(v):
        return _g4(v)
    nanos = v * 1e9
    if nanos > float(2**63 - 1) or nanos < float(-(2**63)):
        raise _CallError(f"{_format_value(v)} cannot be represented as a nanoseconds "
                         "timestamp since it overflows int64")
    ns = int(nanos)
    ms = abs(ns) // 1_000_000 * (1 if ns >= 0 else -1)
    moment = datetime(1970, 1, 1) + timedelta(milliseconds=ms)
    fraction = f".{moment.microsecond // 1000:03d}".rstrip("0").rstrip(".")
    return moment.strftime("%Y-%m-%d %H:%M:%S") + fraction + " +0000 UTC"


def _is_separator(c: str) -> bool:
    if c.isascii():
        return not (c.isalnum() or c == "_")
    return not (c.isalpha() or c.isdecimal()) and c.isspace()


def _title(text: str) -> str:
    """Go's strings.Title: title-case each letter that follows a separator."""
    out, prev = [], " "
    for c in text:
        title = c.title()
        out.append(title if _is_separator(prev) and len(title) == 1 else c)
        prev = c
    return "".join(out)


def _to_upper(text: str) -> str:
    return "".join(u if len(u := c.upper()) == 1 else c for c in text)


def _to_lower(text: str) -> str:
    return "".join(c.lower()[0] for c in text)


def _strip_port(host_port: str) -> str:
    """Host part per Go's net.SplitHostPort; the input unchanged when that fails."""
    colon = host_port.rfind(":")
    if colon < 0:
        return host_port
    if host_port.startswith("["):
        close = host_port.find("]")
        if close < 0 or close + 1 != colon:
            return host_port
        host, after_open, after_close = host_port[1:close], 1, close + 1
    else:
        host, after_open, after_close = host_port[:colon], 0, 0
        if ":" in host:
            return host_port
    if "[" in host_port[after_open:] or "]" in host_port[after_close:]:
        return host_port
    return host


_DURATION = re.compile("".join(rf"(?:([0-9]+){u})?" for u in ("y", "w", "d", "h", "m", "s", "ms")))
_DURATION_MS = (31_536_000_000, 604_800_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def _parse_duration(text: str) -> float:
    """Prometheus' model.ParseDuration, in seconds."""
    if text == "0":
        return 0.0
    match = _DURATION.fullmatch(text) if text else None
    if match is None:
        raise _CallError("empty duration string" if not text
                         else f"not a valid duration string: {_go_quote(text)}")
    return sum(int(g) * ms for g, ms in zip(match.groups(), _DURATION_MS) if g) / 1000


# ---- Go (RE2) regular expressions on Python's re ----

_PERL = {"d": "0-9", "s": "\\t\\n\\f\\r ", "w": "0-9A-Za-z_"}
_POSIX = {"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
          "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
          "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
          "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f"}


_WORD = "[0-9A-Za-z_]"
_ASCII_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_ASCII_INSIDE = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"
_REPEAT = re.compile(r"[*+?]|\{[0-9]+(?:,[0-9]*)?\}")


class _RegexSyntax(ValueError):
    """RE2 syntax that Go rejects; the message is Go's."""


class _RegexUnsupported(_RegexSyntax):
    """Valid RE2 that Python's re cannot express; reported when the template is parsed."""


def _translate_regex(pattern: str) -> str:
    r"""Rewrite RE2 syntax where Python's re differs, or raise _RegexSyntax.

    Differences handled: `$` and `\z` mean end of text, `\d \s \w \b` are ASCII,
    POSIX classes, `\Q...\E`, `\x{...}`, `(?<name>`, a `{` that is no repeat is literal,
    and a repeat of a repeat (Python's possessive `a++`) is an error.
    """
    multiline = re.match(r"\(\?[a-zA-Z]*m", pattern) is not None
    out, i, in_class, repeated = [], 0, False, False
    while i < len(pattern):
        c, nxt = pattern[i], pattern[i + 1 : i + 2]
        rest, step, was_repeat = pattern[i:], 1, False
        if c == "\\" and nxt:
            step = 2
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                end = len(pattern) if end < 0 else end
                out.append(re.escape(pattern[i + 2 : end]))
                step = end + 2 - i
            elif nxt.lower() in _PERL and not (in_class and nxt.isupper()):
                cls = _PERL[nxt.lower()]
                out.append(cls if in_class else f"[{'^' if nxt.isupper() else ''}{cls}]")
            elif nxt in "bB" and not in_class:
                out.append(_ASCII_BOUNDARY if nxt == "b" else _ASCII_INSIDE)
            elif nxt in "123456789CZ":
                raise _RegexSyntax(f"invalid escape sequence: `\\{nxt}`")
            elif nxt in "pP":
                raise _RegexUnsupported(f"Unicode classes such as `{rest[:4]}` in regexps "
                                        "are not supported by slawatch")
            elif nxt == "z":
                out.append("\\Z")
            elif (m := re.match(r"\\x\{([0-9a-fA-F]{1,6})\}", rest)) is not None:
                out.append(re.escape(chr(int(m.group(1), 16))))
                step = m.end()
            else:
                out.append(rest[:2])
        elif in_class:
            posix = re.match(r"\[:(\w+):\]", rest)
            if posix and posix.group(1) in _POSIX:
                out.append(_POSIX[posix.group(1)])
                step = posix.end()
            else:
                in_class = c != "]"
                out.append("\\[" if c == "[" else c)
        elif c == "[":
            in_class = True
            head = re.match(r"\[\^?\]?", rest).group()  # type: ignore[union-attr]
            out.append(head[:-1] + "\\]" if head.endswith("]") else head)
            step = len(head)
        elif (repeat := _REPEAT.match(rest)) is not None:
            if repeated:
                raise _RegexSyntax(f"invalid nested repetition operator: `{out[-1]}{repeat.group()}`")
            step, was_repeat = repeat.end(), True
            if rest[step : step + 1] == "?":  # lazy marker belongs to this repeat
                step += 1
            out.append(rest[:step])
        elif c == "{":
            out.append("\\{")
        elif c == "$" and not multiline:
            out.append("\\Z")
        elif c == "(" and nxt == "?":
            if re.match(r"\(\?[a-zA-Z-]*U", rest):
                raise _RegexUnsupported("the regexp flag U is not supported by slawatch")
            if i > 0 and (flags := re.match(r"\(\?[a-zA-Z-]+\)", rest)):
                raise _RegexUnsupported(f"regexp flags `{flags.group()}` after the start of a "
                                        "pattern are not supported by slawatch; move them first")
            if re.match(r"\(\?(?:[=!#]|<[=!]|P=|>)", rest):
                raise _RegexSyntax(f"invalid or unsupported Perl syntax: `{rest[:3]}`")
            named = rest.startswith("(?<")
            out.append("(?P<" if named else c)
            step = 3 if named else 1
        else:
            out.append(c)
        repeated = was_repeat
        i += step
    return "".join(out)


# Python's wording of common regexp errors -> Go's regexp/syntax error codes.
_RE_ERRORS = {"missing ), unterminated subpattern": "missing closing )",
              "unbalanced parenthesis": "unexpected )",
              "unterminated character set": "missing closing ]",
              "nothing to repeat": "missing argument to repetition operator",
              "multiple repeat": "invalid nested repetition operator",
              "bad escape": "invalid escape sequence", "bad character range": "invalid character class range"}


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str] | str:
    """Compiled Go regexp, or the parse error message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(_translate_regex(pattern))
    except _RegexSyntax as exc:
        return str(exc)
    except (re.error, ValueError, OverflowError) as exc:
        message = str(getattr(exc, "msg", exc))
        message = next((go for py, go in _RE_ERRORS.items() if message.startswith(py)), message)
        return f"{message}: `{pattern}`"


def _match(pattern: str, text: str) -> bool:
    regex = _compile(pattern)
    if isinstance(regex, str):
        raise _CallError(f"error parsing regexp: {regex}")
    return regex.search(text) is not None


def _go_expand(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups are empty."""
    out, i = [], 0
    while (dollar := template.find("$", i)) >= 0:
        out.append(template[i:dollar])
        i = dollar + 1
        if template.startswith("$", i):
            out.append("$")
            i += 1
            continue
        ref = re.match(r"\{(\w+)\}|(\w+)", template[i:])
        if ref is None:
            out.append("$")
            continue
        name, i = ref.group(1) or ref.group(2), i + ref.end()
        if name.isascii() and name.isdigit() and not (len(name) > 1 and name[0] == "0"):
            group = int(name) if int(name) <= match.re.groups else None
        else:
            group = match.re.groupindex.get(name)
        out.append((match.group(group) or "") if group is not None else "")
    return "".join(out) + template[i:]


def _replace_all(pattern: str, replacement: str, text: str) -> str:
    """Go's ReplaceAllString: an empty match right after a match is not replaced."""
    regex = _compile(pattern)
    if isinstance(regex, str):
        quoted = f"`{pattern}`" if "`" not in pattern else _go_quote(pattern)
        raise _CallError(f"regexp: Compile({quoted}): error parsing regexp: {regex}")
    out, last_end, pos = [], 0, 0
    while pos <= len(text) and (m := regex.search(text, pos)) is not None:
        out.append(text[last_end : m.start()])
        if m.end() > last_end or m.start() == 0:
            out.append(_go_expand(replacement, m))
        last_end = m.end()
        pos = m.end() if m.end() > pos else pos + 1
    return "".join(out) + text[last_end:]


# ---- Go's builtins ----


def _truth(value: object) -> bool:
    """Go's template truth: empty string, zero, nil and empty maps are false."""
    if value is None or value is _NO_VALUE:
        return False
    if isinstance(value, (str, Mapping, list, tuple)):
        return len(value) > 0
    if isinstance(value, (bool, int, float)):
        return value != 0
    return True


def _kind(value: object) -> str | None:
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string")):
        if isinstance(value, kind):
            return name
    return None


def _eq(first: object, *others: object) -> bool:
    if not others:
        raise _CallError("missing argument for comparison")
    for other in others:
        if _kind(first) != _kind(other):
            if first not in (None, _NO_VALUE) and other not in (None, _NO_VALUE):
                raise _CallError("incompatible types for comparison")
        elif isinstance(first, Mapping):
            raise _CallError(f"non-comparable type {_format_value(first)}: {_type_name(first)}")
        elif first == other:
            return True
    return False


def _lt(first: Any, second: Any) -> bool:
    k1, k2 = _kind(first), _kind(second)
    if k1 is None or k2 is None or k1 == k2 == "bool":
        raise _CallError("invalid type for comparison")
    if k1 != k2:
        raise _CallError("incompatible types for comparison")
    return bool(first < second)


def _length(item: object) -> int:
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, (Mapping, list, tuple)):
        return len(item)
    if item is None or item is _NO_VALUE:
        raise _CallError("reflect: call of reflect.Value.Type on zero Value")
    raise _CallError(f"len of type {_type_name(item)}")


def _index(item: object, *keys: object) -> object:
    for key in keys:
        if isinstance(item, Mapping):
            if not isinstance(key, str):
                raise _CallError(f"value has type {_type_name(key)}; should be string")
            item = item.get(key, "")
        elif isinstance(item, str) and isinstance(key, int) and not isinstance(key, bool):
            data = item.encode()
            if not 0 <= key < len(data):
                raise _CallError(f"index out of range: {key}")
            item = data[key]
        else:
            raise _CallError(f"can't index item of type {_type_name(item)}")
    return item


# name -> (implementation, parameter kinds). Kinds: "string" (Go string), "any"
# (interface{}), "value" (reflect.Value: nil literal rejected); a trailing "*" is variadic.
_S = ("string",)
_FUNCTIONS: dict[str, tuple[Callable[..., object], tuple[str, ...]]] = {
    "and": (lambda *a: a, ("value", "value*")),  # short-circuits: see _Exec.and_or
    "or": (lambda *a: a, ("value", "value*")),
    "not": (lambda v: not _truth(v), ("value",)),
    "len": (_length, ("value",)),
    "index": (_index, ("value", "value*")),
    "eq": (_eq, ("value", "value*")),
    "ne": (lambda a, b: not _eq(a, b), ("value", "value")),
    "lt": (_lt, ("value", "value")),
    "le": (lambda a, b: _lt(a, b) or _eq(a, b), ("value", "value")),
    "gt": (lambda a, b: not (_lt(a, b) or _eq(a, b)), ("value", "value")),
    "ge": (lambda a, b: not _lt(a, b), ("value", "value")),
    "print": (lambda *a: _sprint(a), ("any*",)),
    "println": (lambda *a: " ".join(_format_value(x) for x in a) + "\n", ("any*",)),
    "printf": (lambda f, *a: _sprintf(f, a), ("string", "any*")),
    "html": (lambda *a: _eval_args(a).translate(_HTML), ("any*",)),
    "js": (lambda *a: _js_escape(_eval_args(a)), ("any*",)),
    "urlquery": (lambda *a: quote_plus(_eval_args(a), safe=""), ("any*",)),
    "humanize": (lambda v: _humanize(_to_float(v)), ("any",)),
    "humanize1024": (lambda v: _humanize1024(_to_float(v)), ("any",)),
    "humanizeDuration": (lambda v: _humanize_duration(_to_float(v)), ("any",)),
    "humanizePercentage": (lambda v: _g4(_to_float(v) * 100) + "%", ("any",)),
    "humanizeTimestamp": (lambda v: _humanize_timestamp(_to_float(v)), ("any",)),
    "title": (_title, _S),
    "toUpper": (_to_upper, _S),
    "toLower": (_to_lower, _S),
    "safeHtml": (_SafeHTML, _S),
    "stripPort": (_strip_port, _S),
    "parseDuration": (_parse_duration, _S),
    "match": (_match, ("string", "string")),
    "reReplaceAll": (_replace_all, ("string", "string", "string")),
    "externalURL": (lambda: None, ()),  # both read the render's external URL: see _Exec.call
    "pathPrefix": (lambda: None, ()),
}
SUPPORTED_FUNCTIONS = frozenset(_FUNCTIONS)


def _pipe_commands(pipe: Pipe) -> Iterator[Command]:
    for cmd in pipe.cmds:
        yield cmd
        for arg in cmd.args:
            if isinstance(arg, (Pipe, Chain)):
                yield from _pipe_commands(arg if isinstance(arg, Pipe) else arg.node)


def _commands(nodes: tuple[Node, ...]) -> Iterator[Command]:
    for node in nodes:
        if isinstance(node, (Action, Control)):
            yield from _pipe_commands(node.pipe)
        if isinstance(node, Control):
            yield from _commands(node.body + node.orelse)


def _check_regexps(text: str, nodes: tuple[Node, ...]) -> None:
    """Reject literal patterns slawatch cannot run, so `check` reports them, not a tick."""
    for cmd in _commands(nodes):
        name, pattern = cmd.args[0], cmd.args[1:2]
        if (isinstance(name, Identifier) and name.name in ("match", "reReplaceAll") and pattern
                and isinstance(pattern[0], Literal) and isinstance(pattern[0].value, str)):
            try:
                _translate_regex(pattern[0].value)
            except _RegexUnsupported as exc:
                raise TemplateError.at(text, pattern[0].pos, str(exc)) from None
            except _RegexSyntax:
                pass  # invalid RE2: Prometheus fails at execution too


def _check_function(name: str) -> str | None:
    if name in _FUNCTIONS:
        return None
    if name in _UNSUPPORTED:
        return f'function "{name}" is not supported by slawatch'
    return f'function "{name}" not defined'


# ---- evaluation ----


class _Exec:
    """One rendering: the variable stack, the output and Go's evaluation rules."""

    def __init__(self, text: str, data: _AlertData) -> None:
        self.text = text
        self.data = data
        self.out: list[str] = []
        self.vars: list[list[Any]] = [
            ["$", data], ["$labels", data.Labels], ["$externalLabels", data.ExternalLabels],
            ["$externalURL", data.ExternalURL], ["$value", data.Value],
        ]

    def error(self, node: Node, message: str) -> TemplateError:
        context = " ".join(self.text[node.pos : node.end].split())
        return TemplateError.at(self.text, node.pos, f"executing at <{context}>: {message}")

    def walk(self, nodes: tuple[Node, ...], dot: object) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipe(dot, node.pipe)
                if not node.pipe.decl:
                    self.out.append(_format_value(value, top_level=True))
            elif isinstance(node, Control):
                self.control(node, dot)
            else:
                raise _Break() if isinstance(node, Break) else _Continue()

    def control(self, node: Control, dot: object) -> None:
        mark = len(self.vars)
        try:
            value = self.pipe(dot, node.pipe)
            if node.kind == "range":
                self.range(node, dot, value)
            elif _truth(value):
                self.walk(node.body, value if node.kind == "with" else dot)
            else:
                self.walk(node.orelse, dot)
        finally:
            del self.vars[mark:]

    def range(self, node: Control, dot: object, value: object) -> None:
        if isinstance(value, Mapping):
            items: list[tuple[object, object]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif value is None or value is _NO_VALUE:
            items = []
        else:
            raise self.error(node.pipe, f"range can't iterate over {_format_value(value)}")
        if not items:
            self.walk(node.orelse, dot)
        decl, mark = node.pipe.decl, len(self.vars)
        for key, elem in items:
            if decl:  # one variable gets the element; two get the key and the element
                self.set_var(node.pipe, decl[-1], elem)
                if len(decl) == 2:
                    self.set_var(node.pipe, decl[0], key)
            try:
                self.walk(node.body, elem)
            except _Continue:
                pass
            except _Break:
                break
            finally:
                del self.vars[mark:]

    def set_var(self, node: Node, name: str, value: object) -> None:
        for slot in reversed(self.vars):
            if slot[0] == name:
                slot[1] = value
                return
        raise self.error(node, f"undefined variable: {name}")

    def variable(self, node: Variable) -> object:
        for name, value in reversed(self.vars):
            if name == node.name:
                return value
        raise self.error(node, f"undefined variable: {node.name}")

    def pipe(self, dot: object, pipe: Pipe) -> object:
        value: object = _MISSING
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(pipe, name, value)
            else:
                self.vars.append([name, value])
        return value

    def command(self, dot: object, cmd: Command, final: object) -> object:
        first = cmd.args[0]
        if isinstance(first, Field):
            return self.fields(dot, first, first.names, cmd.args, final)
        if isinstance(first, Chain):
            return self.fields(self.pipe(dot, first.node), first, first.names, cmd.args, final)
        if isinstance(first, Identifier):
            return self.call(dot, cmd, first, cmd.args[1:], final)
        if isinstance(first, Variable) and first.names:
            return self.fields(self.variable(first), first, first.names, cmd.args, final)
        if len(cmd.args) > 1 or final is not _MISSING:
            source = self.text[first.pos : first.end]
            raise self.error(first, f"can't give argument to non-function {source}")
        if isinstance(first, Nil):
            raise self.error(first, "nil is not a command")
        return self.operand(dot, first)

    def operand(self, dot: object, node: Node) -> object:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Dot):
            return dot
        if isinstance(node, Variable) and not node.names:
            return self.variable(node)
        if isinstance(node, Pipe):
            return self.pipe(dot, node)
        return self.command(dot, Command(node.pos, node.end, (node,)), _MISSING)

    def fields(self, receiver: object, node: Node, names: tuple[str, ...],
               args: tuple[Node, ...], final: object) -> object:
        for i, name in enumerate(names):
            has_args = i == len(names) - 1 and (len(args) > 1 or final is not _MISSING)
            receiver = self.field(node, receiver, name, has_args)
        return receiver

    def field(self, node: Node, receiver: object, name: str, has_args: bool) -> object:
        if receiver is None or receiver is _NO_VALUE:
            return _NO_VALUE
        if isinstance(receiver, Mapping):
            if has_args:
                raise self.error(node, f"{name} is not a method but has arguments")
            return receiver.get(name, "")  # missingkey=zero: a missing label is ""
        if isinstance(receiver, _AlertData) and name in _AlertData.__slots__:
            if has_args:
                raise self.error(node, f"{name} has arguments but cannot be invoked as function")
            return getattr(receiver, name)
        raise self.error(node, f"can't evaluate field {name} in type {_type_name(receiver)}")

    def call(self, dot: object, cmd: Command, ident: Identifier, args: tuple[Node, ...],
             final: object) -> object:
        name = ident.name
        impl, params = _FUNCTIONS[name]
        variadic = bool(params) and params[-1].endswith("*")
        count = len(args) + (final is not _MISSING)
        if variadic and count < len(params) - 1:
            raise self.error(ident, f"wrong number of args for {name}: "
                                    f"want at least {len(params) - 1} got {len(args)}")
        if not variadic and count != len(params):
            raise self.error(ident, f"wrong number of args for {name}: "
                                    f"want {len(params)} got {count}")
        if name in ("and", "or"):
            return self.and_or(dot, name == "or", args, final)
        if name in ("externalURL", "pathPrefix"):
            url = self.data.ExternalURL
            return url if name == "externalURL" else urlparse(url).path
        kinds = [params[min(i, len(params) - 1)].rstrip("*") for i in range(count)]
        argv = [self.arg(dot, kind, node) for kind, node in zip(kinds, args)]
        if final is not _MISSING:
            argv.append(self.check_type(ident, kinds[-1], final))
        try:
            return impl(*argv)
        except _CallError as exc:
            raise self.error(cmd, f"error calling {name}: {exc}") from None

    def and_or(self, dot: object, is_or: bool, args: tuple[Node, ...], final: object) -> object:
        """Go 1.18+ short-circuits: later arguments are not evaluated once decided."""
        value: object = _NO_VALUE
        for node in args:
            value = self.arg(dot, "value", node)
            if _truth(value) == is_or:
                return value
        return value if final is _MISSING else final

    def arg(self, dot: object, kind: str, node: Node) -> object:
        if isinstance(node, Literal):
            if kind == "string" and not isinstance(node.value, str):
                raise self.error(node, f"expected string; found {self.text[node.pos:node.end]}")
            return node.value
        if isinstance(node, Nil):
            if kind != "string":
                return None
            raise self.error(node, "cannot assign nil to string")
        return self.check_type(node, kind, self.operand(dot, node))

    def check_type(self, node: Node, kind: str, value: object) -> object:
        if kind == "string" and type(value) is not str:
            if value is _NO_VALUE:
                raise self.error(node, "invalid value; expected string")
            raise self.error(node, f"wrong type for value; expected string; got {_type_name(value)}")
        return None if value is _NO_VALUE and kind == "any" else value


# ---- public API ----


class Template:
    """A parsed alert template; render it once per alert and evaluation."""

    def __init__(self, text: str, nodes: tuple[Node, ...]) -> None:
        self.text = text
        self._nodes = nodes

    def render(self, labels: Mapping[str, str], value: float,
               external_labels: Mapping[str, str] = {}, external_url: str = "") -> str:
        """Render for one alert; raises TemplateError where Prometheus' execution fails.

        `labels` are the series' labels as the rule's query returned them (Prometheus does
        not add alertname or the rule's own labels to `$labels`).
        """
        data = _AlertData(dict(labels), dict(external_labels), external_url, float(value))
        run = _Exec(self.text, data)
        run.walk(self._nodes, data)
        return "".join(run.out)


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Template | TemplateError:
    try:
        nodes = parse_nodes(text, _check_function)
        _check_regexps(text, nodes)
        return Template(text, nodes)
    except TemplateError as exc:
        return exc
    except RecursionError:
        return TemplateError("template nests too deeply")


def parse(text: str) -> Template:
    """Parse a template, cached: the same rule templates are rendered every tick."""
    result = _parse_cached(text)
    if isinstance(result, TemplateError):
        raise TemplateError(result.message, result.line, result.column)
    return result


def expand(text: str, labels: Mapping[str, str], value: float,
           external_labels: Mapping[str, str] = {}, external_url: str = "") -> str:
    """Render like Prometheus' alerting rule: an error becomes the text, never an exception."""
    try:
        template = parse(text)
    except TemplateError as exc:
        return f"<error expanding template: error parsing template: {exc}>"
    try:
        return template.render(labels, value, external_labels, external_url)
    except TemplateError as exc:
        return f"<error expanding template: error executing template: {exc}>"
    except Exception as exc:  # noqa: BLE001 - like Prometheus' recover(): never stop a tick
        return f"<error expanding template: internal error: {exc!r}>"
