"""Intake benchmark: HTTP POST /api/v1/reports through the production server (gunicorn) on
PostgreSQL, side by side with a trivial JSON endpoint on the same server, in one run.

    make bench                      # or: .venv/bin/python bench/intake.py --seconds 20

Targets (2 cores, load generated on the same machine): >= 400 reports/s, p99 < 150 ms, and at
least 40 % of the trivial endpoint's rate.
"""

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import build_request, run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CATEGORIES = ["robo-asalto", "extorsion", "homicidio", "amenazas", "sicariato", "corrupcion",
              "violencia-domestica", "desaparicion", "abuso-policial"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def report_body(rng: random.Random) -> bytes:
    lat = rng.uniform(13.2, 15.9)
    lon = rng.uniform(-89.2, -83.5)
    when = datetime.now(UTC) - timedelta(minutes=rng.randint(5, 60 * 24 * 30))
    return json.dumps({
        "title": "Asalto a mano armada en la colonia",
        "description": "Dos hombres en motocicleta asaltaron a una persona a las 8 de la noche. "
                       "Se llevaron su teléfono y dinero.",
        "categories": [rng.choice(CATEGORIES)],
        "occurred_at": when.isoformat(),
        "latitude": round(lat, 5), "longitude": round(lon, 5),
        "location_precision": rng.choice(["exact", "place"]),
    }).encode()  # fmt: skip


class WrkResult:
    """wrk's summary in the shape of loadgen.Result (rate, pct, count, errors, line)."""

    def __init__(self, name: str, output: str):
        line = next(x for x in output.splitlines() if x.startswith("WRK "))
        requests, micros, errors, bad_status, p50, p99, mean = line.split()[1:]
        self.name, self.count, self.seconds = name, int(requests), int(micros) / 1e6
        self.errors, self.bad_status = int(errors), int(bad_status)
        self._pct, self.mean = {50: float(p50), 99: float(p99)}, float(mean)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, p: int) -> float:
        return self._pct[p]

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.rate:8.1f} req/s  p50 {self.pct(50):6.1f} ms  "
            f"p99 {self.pct(99):6.1f} ms  mean {self.mean:6.1f} ms  n={self.count}  "
            f"non-2xx={self.bad_status} errors={self.errors}"
        )


def run_wrk(name: str, url: str, mode: str, *, seconds: float, connections: int) -> WrkResult:
    script = Path(__file__).resolve().parent / "intake.lua"
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(script), url],
        env={**os.environ, "SERENO_WRK_MODE": mode}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return WrkResult(name, output)


def count_reports(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM reports_report").fetchone()[0]


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants, from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = int(fields[11]) + int(fields[12])
    family, frontier = {pid}, {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - family
        family |= frontier
    return sum(times.get(p, 0) for p in family) / ticks


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2):  # noqa: S310
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("server did not start")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "SERENO_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sereno_bench"
        ),
    )
    parser.add_argument(
        "--loadgen",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="wrk (C, little CPU taken from the server) when installed, else bench/loadgen.py",
    )
    args = parser.parse_args()
    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and shutil.which("wrk"))

    ensure_database(args.database_url)
    data_dir = ROOT / "var" / "bench"
    env = {
        **os.environ,
        "SERENO_DATABASE_URL": args.database_url,
        "SERENO_DATA_DIR": str(data_dir),
        # Rate limits stay on (their cost is part of intake); one client is all the load here.
        "SERENO_RATE_REPORTS": "100000000/3600",
        "SERENO_LOG_LEVEL": "WARNING",
    }
    if not env.get("SERENO_REDIS_URL"):
        env["SERENO_REDIS_URL"] = "redis://127.0.0.1:6379/1"
    subprocess.run([PYTHON, "-m", "sereno", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "sereno", "serve", "--port", str(port), "--workers", str(args.workers),
         "--threads", str(args.threads)],
        env={**env, "SERENO_ACCESS_LOG": "off"}, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ready(port)
        before = count_reports(args.database_url)
        if use_wrk:
            base = f"http://127.0.0.1:{port}"
            run_wrk("warm-up", base + "/", "report", seconds=3, connections=args.connections)
            time.sleep(1)  # let the warm-up's last requests finish before counting
            before = count_reports(args.database_url)
            cpu0 = tree_cpu_seconds(server.pid)
            trivial = run_wrk("GET /api/v1/ping", base + "/api/v1/ping", "get",
                              seconds=args.seconds, connections=args.connections)  # fmt: skip
            cpu1 = tree_cpu_seconds(server.pid)
            intake = run_wrk("POST /api/v1/reports", base + "/", "report",
                             seconds=args.seconds, connections=args.connections)  # fmt: skip
            cpu2 = tree_cpu_seconds(server.pid)
        else:
            host = f"127.0.0.1:{port}"
            ping = build_request("GET", "/api/v1/ping", host)
            rng = random.Random(7)
            bodies = [report_body(rng) for _ in range(2000)]
            counter = iter(range(10**12))

            def next_report() -> bytes:
                return build_request("POST", "/api/v1/reports", host,
                                     bodies[next(counter) % len(bodies)])  # fmt: skip

            run("warm-up", "127.0.0.1", port, next_report, seconds=3,
                connections=args.connections)  # fmt: skip
            time.sleep(1)
            before = count_reports(args.database_url)
            cpu0 = tree_cpu_seconds(server.pid)
            trivial = run("GET /api/v1/ping", "127.0.0.1", port, lambda: ping,
                          seconds=args.seconds, connections=args.connections)  # fmt: skip
            cpu1 = tree_cpu_seconds(server.pid)
            intake = run("POST /api/v1/reports", "127.0.0.1", port, next_report,
                         seconds=args.seconds, connections=args.connections)  # fmt: skip
            cpu2 = tree_cpu_seconds(server.pid)
        time.sleep(1)  # requests in flight when the clock stopped are still stored
        created = count_reports(args.database_url) - before
    finally:
        server.terminate()
        server.wait(timeout=30)

    ratio = intake.rate / trivial.rate if trivial.rate else 0
    print(
        f"server: gunicorn {args.workers} workers x {args.threads} threads, PostgreSQL, "
        f"{os.cpu_count()} cores; load from {'wrk' if use_wrk else 'bench/loadgen.py'}, "
        f"{args.connections} connections, {args.seconds:.0f} s each"
    )
    print(trivial.line())
    print(intake.line())
    # Server CPU per request does not depend on what else the machine is doing; the rates do.
    ping_cpu = 1000 * (cpu1 - cpu0) / max(1, trivial.count)
    report_cpu = 1000 * (cpu2 - cpu1) / max(1, intake.count)
    print(
        f"server CPU per request (gunicorn processes): ping {ping_cpu:.2f} ms, report "
        f"{report_cpu:.2f} ms; load average at the end {os.getloadavg()[0]:.2f}"
    )
    print(f"reports stored: {created} of {intake.count} answered; intake/trivial: {ratio:.0%}")
    checks = {
        ">= 400 reports/s": intake.rate >= 400,
        "p99 < 150 ms": intake.pct(99) < 150,
        ">= 40 % of trivial": ratio >= 0.40,
        # Requests still in flight when the clock stops are stored but not counted.
        "every request stored, no errors": 0 <= created - intake.count <= args.connections
        and intake.errors == 0
        and intake.bad_status == 0,
    }
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISSED'}] {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
