"""`bakong.ports`: a chosen loopback port stays refused to everyone else's bind while our own
server (SO_REUSEADDR, as uvicorn's and asyncio's are) listens and is reached on it, also after
a restart; the number of held ports is bounded."""

from __future__ import annotations

import asyncio
import socket

import pytest

from bakong import limits, ports
from bakong.ports import loopback_port


def test_a_chosen_port_is_refused_to_others_and_served_by_our_server() -> None:
    port = loopback_port()
    with socket.socket() as other, pytest.raises(OSError):
        other.bind(("127.0.0.1", port))

    async def serve_once() -> bytes:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"ours")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", port)
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            answer_bytes = await reader.read()
            writer.close()
        return answer_bytes

    assert asyncio.run(serve_once()) == b"ours"
    assert asyncio.run(serve_once()) == b"ours"  # a restarted server binds it again
    with socket.socket() as other, pytest.raises(OSError):
        other.bind(("127.0.0.1", port))  # still held once our server has gone


def test_held_ports_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "loopback_ports_held_max", 3)
    first = loopback_port()
    chosen = [loopback_port() for _ in range(3)]
    assert len(ports._held) == 3 and first not in chosen
    with socket.socket() as other:
        other.bind(("127.0.0.1", first))  # the oldest was let go
