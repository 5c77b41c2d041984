"""The benchmark's own HTTP/1.1 client (`bakong.bench.http1`) against a real uvicorn server.

It must read what the gateway sends (a JSON answer with a length, a chunked event stream),
keep its connection between requests, send once more on a fresh connection when the server
closed a kept-alive one, and refuse a stream that does not open.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bakong.bench.http1 import Http1Connection, HttpClientError
from bakong.errors import LocalError
from tests.gateway.loopback import serve

TIMEOUT_S = 10.0


def _app() -> Starlette:
    connections = itertools.count(1)
    seen: dict[int, int] = {}  # the client port of each connection: its number

    async def echo(request: Request) -> Response:
        assert request.client is not None
        number = seen.setdefault(request.client.port, next(connections))
        body = await request.body()
        return JSONResponse({
            "connection": number, "length": len(body), "auth": request.headers.get("authorization"),
        })  # fmt: skip

    async def closing(request: Request) -> Response:
        return Response(b"bye", headers={"connection": "close"})

    async def events(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer ok":
            return JSONResponse({"error": "unauthenticated"}, 401)

        async def lines() -> AsyncIterator[bytes]:
            yield b": open\n\n"
            yield b"data: {\"memo\": \"one\"}\n"  # a line split over two chunks
            yield b"\n"
            yield b"data: two\r\n\r\n"

        return StreamingResponse(lines(), media_type="text/event-stream")

    return Starlette(routes=[
        Route("/echo", echo, methods=["POST"]), Route("/closing", closing, methods=["GET"]),
        Route("/events", events, methods=["GET"]),
    ])  # fmt: skip


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(_app()) as base:
        yield base


def test_requests_share_one_kept_alive_connection(url: str) -> None:
    async def run() -> list[dict[str, object]]:
        connection = Http1Connection(url, TIMEOUT_S)
        answers = []
        for body in (b"{}", b'{"a": 1}', b""):
            answer = await connection.request("POST", "/echo", {"authorization": "x"}, body)
            assert answer.status == 200 and answer.headers["content-type"] == "application/json"
            answers.append(json.loads(answer.body))
        await connection.aclose()
        return answers

    answers = asyncio.run(run())
    assert [a["length"] for a in answers] == [2, 8, 0]
    assert {a["connection"] for a in answers} == {answers[0]["connection"]}
    assert all(a["auth"] == "x" for a in answers)


def test_a_connection_the_server_closed_is_replaced(url: str) -> None:
    async def run() -> tuple[bytes, int]:
        connection = Http1Connection(url, TIMEOUT_S)
        closed = await connection.request("GET", "/closing", {})
        # The server said `connection: close`: the next request opens a new connection.
        after = await connection.request("POST", "/echo", {}, b"x")
        await connection.aclose()
        return closed.body, after.status

    assert asyncio.run(run()) == (b"bye", 200)


@pytest.mark.parametrize("pause_s", [0.0, 0.05])  # the close seen before, or after, sending
def test_a_kept_alive_connection_closed_under_the_client_is_sent_again(pause_s: float) -> None:
    async def run() -> tuple[list[bytes], int]:
        connections = 0

        async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # Answers one request, then drops the connection without saying so, as a server
            # does with a connection that stayed idle too long.
            nonlocal connections
            connections += 1
            await reader.readuntil(b"\r\n\r\n")
            body = b"%d" % connections
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        connection = Http1Connection(f"http://127.0.0.1:{port}", TIMEOUT_S)
        bodies = []
        async with server:
            for _ in range(3):
                bodies.append((await connection.request("GET", "/", {})).body)
                await asyncio.sleep(pause_s)
            await connection.aclose()
        return bodies, connections

    assert asyncio.run(run()) == ([b"1", b"2", b"3"], 3)


def test_an_event_stream_is_read_line_by_line(url: str) -> None:
    async def run() -> list[str]:
        connection = Http1Connection(url, TIMEOUT_S)
        return [line async for line in connection.lines("/events", {"authorization": "Bearer ok"})]

    assert asyncio.run(run()) == [": open", "", 'data: {"memo": "one"}', "", "data: two", ""]


def test_a_stream_that_is_refused_raises(url: str) -> None:
    async def run() -> None:
        connection = Http1Connection(url, TIMEOUT_S)
        async for _ in connection.lines("/events", {}):
            pass

    with pytest.raises(HttpClientError, match="HTTP 401"):
        asyncio.run(run())


def test_only_plain_http_is_spoken() -> None:
    with pytest.raises(LocalError, match="only http"):
        Http1Connection("https://127.0.0.1:1", TIMEOUT_S)
