"""Protocol-buffer text format read into plain values, for the engines' configuration files.

Triton's ``config.pbtxt`` and TF-Serving's ``models.config`` are protobuf
text format. Reading them needs no protobuf definitions here: a message
becomes a `dict` of field name to a list of values (a field may repeat),
a value is a nested `dict`, a number, a string, or an identifier (enum
values, ``true``/``false``) as a `str`. List syntax (``dims: [ 4, 5 ]``,
``input [ {...}, {...} ]``) and map entries (``key: "a" value {...}``)
are read as protobuf's text format writes them. What a field means is
for the reader (`triton_config`, `model_config`).
"""

import re

_TOKEN = re.compile(r"""
    \s+ | \#[^\n]* |
    (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*') |
    (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fF]?) |
    (?P<name>[A-Za-z_][A-Za-z0-9_.]*) |
    (?P<punct>[{}\[\]:,;<>])
""", re.VERBOSE)


class ParseError(ValueError):
    """Text that is not protobuf text format; the message names the line."""


def parse(text):
    """The message in `text` as {field: [values]}.

    Raises:
        ParseError: on malformed text, naming the line.
    """
    tokens = list(_tokens(text))
    message, position = _message(tokens, 0, end=None)
    return message


def one(message, field, default=None):
    """The single value of `field` in `message` (the last one, as protobuf keeps), or `default`."""
    values = message.get(field)
    return values[-1] if values else default


def _tokens(text):
    position, line = 0, 1
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ParseError(f"line {line}: unexpected {text[position:position + 20]!r}")
        kind = match.lastgroup
        if kind is not None:
            yield kind, match.group(kind), line
        line += match.group(0).count("\n")
        position = match.end()


def _message(tokens, i, end):
    message = {}
    while i < len(tokens):
        kind, value, line = tokens[i]
        if end is not None and kind == "punct" and value == end:
            return message, i + 1
        if kind == "punct" and value in ",;":
            i += 1
            continue
        if kind != "name":
            raise ParseError(f"line {line}: expected a field name, found {value!r}")
        field, i = value, i + 1
        if i < len(tokens) and tokens[i][1] == ":":
            i += 1
        values, i = _values(tokens, i, field, line)
        message.setdefault(field, []).extend(values)
    if end is not None:
        raise ParseError(f"the file ends inside a message (missing {end!r})")
    return message, i


def _values(tokens, i, field, line):
    if i >= len(tokens):
        raise ParseError(f"line {line}: field {field!r} has no value")
    kind, value, line = tokens[i]
    if kind == "punct" and value == "[":
        values, i = [], i + 1
        while i < len(tokens) and tokens[i][1] != "]":
            if tokens[i][1] == ",":
                i += 1
                continue
            one_value, i = _value(tokens, i, field)
            values.append(one_value)
        if i >= len(tokens):
            raise ParseError(f"line {line}: field {field!r}: a list without its closing ']'")
        return values, i + 1
    one_value, i = _value(tokens, i, field)
    return [one_value], i


def _value(tokens, i, field):
    kind, value, line = tokens[i]
    if kind == "punct" and value in "{<":
        return _message(tokens, i + 1, end="}" if value == "{" else ">")
    if kind == "string":
        text = value
        i += 1
        while i < len(tokens) and tokens[i][0] == "string":  # adjacent strings concatenate
            text = text[:-1] + tokens[i][1][1:]
            i += 1
        return _unquote(text), i
    if kind == "number":
        number = value.rstrip("fF") if not value.lower().startswith(("0x", "-0x", "+0x")) else value
        try:
            return (int(number, 0) if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|\d+)", number)
                    else float(number)), i + 1
        except ValueError:
            raise ParseError(f"line {line}: field {field!r}: {value!r} is not a number") from None
    if kind == "name":
        return value, i + 1
    raise ParseError(f"line {line}: field {field!r}: expected a value, found {value!r}")


def _unquote(text):
    body = text[1:-1]
    return body.encode("latin-1", "backslashreplace").decode("unicode_escape") if "\\" in body else body
