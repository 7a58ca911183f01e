"""Recorded legacy traffic: requests exactly as clients built from the 1.0.0 schema sent them.

Layout: `<dir>/<Rpc>/<case>/<NN>.txtpb` (protobuf text format, baseline schema, readable) and
beside each the wire bytes `<NN>.binpb`. A case holds one message for unary requests and the
ordered sequence of messages for client-streaming RPCs. The suite sends the bytes; the text
is what people read and edit, and `engram-compat record` derives the bytes from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import text_format

from toolkit.contract import ENGRAM_SERVICE
from toolkit.errors import ToolkitError
from toolkit.schema.pool import RpcMethod, Schema, load_schema

TEXT_SUFFIX = ".txtpb"
WIRE_SUFFIX = ".binpb"
MESSAGE_HEADER = re.compile(r"^#\s*proto-message:\s*(\S+)", re.MULTILINE)
LEGACY_SERVICE = ENGRAM_SERVICE


class RecordingError(ToolkitError):
    """A recording cannot be read: unknown RPC, bad text format, wrong message type."""


@dataclass(frozen=True)
class RecordedMessage:
    text_path: Path
    wire_path: Path
    wire: bytes  # the bytes the text encodes (not necessarily what is on disk)


@dataclass(frozen=True)
class RecordedCase:
    rpc: str
    name: str
    messages: tuple[RecordedMessage, ...]

    @property
    def case_id(self) -> str:
        return f"{self.rpc}/{self.name}"

    @property
    def requests(self) -> tuple[bytes, ...]:
        return tuple(m.wire for m in self.messages)


@dataclass(frozen=True)
class WireMismatch:
    """A recording whose stored bytes differ from what its text encodes."""

    wire_path: Path
    reason: str  # "missing" | "differs"


def _legacy_methods(schema: Schema) -> dict[str, RpcMethod]:
    return {m.name: m for m in schema.methods() if m.service == LEGACY_SERVICE}


def _encode(path: Path, method: RpcMethod) -> bytes:
    text = path.read_text(encoding="utf-8")
    declared = MESSAGE_HEADER.search(text)
    expected = method.request.DESCRIPTOR.full_name
    if declared and declared.group(1) != expected:
        raise RecordingError(
            f"{path}: declares {declared.group(1)}, but {method.name} takes {expected}"
        )
    message = method.request()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as exc:
        raise RecordingError(f"{path}:{exc}") from exc
    wire: bytes = message.SerializeToString(deterministic=True)
    return wire


def load_recordings(root: Path, schema: Schema | None = None) -> list[RecordedCase]:
    """Every recorded case under `root`, in a stable order, encoded with the baseline schema."""
    if not root.is_dir():
        raise RecordingError(f"{root}: no recordings folder (expected <Rpc>/<case>/NN.txtpb)")
    methods = _legacy_methods(schema or load_schema("legacy"))
    cases: list[RecordedCase] = []
    for rpc_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        method = methods.get(rpc_dir.name)
        if method is None:
            raise RecordingError(f"{rpc_dir}: the baseline has no RPC {rpc_dir.name!r}")
        for case_dir in sorted(p for p in rpc_dir.iterdir() if p.is_dir()):
            texts = sorted(case_dir.glob(f"*{TEXT_SUFFIX}"))
            if not texts:
                raise RecordingError(f"{case_dir}: no {TEXT_SUFFIX} files")
            if len(texts) > 1 and not method.kind.startswith("stream_"):
                raise RecordingError(
                    f"{case_dir}: {method.name} takes one request, found {len(texts)}"
                )
            messages = tuple(
                RecordedMessage(t, t.with_suffix(WIRE_SUFFIX), _encode(t, method)) for t in texts
            )
            cases.append(RecordedCase(rpc_dir.name, case_dir.name, messages))
    return cases


def recorded_case_ids(root: Path) -> list[str]:
    """The ids (`Rpc/case`) of the cases under `root`, in `load_recordings`' order, from the
    folders alone: the suite parametrizes by them in every worker while it collects, where
    parsing every text costs start-up time; `load_wire` reads and checks the cases."""
    if not root.is_dir():
        raise RecordingError(f"{root}: no recordings folder (expected <Rpc>/<case>/NN.txtpb)")
    return [
        f"{rpc_dir.name}/{case_dir.name}"
        for rpc_dir in sorted(p for p in root.iterdir() if p.is_dir())
        for case_dir in sorted(p for p in rpc_dir.iterdir() if p.is_dir())
    ]


def wire_mismatches(cases: list[RecordedCase]) -> list[WireMismatch]:
    """Recordings whose stored wire bytes are missing or differ from their text."""
    found: list[WireMismatch] = []
    for case in cases:
        for message in case.messages:
            if not message.wire_path.exists():
                found.append(WireMismatch(message.wire_path, "missing"))
            elif message.wire_path.read_bytes() != message.wire:
                found.append(WireMismatch(message.wire_path, "differs"))
    return found


def write_wire(cases: list[RecordedCase]) -> list[Path]:
    """Write each recording's wire bytes from its text; returns the files that changed."""
    written: list[Path] = []
    for mismatch in wire_mismatches(cases):
        written.append(mismatch.wire_path)
    for case in cases:
        for message in case.messages:
            if message.wire_path in written:
                message.wire_path.write_bytes(message.wire)
    return written


def load_wire(root: Path) -> dict[str, tuple[bytes, ...]]:
    """The stored wire bytes of every case (`Rpc/case` -> requests), exactly as on disk.

    This is what the suite sends; it fails when the stored bytes and the text disagree.
    """
    cases = load_recordings(root)
    mismatches = wire_mismatches(cases)
    if mismatches:
        first = mismatches[0]
        raise RecordingError(
            f"{first.wire_path}: wire bytes {first.reason} from the text; "
            "run `engram-compat record`"
        )
    return {c.case_id: tuple(m.wire_path.read_bytes() for m in c.messages) for c in cases}
