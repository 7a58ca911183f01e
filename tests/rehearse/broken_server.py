"""A server that claims the current schema but writes every new client into the default
space (it ignores `memory_space_id` and the header). Run as a script, like `serve`:

    python broken_server.py SCHEMA DATA_DIR PORT
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from toolkit.schema.pool import SchemaName
from toolkit.server.app import EngramServer, ServerConfig, ServerOverrides
from toolkit.server.logs import configure_logging
from toolkit.server.resolve import SpaceResolver


class EveryoneToDefault(SpaceResolver):
    def requested_by_field(self, request: Message | None) -> str:
        return ""

    def requested_by_header(self, metadata: Sequence[tuple[str, Any]]) -> str:
        return ""


def command(schema: SchemaName, data_dir: Path, port: int) -> list[str]:
    return [sys.executable, __file__, schema, str(data_dir), str(port)]


async def serve(schema: SchemaName, data_dir: Path, port: int) -> None:
    overrides = ServerOverrides(resolver=EveryoneToDefault) if schema == "current" else None
    server = EngramServer(ServerConfig(data_dir=data_dir, port=port, schema=schema), overrides)
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"listening on {server.address}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


if __name__ == "__main__":
    configure_logging("json")
    schema_name: SchemaName = "current" if sys.argv[1] == "current" else "legacy"
    asyncio.run(serve(schema_name, Path(sys.argv[2]), int(sys.argv[3])))
