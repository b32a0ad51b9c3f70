"""test_error_catalog.py - every error message and log line of the core is
documented in docs/operations.md ("Troubleshooting").

The messages are read from the sources, never from a list kept here: the
format string of every cshm_fail(error, code, FORMAT, ...) call in
core/src/*.c (the messages of cshm_error, which the bindings raise as
exceptions) and of every cshm_log(level, FORMAT, ...) call (the log lines).
A format is the string literal(s) of that argument, adjacent literals
concatenated; a macro between literals (CSHM_VERSION) counts as a
placeholder, and a conditional format (cond ? "a" : "b") gives one message
per literal.

Each message becomes a search key that survives edits to its tail: the text
up to its first conversion specifier (%s, %u, %08x, ...; "%%" is a literal
"%"), stripped.  Where that prefix is shorter than MIN_KEY characters (a
message that starts with a conversion, such as "%s is corrupt: ...", or
"replica %d: ..."), the key is the first run of literal text between two
conversions that is long enough; a message with no such run is skipped.
Whitespace is compared collapsed, so the document may wrap a message.

    python3 -m pytest -q tests/docs
"""
import glob
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCES = sorted(glob.glob(os.path.join(ROOT, "core", "src", "*.c")))
CATALOG = os.path.join(ROOT, "docs", "operations.md")
MIN_KEY = 12

# The token kinds of C that matter here; everything else is one character.
TOKEN = re.compile(r"""
      (?P<comment>/\*.*?\*/|//[^\n]*)
    | (?P<string>"(?:[^"\\\n]|\\.)*")
    | (?P<char>'(?:[^'\\\n]|\\.)*')
    | (?P<ident>[A-Za-z_][A-Za-z_0-9]*)
    | (?P<space>\s+)
    | (?P<other>.)
""", re.S | re.X)

# A printf conversion: flags, width, precision, length, conversion; or %%.
CONVERSION = re.compile(
    r"%(?:%|[-+ #0]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|j|z|t|L)?[diouxXeEfFgGaAcspn])")

ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "?": "?", "0": "\0"}


def tokens(text):
    """(kind, text, line) of every token but comments and whitespace."""
    line = 1
    for m in TOKEN.finditer(text):
        kind = m.lastgroup
        if kind not in ("comment", "space"):
            yield kind, m.group(), line
        line += m.group().count("\n")


def unquote(literal):
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), body)


def arguments(toks, start):
    """The top-level arguments of the call whose '(' is toks[start], each a
    list of tokens."""
    args, current, depth = [], [], 0
    for tok in toks[start + 1:]:
        kind, text, _ = tok
        if kind == "other" and text in "([{":
            depth += 1
        elif kind == "other" and text in ")]}":
            if depth == 0:
                args.append(current)
                return args
            depth -= 1
        elif kind == "other" and text == "," and depth == 0:
            args.append(current)
            current = []
            continue
        current.append(tok)
    raise AssertionError("unbalanced call at line %d" % toks[start][2])


def formats_of(argument):
    """The format strings an argument expression holds: each run of adjacent
    string literals (macros between them kept as a %s-like placeholder)."""
    runs, run = [], None
    for kind, text, _ in argument:
        if kind == "string":
            run = (run or "") + unquote(text)
        elif kind == "ident" and run is not None and text.isupper():
            run += "%s"
        else:
            if run is not None:
                runs.append(run)
            run = None
    if run is not None:
        runs.append(run)
    return runs


def calls(function, format_index):
    """(place, format) of every call of function in core/src/*.c."""
    found = []
    for path in SOURCES:
        with open(path, encoding="utf-8") as f:
            toks = list(tokens(f.read()))
        name = os.path.relpath(path, ROOT)
        for i, (kind, text, line) in enumerate(toks):
            if kind != "ident" or text != function:
                continue
            if i + 1 >= len(toks) or toks[i + 1][1] != "(":
                continue
            # The definition and the declaration: a type before the name.
            if i > 0 and toks[i - 1][0] == "ident" and toks[i - 1][1] in ("int", "void"):
                continue
            args = arguments(toks, i + 1)
            assert len(args) > format_index, "%s:%d: %s(...) without a format" % (
                name, line, function)
            formats = formats_of(args[format_index])
            assert formats, ("%s:%d: the format of %s(...) is not a string literal, so it "
                             "cannot be catalogued" % (name, line, function))
            for fmt in formats:
                found.append(("%s:%d" % (name, line), fmt))
    return found


def collapse(text):
    return " ".join(text.split())


def search_key(fmt):
    """The stable search key of a format, or None (see the module comment)."""
    pieces, piece, at = [], "", 0
    for m in CONVERSION.finditer(fmt):
        piece += fmt[at:m.start()]
        if m.group() == "%%":
            piece += "%"
        else:
            pieces.append(piece)
            piece = ""
        at = m.end()
    pieces.append(piece + fmt[at:])
    for piece in pieces:
        key = collapse(piece)
        if len(key) >= MIN_KEY:
            return key
    return None


def catalogue(function, format_index):
    keyed = {}
    for place, fmt in calls(function, format_index):
        key = search_key(fmt)
        if key is not None:
            keyed.setdefault(key, []).append(place)
    return sorted(keyed.items())


FAILURES = catalogue("cshm_fail", 2)
LOG_LINES = catalogue("cshm_log", 1)


def document():
    with open(CATALOG, encoding="utf-8") as f:
        return collapse(f.read())


def test_the_sources_were_read():
    # A parser that silently finds nothing would pass every check below.
    assert len(FAILURES) >= 50, FAILURES
    assert len(LOG_LINES) >= 10, LOG_LINES
    assert search_key("no segment at key 0x%08x") == "no segment at key 0x"
    assert search_key("%s is corrupt: unknown init state") == "is corrupt: unknown init state"
    assert search_key("bad URL: incomplete %%-escape in the %s") == "bad URL: incomplete %-escape in the"
    assert search_key("%s: %s") is None


@pytest.mark.parametrize("key,places", FAILURES, ids=[places[0] for _, places in FAILURES])
def test_every_error_message_is_documented(key, places):
    assert key in document(), (
        "the error message of %s (search key %r) is not in docs/operations.md: add it to "
        "\"Troubleshooting\" with what it means and what to do" % (", ".join(places), key))


@pytest.mark.parametrize("key,places", LOG_LINES, ids=[places[0] for _, places in LOG_LINES])
def test_every_log_line_is_documented(key, places):
    assert key in document(), (
        "the log line of %s (search key %r) is not in docs/operations.md: add it to "
        "\"Log lines\" with what it means and what to do" % (", ".join(places), key))
