"""A small HTTP/1.1 keep-alive load generator on asyncio (no tool to install).

It pre-builds requests and parses only the status line and Content-Length, so one process
drives a few thousand requests per second while leaving most of a core to the server.
"""

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def bad_status(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self) -> str:
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"{self.name:<28} {self.rate:8.1f} req/s  p50 {self.pct(50):6.1f} ms  "
            f"p99 {self.pct(99):6.1f} ms  mean {mean:6.1f} ms  n={self.count}  "
            f"statuses={dict(sorted(self.statuses.items()))} errors={self.errors}"
        )


def build_request(method: str, path: str, host: str, body: bytes = b"",
                  content_type: str = "application/json") -> bytes:  # fmt: skip
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n"
    if body or method == "POST":
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length, chunked, closing = 0, False, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "connection" and "close" in value.lower():
            closing = True
    if chunked:
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, closing


async def _worker(host, port, make_request: Callable[[], bytes], deadline, result: Result):
    reader = writer = None
    while time.perf_counter() < deadline:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                result.errors += 1
                await asyncio.sleep(0.05)
                continue
        request = make_request()
        started = time.perf_counter()
        try:
            writer.write(request)
            status, closing = await _read_response(reader)
        except (OSError, ConnectionError, ValueError, asyncio.IncompleteReadError):
            result.errors += 1
            writer.close()
            writer = None
            continue
        result.latencies.append(time.perf_counter() - started)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if closing:  # the server does not keep connections alive (e.g. a sync worker)
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _run(name, host, port, make_request, seconds, connections) -> Result:
    result = Result(name=name, seconds=seconds)
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(_worker(host, port, make_request, deadline, result) for _ in range(connections))
    )
    result.seconds = time.perf_counter() - started
    return result


def run(name: str, host: str, port: int, make_request: Callable[[], bytes], *, seconds: float,
        connections: int) -> Result:  # fmt: skip
    return asyncio.run(_run(name, host, port, make_request, seconds, connections))
