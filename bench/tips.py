"""Tip line benchmark through the production server (gunicorn) on PostgreSQL + Redis.

    .venv/bin/python bench/tips.py                 # about 2 minutes
    .venv/bin/python bench/tips.py --seconds 20 --upload-mb 1024

1. Tip submissions (form page, then a multipart POST with a 1 MB attachment: Argon2id for the
   receipt, the file encrypted in chunks) and staff sign-ins (Django's Argon2 password
   check), each alone, then both at the same time. The server runs ONE process by default
   (gthread): GlobaLeaks holds one global lock around every Argon2 call, so the question is
   whether Argon2 calls overlap inside a process. The server is Sereno's WSGI application
   with its Argon2 calls timed (bench/tips_probe.py): how many ran at the same moment does
   not depend on how busy the machine is, unlike requests/s. Under a global lock the peak
   would be 1 and the time with two or more in flight 0 %. Before the server starts, a probe
   checks that each Argon2 call releases the GIL (another Python thread keeps running).
2. One upload of a large file (1 GB by default), generated while it is sent (never on the
   client's disk), while the server's resident memory (every gunicorn process, /proc) is
   sampled: the peak must stay under 100 MB above idle.
"""

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import ensure_database, free_port, tree_cpu_seconds, wait_ready  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PASSWORD = "correct-horse-battery-9"  # noqa: S105 - the bench's own users
MB = 1024 * 1024

SETUP = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sereno.settings")
import django
django.setup()
from django.contrib.auth.models import Group
from sereno.accounts.models import User
from sereno.tips import keys
from sereno.tips.models import Channel, Question, RecipientKey

channel, _ = Channel.objects.get_or_create(slug="bench", defaults={"name": "Banco de pruebas"})
if not channel.questions.exists():
    Question.objects.create(channel=channel, order=1, kind="text", label="Qué pasó",
                            required=True)
    Question.objects.create(channel=channel, order=2, kind="files", label="Pruebas")
group, _ = Group.objects.get_or_create(name="tip_recipient")
for name in ("bench-rita", "bench-raul", "bench-staff"):
    user = User.objects.filter(username=name).first()
    if user is None:
        user = User.objects.create_user(username=name, password=PASSWORD)
        user.groups.add(group)
    if name != "bench-staff" and not RecipientKey.objects.filter(user=user).exists():
        keys.recipient_key_create(user=user, password=PASSWORD)
        channel.recipients.add(user)
question = channel.questions.get(kind="text").pk
print(json.dumps({"question": question}))
"""


# Whether an Argon2 call lets other Python threads run (releases the GIL): a loop of pure
# Python notes the longest pause it suffers while another thread runs Argon2 calls back to
# back. Holding the GIL would pause it for a whole call. Independent of machine load.
GIL_PROBE = """
import json, os, threading, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sereno.settings")
import django
django.setup()
from django.contrib.auth.hashers import check_password, make_password
from sereno.tips import crypto

encoded = make_password(PASSWORD)
kinds = {
    "password": lambda: check_password(PASSWORD, encoded),
    "receipt/key": lambda: crypto.argon2id(b"x" * 60, os.urandom(crypto.SALT_BYTES), size=64),
}
result = {}
for kind, call in kinds.items():
    stop, durations = threading.Event(), []
    def work():
        while not stop.is_set():
            start = time.perf_counter()
            call()
            durations.append(time.perf_counter() - start)
    thread = threading.Thread(target=work)
    thread.start()
    last = time.perf_counter()
    end, longest = last + 3, 0.0
    while last < end:
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    stop.set()
    thread.join()
    durations.sort()
    result[kind] = {"call_ms": 1000 * durations[len(durations) // 2], "pause_ms": 1000 * longest}
print(json.dumps(result))
"""


def django_snippet(code: str, env: dict) -> dict:
    out = subprocess.run([PYTHON, "-c", f"PASSWORD = {PASSWORD!r}\n" + code], env=env,
                         cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- HTTP ----------------------------------------------------------------------------------------


class Http:
    """One keep-alive connection; reconnects after the server closes it."""

    def __init__(self, port: int):
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method, path, body=None, headers=None):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, response, data
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def multipart(fields: dict[str, str], file_field: str, file_name: str, size: int):
    """(headers, body parts): the file part's bytes are produced by a generator."""
    boundary = f"----sereno-bench-{uuid.uuid4().hex}"
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{file_name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail)),
    }
    return headers, head, tail


