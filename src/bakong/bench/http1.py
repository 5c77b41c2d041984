"""A lean HTTP/1.1 client over asyncio streams, for load generators that share the machine.

`bakong bench gateway` drives two gateways from a process on the same two cores as the
gateways and the validators, so every CPU millisecond the client spends is one the measured
system does not get. With httpx the client took 10-16 ms of CPU per payment there (its
connection pool, h11, its request and response models, for the request and the payee's
event): half a core at 40 payments a second. This client writes a request with one `write`
and parses an answer with two reads, on a connection it keeps open (keep-alive). It speaks
only what the benchmark needs, and refuses the rest loudly:

- plain HTTP (no TLS), one request at a time per connection, `Content-Length` or `chunked`
  responses, no redirects, no compression, no proxies;
- `Http1Connection.request` sends again, once, on a fresh connection when a kept-alive one
  was closed before any byte of the answer arrived (the server may close an idle connection;
  the benchmark's requests are idempotent by their keys);
- `Http1Connection.lines` reads a streamed answer (server-sent events) line by line.

Every read is bounded: a head by `limits.bench_http_head_bytes_max`, a body by
`limits.bench_http_body_bytes_max`, and each request by the caller's timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from bakong import limits
from bakong.errors import LocalError, RemoteError

__all__ = ["Http1Connection", "HttpClientError", "Response"]


class HttpClientError(RemoteError):
    """The connection failed or the server's answer is not HTTP/1.1 this client reads. Code
    `closed` when the connection ended before a byte of the answer (it may be sent again)."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names lowercased
    body: bytes


class Http1Connection:
    """One keep-alive connection to the origin of `base_url` (`http://host:port`)."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise LocalError(f"only http://host:port is spoken here, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        self._authority = f"{self.host}:{self.port}".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            await self.aclose()
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=limits.bench_http_head_bytes_max
            )
        return self._reader, self._writer

    def _head(self, method: str, path: str, headers: dict[str, str], length: int | None) -> bytes:
        lines = [f"{method} {path} HTTP/1.1".encode(), b"host: " + self._authority]
        lines.extend(f"{name}: {value}".encode() for name, value in headers.items())
        if length is not None:
            lines.append(b"content-length: %d" % length)
        return b"\r\n".join(lines) + b"\r\n\r\n"

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> Response:
        """One request and its whole answer; `HttpClientError` (or TimeoutError) when it fails."""
        message = self._head(method, path, headers, None if body is None else len(body))
        if body:
            message += body
        async with asyncio.timeout(self.timeout_s):
            reused = self._writer is not None and not self._writer.is_closing()
            try:
                return await self._exchange(message)
            except HttpClientError as error:
                if error.code != _CLOSED or not reused:
                    raise
            await self.aclose()  # a kept-alive connection the server had closed: once more
            return await self._exchange(message)

    async def _exchange(self, message: bytes) -> Response:
        try:
            reader, writer = await self._open()
            try:
                writer.write(message)
                status, headers = await _read_head(reader)
            except ConnectionError:  # reset before a byte of the answer: as closed
                raise _closed() from None
            answer = Response(status, headers, await _read_body(reader, headers))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            await self.aclose()
            raise HttpClientError("failed", f"{type(error).__name__}: {error}") from None
        except BaseException:
            await self.aclose()
            raise
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return answer

    async def lines(self, path: str, headers: dict[str, str]) -> AsyncIterator[str]:
        """GET `path` and yield each line of its streamed (chunked) answer, until it ends.
        `HttpClientError` if the answer is not 200. The connection is used up by the stream."""
        reader, writer = await self._open()
        try:
            writer.write(self._head("GET", path, headers, None))
            async with asyncio.timeout(self.timeout_s):
                status, answer_headers = await _read_head(reader)
            if status != 200:
                raise HttpClientError("refused", f"GET {path}: HTTP {status}")
            if answer_headers.get("transfer-encoding", "").lower() != "chunked":
                raise HttpClientError("malformed", f"GET {path}: the stream is not chunked")
            pending = b""
            while True:
                chunk = await _read_chunk(reader)
                if chunk is None:
                    return
                pending += chunk
                *complete, pending = pending.split(b"\n")
                if len(pending) > limits.bench_http_body_bytes_max:
                    raise HttpClientError("too_long", "a streamed line is too long")
                for line in complete:
                    yield line.rstrip(b"\r").decode()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            raise HttpClientError("failed", f"{type(error).__name__}: {error}") from None
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass  # already reset by the other side: closed either way


_CLOSED = "closed"


def _closed() -> HttpClientError:
    return HttpClientError(_CLOSED, "the server closed the connection before answering")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            raise _closed() from None
        raise
    status_line, *header_lines = raw[:-4].decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/1."):
        raise HttpClientError("malformed", f"not an HTTP/1 answer: {status_line[:40]!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(rest[:3]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        size = 0
        while (chunk := await _read_chunk(reader)) is not None:
            size += len(chunk)
            if size > limits.bench_http_body_bytes_max:
                raise HttpClientError("too_long", "the answer is too long")
            parts.append(chunk)
        return b"".join(parts)
    length = int(headers.get("content-length", "0"))
    if length > limits.bench_http_body_bytes_max:
        raise HttpClientError("too_long", "the answer is too long")
    return await reader.readexactly(length)


async def _read_chunk(reader: asyncio.StreamReader) -> bytes | None:
    """The next chunk of a chunked body, or None after the last (its trailers read)."""
    size_line = await reader.readuntil(b"\r\n")
    size = int(size_line.split(b";", 1)[0], 16)
    if size > limits.bench_http_body_bytes_max:
        raise HttpClientError("too_long", "a chunk is too long")
    if size == 0:
        while await reader.readuntil(b"\r\n") != b"\r\n":
            pass  # trailers: none expected, read past them
        return None
    data = await reader.readexactly(size + 2)
    return data[:-2]
