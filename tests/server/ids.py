"""Malformed space ids every layer must refuse."""

MALFORMED_IDS = (
    " ",  # empty after a space
    "ab",  # 2 characters
    "a" * 65,  # 65 characters
    "Alpha",
    "ALPHA",
    "../x",
    "..",
    "...",  # right length, but dots are not allowed
    "a/b",
    "a\\b",
    "spaces/../../etc",
    "a\x00b",
    "alpha\x00",
    "\u0430lpha",  # Cyrillic a
    "alph\u0430",
    "\uff41\uff4c\uff50\uff48\uff41",  # fullwidth
    "\u03b1lpha",  # Greek alpha
    "\ufb01le",  # ligature fi
    " alpha",
    "alpha ",
    "\talpha",
    "alpha\n",
    "al pha",
    "al.pha",
    "alpha!",
    "a:b",
    "al%2fpha",
    "~root",
    "$HOME",
    "a*b",
)

# Those that can travel in a gRPC header (printable ASCII).
HEADER_MALFORMED_IDS = tuple(
    i for i in MALFORMED_IDS if i.isascii() and i.isprintable() and i.strip() == i and i
)

VALID_IDS = ("abc", "a" * 64, "team-a", "team_b", "0-9", "default", "---", "___")