def token_of(html: bytes) -> str:
    return re.search(rb'name="token" value="([^"]+)"', html).group(1).decode()


@dataclass
class Tally:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def line(self) -> str:
        return (
            f"  {self.name:<22} {self.rate:7.2f}/s  p50 {self.pct(50):7.0f} ms  "
            f"p99 {self.pct(99):7.0f} ms  n={len(self.latencies)}  "
            f"statuses={dict(sorted(self.statuses.items()))} errors={self.errors}"
        )


class Submitter:
    expected = 201

    def __init__(self, port: int, question: int, attachment: bytes):
        self.http, self.question, self.attachment = Http(port), question, attachment

    def once(self) -> int:
        _, _, page = self.http.request("GET", "/tips/bench/")
        fields = {"token": token_of(page), f"q{self.question}": "Pago de sobornos en la aduana."}
        headers, head, tail = multipart(fields, "files", "evidencia.bin", len(self.attachment))
        status, _, _ = self.http.request("POST", "/tips/bench/", head + self.attachment + tail,
                                         headers)  # fmt: skip
        return status


class SignIn:
    expected = 302

    def __init__(self, port: int):
        self.http = Http(port)

    def once(self) -> int:
        _, response, page = self.http.request("GET", "/accounts/login/")
        cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie", "")).group(1)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = (
            f"csrfmiddlewaretoken={token.decode()}&username=bench-staff&password={PASSWORD}"
            "&otp_token="
        ).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Cookie": f"csrftoken={cookie}"}  # fmt: skip
        status, _, _ = self.http.request("POST", "/accounts/login/", body, headers)
        return status


def run_phase(makers: dict[str, tuple], seconds: float) -> dict[str, Tally]:
    """Run each kind with its number of threads for `seconds`; count what completes inside."""
    tallies = {name: Tally(name) for name in makers}
    stop = threading.Event()
    start = time.perf_counter()
    deadline = start + seconds

    def loop(name, client):
        tally = tallies[name]
        while not stop.is_set():
            began = time.perf_counter()
            try:
                status = client.once()
            except Exception:  # noqa: BLE001 - counted, the load goes on
                tally.errors += 1
                client.http.close()
                continue
            ended = time.perf_counter()
            if ended > deadline:
                break
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status == client.expected:
                tally.latencies.append(ended - began)

    threads = [
        threading.Thread(target=loop, args=(name, make()), daemon=True)
        for name, (make, count) in makers.items()
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=300)
    for tally in tallies.values():
        tally.seconds = seconds
    return tallies


def argon2_calls(port: int) -> list:
    web = Http(port)
    try:
        return json.loads(web.request("GET", "/__bench/argon2")[2])
    finally:
        web.close()


def in_flight(calls: list) -> dict:
    """How many Argon2 calls were running at once, from their (kind, start, end)."""
    edges = sorted([(start, 1) for _, start, _ in calls] + [(end, -1) for _, _, end in calls])
    running = peak = 0
    busy = parallel = 0.0
    last = None
    for moment, step in edges:
        if last is not None and running >= 1:
            busy += moment - last
            parallel += (moment - last) if running >= 2 else 0.0
        running += step
        peak = max(peak, running)
        last = moment
    medians = {}
    for kind in sorted({kind for kind, _, _ in calls}):
        durations = sorted(end - start for k, start, end in calls if k == kind)
        medians[kind] = f"{1000 * durations[len(durations) // 2]:.0f} ms"
    median_text = ", ".join(f"{kind} median {ms}" for kind, ms in medians.items())
    return {
        "calls": len(calls), "peak": peak, "median_ms": median_text or "none",
        "mean": sum(end - start for _, start, end in calls) / busy if busy else 0.0,
        "parallel": parallel / busy if busy else 0.0,
    }  # fmt: skip


