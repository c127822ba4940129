"""A Sereno deployment in subprocesses, for tests that kill processes and for benchmarks:
its own data directory and database (SQLite file, or a PostgreSQL database of its own),
`gunicorn` as in production, and `sereno sender` processes.

    sereno = Deployment(workdir, database_url=None)      # SQLite in workdir
    sereno.prepare()                                      # (re)create the database, migrate
    sereno.python("print(1)")                             # code run with Django set up
    web = sereno.start_web(port)                          # gunicorn, its own process group
    sender = sereno.start_sender("--threads", "16")
    sereno.sql("SELECT count(*) FROM messaging_inboundmessage")
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PYTHON = sys.executable


def recreate_database(url: str, *, create: bool = True) -> None:
    """Drop the PostgreSQL database of `url` (connections and all) and create it empty."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


class Deployment:
    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str | None = None,
        redis_url: str | None = None,
        env: dict[str, str] | None = None,
    ):
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url
        self.redis_url = redis_url
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SERENO_", "PYTEST_", "DJANGO_"))
        }
        self.env = {
            **base,
            "DJANGO_SETTINGS_MODULE": "sereno.settings",
            "SERENO_DATA_DIR": str(self.data_dir),
            "SERENO_LOG_LEVEL": "WARNING",
            "SERENO_ACCESS_LOG": "off",
            "PYTHONPATH": str(ROOT),
            **({"SERENO_DATABASE_URL": database_url} if database_url else {}),
            **({"SERENO_REDIS_URL": redis_url} if redis_url else {}),
            **(env or {}),
        }
        self.processes: list[subprocess.Popen] = []

    # ---- database ----------------------------------------------------------------------------
    def prepare(self) -> None:
        """A fresh database with every migration applied."""
        if self.database_url:
            recreate_database(self.database_url)
        else:
            for suffix in ("", "-wal", "-shm"):
                (self.data_dir / f"sereno.sqlite3{suffix}").unlink(missing_ok=True)
        self.run("migrate")

    def drop(self) -> None:
        if self.database_url:
            recreate_database(self.database_url, create=False)

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url) as conn:
                return conn.execute(query.replace("?", "%s"), params).fetchall()
        conn = sqlite3.connect(self.data_dir / "sereno.sqlite3", timeout=30)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    def scalar(self, query: str, params: tuple = ()):
        return self.sql(query, params)[0][0]

    # ---- commands ----------------------------------------------------------------------------
    def run(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [PYTHON, "-m", "sereno", *args], env=self.env, cwd=ROOT, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"sereno {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def python(self, code: str, *, timeout: float = 300):
        """Run `code` with Django set up; what it assigns to `result` comes back (JSON)."""
        script = (
            "import django, json, sys\ndjango.setup()\nresult = None\n"
            + code
            + "\nsys.stdout.write('\\n@@RESULT@@' + json.dumps(result, default=str))\n"
        )
        completed = subprocess.run(
            [PYTHON, "-c", script], env=self.env, cwd=ROOT, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        if completed.returncode != 0:
            raise RuntimeError(f"script failed:\n{completed.stderr[-3000:]}")
        return json.loads(completed.stdout.rsplit("@@RESULT@@", 1)[1])

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            argv, env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True,  # its own process group: killed with all its children
        )  # fmt: skip
        log.close()
        self.processes.append(proc)
        return proc

    def start_web(
        self, port: int, *, workers: int = 2, threads: int = 8, timeout: float = 60
    ) -> subprocess.Popen:
        """gunicorn as `sereno serve` runs it, with a deep listen backlog."""
        from sereno.cli import _gunicorn_argv

        argv = _gunicorn_argv("127.0.0.1", port, workers, threads) + ["--backlog", "4096"]
        if self.env.get("SERENO_ACCESS_LOG") == "off" and "--access-logfile" in argv:
            at = argv.index("--access-logfile")
            del argv[at : at + 4]  # --access-logfile - --access-logformat FORMAT
        proc = self._spawn("web", argv)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + self.tail("web"))
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return proc
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("gunicorn did not start")

    def start_command(self, name: str, *args: str) -> subprocess.Popen:
        """`sereno <args>` in the background (its output in <workdir>/<name>.log)."""
        return self._spawn(name, [PYTHON, "-m", "sereno", *args])

    def start_sender(self, *args: str) -> subprocess.Popen:
        return self._spawn("sender", [PYTHON, "-m", "sereno", "sender", *args])

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Signal the process and everything it started (its process group)."""
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                self.kill(proc)
        self.processes.clear()


def own_database_url(suffix: str) -> str | None:
    """A PostgreSQL database of our own next to the one the suite uses (None on SQLite)."""
    url = os.environ.get("SERENO_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    base, name = url.rsplit("/", 1)
    return f"{base}/{name.split('?')[0]}_{suffix}"
