"""Compile a folder of .proto files with grpcio-tools, always in a subprocess.

`python -m grpc_tools.protoc` adds the well-known-type include path; the in-process
`grpc_tools.protoc.main` does not and writes its errors straight to fd 2.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from toolkit.errors import ToolkitError

log = logging.getLogger(__name__)
_SKIPPED: set[Path] = set()


class SchemaCompileError(ToolkitError):
    """The compiler rejected a schema; the message is the compiler's own `file:line` text."""


def proto_files(root: Path) -> list[str]:
    """The .proto files under `root`, as sorted paths relative to it. Anything named `.proto`
    that is not a readable file is an error (one line), except a FIFO, socket or device,
    which is skipped with a warning: reading one could wait forever."""
    if not root.is_dir():
        raise SchemaCompileError(f"{root}: not a directory of .proto files")
    files = []
    for path in sorted(root.rglob("*.proto")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink() and not path.exists():
            raise SchemaCompileError(f"{root / name}: a symbolic link to nothing")
        if path.is_dir():
            raise SchemaCompileError(f"{root / name}: a folder, not a .proto file")
        if not path.is_file():
            if path not in _SKIPPED:  # listed more than once per run: say it once
                _SKIPPED.add(path)
                log.warning("%s: not a regular file (a FIFO, socket or device), skipped", path)
            continue
        files.append(name)
    if not files:
        raise SchemaCompileError(f"{root}: no .proto files found")
    return files


def read_proto(path: Path) -> bytes:
    """A .proto file's bytes; a file that cannot be read is one line, not a traceback."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SchemaCompileError(f"{path}: cannot read it ({exc.strerror or exc})") from exc


def run_protoc(root: Path, args: Sequence[str]) -> None:
    """Run protoc on every .proto under `root` with the given output arguments."""
    files = proto_files(root)
    proc = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"--proto_path={root}", *args, *files],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}"
        raise SchemaCompileError(detail)


def compile_descriptor_set(root: Path, out: Path) -> Path:
    """Write a FileDescriptorSet (imports and source info included) for the schema in `root`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    run_protoc(root, [f"--descriptor_set_out={out}", "--include_imports", "--include_source_info"])
    return out