# --- memory ---------------------------------------------------------------------------------------


def family(pid: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    members, frontier = {pid}, {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - members
        members |= frontier
    return sorted(members)


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def upload_large(port: int, question: int, size: int, server_pid: int) -> dict:
    pids = family(server_pid)
    web = Http(port)
    _, _, page = web.request("GET", "/tips/bench/")
    web.close()
    fields = {"token": token_of(page), f"q{question}": "Base de datos filtrada."}
    headers, head, tail = multipart(fields, "files", "filtracion.bin", size)
    time.sleep(1)
    idle = rss_mb(pids)
    peak = idle
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(pids))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    block = os.urandom(MB)  # generated once; the body is streamed, never held whole
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
    conn.putrequest("POST", "/tips/bench/")
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(head)
    sent = 0
    while sent < size:
        chunk = block[: min(MB, size - sent)]
        conn.send(chunk)
        sent += len(chunk)
    conn.send(tail)
    sent_at = time.perf_counter()
    response = conn.getresponse()
    response.read()
    ended = time.perf_counter()
    done.set()
    sampler.join()
    conn.close()
    return {
        "status": response.status, "idle": idle, "peak": peak, "size": size,
        "send_s": sent_at - start, "total_s": ended - start, "processes": len(pids),
    }  # fmt: skip


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--submitters", type=int, default=4, help="concurrent sources")
    parser.add_argument("--signins", type=int, default=4, help="concurrent staff sign-ins")
    parser.add_argument("--attachment-mb", type=float, default=1)
    parser.add_argument("--upload-mb", type=int, default=1024, help="0 skips the upload")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "SERENO_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sereno_bench_tips"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("SERENO_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    )
    args = parser.parse_args()

    ensure_database(args.database_url)
    data_dir = ROOT / "var" / "bench-tips"
    big = max(args.upload_mb, 16) * MB + MB
    env = {
        **os.environ,
        "SERENO_DATABASE_URL": args.database_url,
        "SERENO_REDIS_URL": args.redis_url,
        "SERENO_DATA_DIR": str(data_dir),
        "SERENO_LOG_LEVEL": "WARNING",
        # Limits stay in the path (their cost is real) but one client is all the load here.
        "SERENO_TIPS_RATE_SUBMIT_SESSION": "100000000/3600",
        "SERENO_TIPS_RATE_SUBMIT_GLOBAL": "100000000/3600",
        "SERENO_RATE_LOGIN_USER": "100000000/900",
        "SERENO_RATE_LOGIN_CLIENT": "100000000/900",
        "SERENO_MAX_UPLOAD_BYTES": str(big),
        "SERENO_MAX_REQUEST_BYTES": str(big + MB),
        "SERENO_TIPS_MAX_FILE_BYTES": str(big),
    }
    subprocess.run([PYTHON, "-m", "sereno", "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    question = django_snippet(SETUP, env)["question"]
    gil = django_snippet(GIL_PROBE, env)
    subprocess.run([PYTHON, "-m", "sereno", "manage", "collectstatic", "--noinput", "-v", "0"],
                   env=env, check=True)  # fmt: skip
    attachment = os.urandom(int(args.attachment_mb * MB))

    port = free_port()
    # `sereno serve`'s gunicorn, with the application wrapped by bench/tips_probe.py.
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "tips_probe:application", "--chdir", str(ROOT / "bench"),
         "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
         "--threads", str(args.threads), "--worker-class", "gthread"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ready(port)
        submit = (lambda: Submitter(port, question, attachment), args.submitters)
        signin = (lambda: SignIn(port), args.signins)
        run_phase({"warm-up submit": (submit[0], 2), "warm-up sign-in": (signin[0], 2)}, 3)
        argon2_calls(port)  # forget the warm-up's
        phases, cpu, argon2 = {}, {}, {}
        for label, makers in (
            (
                ("sign-ins alone", {"staff sign-ins": signin}),
                ("submissions alone", {"tip submissions": submit}),
                ("together", {"tip submissions": submit, "staff sign-ins": signin}),
            )
            if args.seconds > 0
            else ()
        ):
            before = tree_cpu_seconds(server.pid)
            phases[label] = run_phase(makers, args.seconds)
            cpu[label] = (tree_cpu_seconds(server.pid) - before) / args.seconds
            time.sleep(1)
            argon2[label] = in_flight(argon2_calls(port))
        upload = upload_large(port, question, args.upload_mb * MB, server.pid) if (
            args.upload_mb) else None  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=60)

    print(
        f"server: gunicorn {args.workers} worker(s) x {args.threads} threads, PostgreSQL + "
        f"Redis, {os.cpu_count()} cores; load from this process ({args.submitters} sources, "
        f"{args.signins} staff), {args.seconds:.0f} s per phase, attachment "
        f"{args.attachment_mb:g} MB"
    )
    checks = {}
    for kind, probe in gil.items():
        print(
            f"GIL during Argon2 ({kind}): a call takes {probe['call_ms']:.0f} ms; another "
            f"Python thread paused at most {probe['pause_ms']:.0f} ms meanwhile"
        )
        checks[f"Argon2 ({kind}) releases the GIL"] = probe["pause_ms"] < probe["call_ms"] / 2
    for label, tallies in phases.items():
        done = sum(len(t.latencies) for t in tallies.values())
        per_request = 1000 * cpu[label] * args.seconds / max(1, done)
        calls = argon2[label]
        print(
            f"{label}: server CPU {cpu[label]:.2f} cores ({per_request:.0f} ms per request); "
            f"Argon2 calls {calls['calls']} ({calls['median_ms']}), at once: peak "
            f"{calls['peak']}, mean {calls['mean']:.2f}, two or more "
            f"{calls['parallel']:.0%} of the time"
        )
        for tally in tallies.values():
            print(tally.line())
    if phases:
        alone = {
            "staff sign-ins": phases["sign-ins alone"]["staff sign-ins"].rate,
            "tip submissions": phases["submissions alone"]["tip submissions"].rate,
        }
        together = phases["together"]
        shares = 0.0
        for name, rate in alone.items():
            share = together[name].rate / rate if rate else 0
            shares += share
            print(f"{name}: {rate:.2f}/s alone, {together[name].rate:.2f}/s together "
                  f"({share:.0%})")  # fmt: skip
        # Each kind's share of its own rate alone, added: 100 % means the two kinds split the
        # server between them with nothing lost to waiting (the machine's CPU is the limit).
        print(f"together, the shares of the rates alone add up to {shares:.0%}")
        peak = max(calls["peak"] for calls in argon2.values())
        checks["Argon2 calls ran at the same time in one process (a lock keeps 1)"] = peak >= 2
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (other work on the machine)")
    if upload:
        growth = upload["peak"] - upload["idle"]
        print(
            f"upload of {upload['size'] / MB:.0f} MB: status {upload['status']}, sent in "
            f"{upload['send_s']:.1f} s, answered after {upload['total_s']:.1f} s; server RSS "
            f"({upload['processes']} processes) idle {upload['idle']:.0f} MB, peak "
            f"{upload['peak']:.0f} MB (+{growth:.0f} MB)"
        )
        checks["upload stored (201)"] = upload["status"] == 201
        checks["peak memory < idle + 100 MB"] = growth < 100
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISSED'}] {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
