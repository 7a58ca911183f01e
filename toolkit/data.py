"""The frozen inputs the toolkit ships: the released baseline schema and the recorded legacy
requests. An installed wheel carries them as package data (`toolkit/_data/`); a source checkout
(or an editable install) reads them from the repository's `fixtures/`.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DATA = Path(__file__).resolve().parent / "_data"
SOURCE_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

BASELINE_PROTO = Path("baseline") / "proto"
# A schema source naming shipped data (`shipped:baseline`), as reports show it.
SHIPPED_PREFIX = "shipped:"
LEGACY_REQUESTS = Path("legacy_requests")


def _shipped(relative: Path) -> Path:
    packaged = PACKAGE_DATA / relative
    return packaged if packaged.is_dir() else SOURCE_FIXTURES / relative


def baseline_proto_dir() -> Path:
    """The released (1.0.0) schema: a buf module of .proto files."""
    return _shipped(BASELINE_PROTO)


def legacy_requests_dir() -> Path:
    """`<Rpc>/<case>/NN.txtpb` recordings of old clients, with their wire bytes beside them."""
    return _shipped(LEGACY_REQUESTS)


def shipped_schema(spec: str) -> Path | None:
    """The folder a `shipped:NAME` source names (only `shipped:baseline`), else None."""
    if spec == f"{SHIPPED_PREFIX}baseline":
        return baseline_proto_dir()
    return None
