"""SMS through Kannel: Sereno's rates next to the gateway's own ceiling, in one run.

    make bench-sms                  # or: .venv/bin/python bench/sms.py --messages 20000

Four phases, each with a fresh Kannel (bearerbox, smsbox, fakesmsc) on free ports:
1. Kannel inbound ceilings: fakesmsc -> smsbox post-url -> a trivial HTTP server (stdlib,
   its own process, answers 200 with an empty body); once storing nothing and replying
   nothing (the ceiling for "stored"), once with a reply to every message (the same reply
   text through sendsms, as many connections as Sereno's senders open, delivery reports to
   the trivial server: the ceiling for "replies on the phones", the same Kannel work as
   Sereno's run).
   With --floor, the replying ceiling once more with the trivial server storing in
   PostgreSQL (the message and its reply's row in one transaction, a row per delivery
   report): the durable floor, the most any application that keeps its messages could reach.
2. Kannel outbound ceiling: sendsms driven directly (POST, the same headers as Sereno's
   transport, as many connections as Sereno's senders open) -> fakesmsc, with delivery
   reports (to the trivial server) and without.
Every sendsms of a ceiling is sent by wrk (bench/sendsms.lua, C: the ceiling is the
gateway's, not the client's) when it is installed, else by Python threads on http.client
(which, in one process, are themselves the limit: 250 against wrk's 650 messages/s with
delivery reports, 1,700 against 8,000-11,000 without).
3. Sereno inbound: fakesmsc -> smsbox -> gunicorn (the webhook stores the message and queues
   its routing), a Huey worker (`sereno manage run_huey`, on Redis) routes it through the
   conversation and writes the reply to the outbox, and `sereno sender` sends the replies back
   through Kannel. Rates of messages stored, routed with the reply queued, and of replies on
   the phones, each from the moment the phones start sending.
4. Sereno outbound: N rows in the outbox -> `sereno sender` -> sendsms -> fakesmsc, with
   delivery reports (to gunicorn; the default) and without (channel setting dlr_mask 0).

On PostgreSQL + Redis (own database names), gunicorn with a deep listen backlog, every smsbox
configured as docs/kannel.md says (`max-pending-requests` 64; --max-pending 0 for Kannel's 512).
Target: Sereno >= 80 % of the gateway's ceiling in both directions.

Last, the CPU every process spent per message in each phase, by role (Kannel's boxes,
gunicorn, the router, the sender, PostgreSQL, ...; bench/proc_cpu.py reads /proc), from the
first message until the last delivery report: when a ceiling and Sereno's run are both
CPU-bound on the same cores, their rates stand in the inverse ratio of these costs.
"""

import argparse
import http.server
import json
import os
import queue
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.proc_cpu import CpuMeter, per_message  # noqa: E402
from tests.messaging.kannel import harness  # noqa: E402
from tests.messaging.kannel.deployment import Deployment, recreate_database  # noqa: E402
from tests.messaging.kannel.harness import Gateway, free_port, wait_until  # noqa: E402

CHANNEL_UUID = "5a3c7b2e-1f0d-4e8a-9b6c-2d4e6f8a0b1c"
SECRET = "bench-secret-7Hq2"  # noqa: S105 (a local benchmark's)
SENDSMS_PASSWORD = "bench-sendsms"  # noqa: S105
SHORT_CODE = "1234"
INBOUND_TEXT = "Hubo una balacera en la colonia, ¿qué hacemos?"
# Sereno's first question in Spanish after smart encoding (ó -> o: GSM-7, one segment): what
# the replying trivial app sends, so that Kannel carries the same reply in both runs.
REPLY_TEXT = "¿Donde paso? Lugar y municipio, ej.: Kennedy, Tegucigalpa"
OUTBOUND_TEXT = "Alerta {i:05d}: corte de ruta en la CA-5 a la altura de Comayagua, señora."


# ---- the trivial server (phase 1 and 2), run as `bench/sms.py --trivial-server PORT` --------
class _Trivial(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0  # every request (messages and delivery reports)
    inbound = 0  # messages from the phones only (POST /in/)
    replies: "queue.Queue[str] | None" = None  # senders to answer, when replying
    lock = threading.Lock()
    # --durable DSN: the floor, what any application that keeps messages must at least do.
    pool: "queue.Queue | None" = None

    def _answer(self, body: bytes = b"") -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        if self.path in ("/count", "/count-in"):
            self._answer(
                str(_Trivial.count if self.path == "/count" else _Trivial.inbound).encode()
            )
            return
        if _Trivial.pool is not None and self.path.startswith("/dlr/"):
            _store(_FLOOR_REPORT, (self.path, self.path.rsplit("=", 1)[-1]))
        with _Trivial.lock:
            _Trivial.count += 1
        self._answer()

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/reply":  # start replying: {sendsms_url, username, password, threads}
            _start_replying(json.loads(body))
            self._answer()
            return
        if self.path == "/stop-replying":  # the phase is over (its gateway is about to stop)
            _Trivial.replies = None
            self._answer()
            return
        if _Trivial.pool is not None and self.path.startswith("/in/"):
            _store(_FLOOR_MESSAGE, (self.path, self.headers.get("X-Kannel-From", ""),
                                    body.decode("utf-8", "replace"), REPLY_TEXT))  # fmt: skip
        with _Trivial.lock:
            _Trivial.count += 1
            _Trivial.inbound += self.path.startswith("/in/")
        self._answer()
        replies = _Trivial.replies
        if replies is not None and self.path.startswith("/in/"):
            replies.put(self.headers.get("X-Kannel-From", ""))

    def log_message(self, *args):
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 4096

    def handle_error(self, request, client_address):
        pass  # smsbox's keep-alive connections reset when a gateway is stopped


def _start_replying(config: dict) -> None:
    """Answer every inbound message as Sereno does, after the webhook has answered: the same
    reply text through sendsms (POST, the same headers, delivery reports 31 to this server),
    from a pool of threads like Sereno's sender."""
    replies = _Trivial.replies = queue.Queue()
    base = config["dlr_base"]

    def worker() -> None:
        send = _sendsms_client(config["sendsms_url"])
        while True:
            to = replies.get()
            if _Trivial.replies is not replies:
                continue  # stopped: the replies beyond the phase's count are dropped
            headers = _sendsms_headers(config["username"], config["password"], to)
            headers["X-Kannel-DLR-Mask"] = str(config["dlr_mask"])
            headers["X-Kannel-DLR-Url"] = f"{base}/dlr/?event=%d"
            try:
                send(REPLY_TEXT.encode(), headers)
            except Exception as error:  # the phase then times out, naming the shortfall
                if _Trivial.replies is replies:  # (not after the phase: its gateway is gone)
                    print(f"reply not sent: {error!r}", file=sys.stderr)

    for _ in range(int(config["threads"])):
        threading.Thread(target=worker, daemon=True).start()


# The durable floor: each message from a phone and the row of its reply in one transaction
# (idempotent on Kannel's id), each delivery report a row of its own; no conversation, no
# claiming, no contact. As many PostgreSQL connections as Sereno's gunicorn threads.
_FLOOR_TABLES = (
    "CREATE TABLE IF NOT EXISTS floor_in (id bigserial PRIMARY KEY, kannel_id text UNIQUE,"
    " sender text, text text, at timestamptz DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS floor_out (id bigserial PRIMARY KEY, in_id bigint,"
    " text text, status text, at timestamptz DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS floor_report (id bigserial PRIMARY KEY, url text, event text,"
    " at timestamptz DEFAULT now())",
)
_FLOOR_MESSAGE = (
    "WITH m AS (INSERT INTO floor_in (kannel_id, sender, text) VALUES (%s, %s, %s)"
    " ON CONFLICT (kannel_id) DO NOTHING RETURNING id)"
    " INSERT INTO floor_out (in_id, text, status) SELECT id, %s, 'queued' FROM m"
)
_FLOOR_REPORT = "INSERT INTO floor_report (url, event) VALUES (%s, %s)"


def _store(sql: str, params: tuple) -> None:
    conn = _Trivial.pool.get()
    try:
        conn.execute(sql, params)  # autocommit: one statement, one transaction
    finally:
        _Trivial.pool.put(conn)


def trivial_server(port: int, durable: str = "", connections: int = 16) -> None:
    if durable:
        import psycopg

        recreate_database(durable)
        _Trivial.pool = queue.Queue()
        for _ in range(connections):
            conn = psycopg.connect(durable, autocommit=True)
            for statement in _FLOOR_TABLES:
                conn.execute(statement)
            _Trivial.pool.put(conn)
    _Server(("127.0.0.1", port), _Trivial).serve_forever()


def trivial_count(port: int, what: str = "count") -> int:
    """Requests the trivial server answered ("count"), or messages from the phones only
    ("count-in")."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{what}", timeout=5) as r:  # noqa: S310
        return int(r.read())


# ---- helpers ---------------------------------------------------------------------------------
# CPU of every process by role over each measured phase, from the phones' first message until
# the last delivery report is handled: {phase: (CpuMeter.used(), messages)}.
CPU: dict[str, tuple[dict[str, float], int]] = {}
# --link-rate: messages a second the operator's link brings from the phones (0: all at once).
LINK_RATE = 0
# --dlr-mask: the delivery reports every message asks for, in the ceilings and in Sereno's run
# alike (default: the Kannel transport's). The fake SMSC reports 8 (accepted) and 1
# (delivered): a message brings one report request for each of the two the mask holds.
DLR_MASK = 31


def reports_per_message() -> int:
    return bool(DLR_MASK & 8) + bool(DLR_MASK & 1)


# --max-pending: smsbox's `max-pending-requests` (HTTP requests to the service at once), in
# every gateway of the run alike: docs/kannel.md's (the test harness's) by default, 0 for
# Kannel's own (512).
MAX_PENDING = harness.MAX_PENDING


def new_gateway(workdir: Path, **options) -> Gateway:
    return Gateway(workdir, verbosity=3, max_pending=MAX_PENDING, **options)


def feed(gateway: Gateway, lines: list[bytes]) -> None:
    """The phones send `lines`: all at once, or with a link rate at that pace (in the
    background: the phase measures from the first message)."""
    if LINK_RATE:
        gateway.phone.send_paced(lines, LINK_RATE)
    else:
        gateway.phone.send_lines(lines)


# fakesmsc looks for messages to the phones once a second: a phase that ends in a few seconds
# is measured in whole polls (on a fast machine 3,000 and 5,000 replies both took about 1.2 s).
SHORT_SECONDS = 5.0
SHORT_PHASES: list[float] = []


def rate(count: int, seconds: float) -> float:
    if 0 < seconds < SHORT_SECONDS:
        SHORT_PHASES.append(seconds)
    return count / seconds if seconds > 0 else 0.0


def until_count(get, target: int, *, timeout: float, what: str) -> float:
    """Wait until get() >= target; the time it took."""
    started = time.monotonic()
    # Every 0.1 s: a count that polls costs the machine (PostgreSQL, parsing the phones' log).
    wait_until(lambda: get() >= target, timeout=timeout, interval=0.1, what=what)
    return time.monotonic() - started


def settle(get, target: int, *, what: str) -> None:
    """For the CPU figures: wait until get() >= target, or until it has not moved for 3 s (a
    report smsbox gave up on must not hang the run; the shortfall is printed)."""
    last, since = get(), time.monotonic()
    while last < target and time.monotonic() - since < 3:
        time.sleep(0.2)
        now = get()
        if now != last:
            last, since = now, time.monotonic()
    if last < target:
        print(f"{what}: {target - last} of {target} never came", file=sys.stderr)


def received_by(gateway: Gateway, prefix: str) -> int:
    """Messages on the phones whose number starts with `prefix`."""
    return sum(1 for m in gateway.phone.received() if m.receiver.startswith(prefix))


def phone_lines(gateway: Gateway, n: int, text: str, *, prefix: str) -> list[bytes]:
    return [gateway.phone.line(f"+504{prefix}{i:07d}", SHORT_CODE, text) for i in range(n)]


def _sendsms_headers(username: str, password: str, to: str) -> dict[str, str]:
    return {
        "Content-Type": "text/plain; charset=UTF-8",
        "X-Kannel-Username": username,
        "X-Kannel-Password": password,
        "X-Kannel-From": SHORT_CODE,
        "X-Kannel-To": to,
    }


def _sendsms_client(sendsms_url: str):
    """send(body, headers) over one keep-alive connection of this thread: http.client, the
    leanest client (0.2 ms of CPU per request, against urllib3's 0.35 and httpx's 0.8), so that
    a ceiling is Kannel's and not the client's."""
    import http.client
    import urllib.parse

    url = urllib.parse.urlsplit(sendsms_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)

    def send(body: bytes, headers: dict[str, str]) -> None:
        # smsbox may close a keep-alive connection between two requests: a new connection and
        # the request again, as Sereno's sender retries a network error.
        for attempt in range(5):
            try:
                conn.request("POST", url.path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                if attempt == 4:
                    raise
                time.sleep(0.1 * (attempt + 1))
        if response.status != 202:
            raise RuntimeError(f"sendsms answered {response.status}")

    return send


def sendsms_direct(gateway: Gateway, n: int, dlr_base: str, threads: int, *, dlr: bool) -> None:
    """sendsms as fast as the leanest client goes, one keep-alive connection per thread."""
    local = threading.local()

    def one(i: int) -> None:
        headers = _sendsms_headers(gateway.username, gateway.password, f"+5049{i % 1000:07d}")
        if dlr:
            headers["X-Kannel-DLR-Mask"] = str(DLR_MASK)
            headers["X-Kannel-DLR-Url"] = f"{dlr_base}/dlr/?id={i}&event=%d"
        send = getattr(local, "send", None)
        if send is None:
            send = local.send = _sendsms_client(gateway.sendsms_url)
        send(OUTBOUND_TEXT.format(i=i).encode(), headers)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(n)))


# ---- phases ----------------------------------------------------------------------------------
def kannel_ceiling(
    work: Path,
    n: int,
    threads: int,
    *,
    inbound_only: bool = False,
    outbound_only: bool = False,
    durable: str = "",
) -> dict:
    """Kannel's rates against the trivial server: "inbound", "replies", ("outbound", dlr),
    and with a PostgreSQL `durable` URL the durable floor ("floor")."""
    port = free_port()
    server = _start_trivial(port)
    ceilings = {}
    try:
        if not outbound_only:
            service_url = f"http://127.0.0.1:{port}/in/?id=%I"
            with new_gateway(work / "ceiling-in", service_url=service_url) as gateway:
                lines = phone_lines(gateway, n, INBOUND_TEXT, prefix="8")
                gateway.phone.send_lines(lines[: n // 10])  # warm-up
                until_count(lambda: trivial_count(port), n // 10, timeout=60, what="warm-up")
                base = trivial_count(port)
                meter, started = CpuMeter(), time.monotonic()
                feed(gateway, lines)
                until_count(lambda: trivial_count(port) - base, n, timeout=600, what="inbound")
                ceilings["inbound"] = rate(n, time.monotonic() - started)
                CPU["Kannel inbound, no reply"] = (meter.used(), n)
            replying = _replying_ceiling_wrk if shutil.which("wrk") else _replying_ceiling
            ceilings["replies"] = replying(work, n, threads, port)
            if durable and shutil.which("wrk"):
                ceilings["floor"] = _durable_floor(work, n, threads, durable)
        for dlr in () if inbound_only else (True, False):
            with new_gateway(work / f"ceiling-out-{dlr}") as gateway:
                dlr_base = f"http://127.0.0.1:{port}"
                if shutil.which("wrk"):
                    ceilings[("outbound", dlr)] = _wrk_outbound(
                        gateway, dlr_base, threads, dlr, n, port
                    )
                    continue
                sendsms_direct(gateway, n // 10, dlr_base, threads, dlr=dlr)  # warm-up
                gateway.phone.wait_for(n // 10, timeout=120)
                base = len(gateway.phone.received())
                started = time.monotonic()
                sendsms_direct(gateway, n, dlr_base, threads, dlr=dlr)
                until_count(lambda g=gateway, b=base: len(g.phone.received()) - b, n,
                            timeout=600, what="outbound")  # fmt: skip
                ceilings[("outbound", dlr)] = rate(n, time.monotonic() - started)
    finally:
        server.terminate()
        server.wait()
    return ceilings


def _wrk(
    gateway: Gateway,
    connections: int,
    *,
    text: str,
    dlr_base: str = "",
    seconds: int = 0,
    limit: int = 0,
    arrived=None,
) -> int:
    """Drive sendsms with wrk (bench/sendsms.lua) for `seconds`, or until `limit` answers
    (wrk then stops sending, and is interrupted once `arrived()` is true); the number of
    messages sendsms accepted."""
    script = Path(__file__).resolve().parent / "sendsms.lua"
    env = {**os.environ, "SERENO_WRK_USER": gateway.username,
           "SERENO_WRK_PASSWORD": gateway.password, "SERENO_WRK_FROM": SHORT_CODE,
           "SERENO_WRK_DLR_BASE": dlr_base, "SERENO_WRK_TEXT": text,
           "SERENO_WRK_LIMIT": str(limit), "SERENO_WRK_DLR_MASK": str(DLR_MASK)}  # fmt: skip
    proc = subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds or 600}s", "-s", str(script),
         gateway.sendsms_url], env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    if limit:
        try:
            wait_until(arrived, timeout=600, interval=0.1, what="wrk's messages")
        finally:
            proc.send_signal(signal.SIGINT)  # wrk prints its summary and exits
    out, _ = proc.communicate(timeout=120)
    requests, _micros, errors, bad = map(int, out.split("WRK ")[1].split()[:4])
    if errors or bad:
        print(f"wrk: {errors} socket errors, {bad} answers not 2xx", file=sys.stderr)
    return requests - bad


def _wrk_outbound(
    gateway: Gateway, dlr_base: str, connections: int, dlr: bool, n: int, port: int
) -> float:
    """Kannel's outbound ceiling driven by wrk (C, an event loop: next to no CPU), with the
    same number of connections as Sereno's senders and the same number of messages as
    Sereno's run: n messages, from the first request until the last is on a phone."""
    text = OUTBOUND_TEXT.replace("{i:05d}", "%05d")
    dlr_base = dlr_base if dlr else ""

    def arrived() -> int:
        return len(gateway.phone.received())

    _wrk(gateway, connections, text=text, dlr_base=dlr_base, limit=n // 10,
         arrived=lambda: arrived() >= n // 10)  # fmt: skip
    base, base_reports = arrived(), trivial_count(port)
    meter, started = CpuMeter(), time.monotonic()
    _wrk(gateway, connections, text=text, dlr_base=dlr_base, limit=n,
         arrived=lambda: arrived() - base >= n)  # fmt: skip
    elapsed = time.monotonic() - started
    if dlr:  # each message's two delivery reports, for the CPU figures
        settle(lambda: trivial_count(port) - base_reports, reports_per_message() * n,
               what="ceiling's reports")  # fmt: skip
    CPU[f"Kannel outbound, {'with' if dlr else 'without'} reports"] = (meter.used(), n)
    return rate(n, elapsed)


def _replying_ceiling_wrk(
    work: Path,
    n: int,
    connections: int,
    port: int,
    phase: str = "Kannel inbound, reply on the phone",
) -> float:
    """Kannel's ceiling for Sereno's inbound work, with wrk sending the replies: n messages
    from the phones to the trivial server, and at the same time n replies (the same text,
    delivery reports to the trivial server) through sendsms over `connections` connections;
    the rate from the start until every message is stored and every reply on a phone. The
    same work for Kannel as Sereno's run (a message in, a message out, its two reports),
    with no Python client to be the limit."""
    with new_gateway(work / f"ceiling-reply-{port}",
                     service_url=f"http://127.0.0.1:{port}/in/?id=%I") as gateway:  # fmt: skip
        dlr_base = f"http://127.0.0.1:{port}"

        def replies() -> int:

            return received_by(gateway, "+5049")

        lines = phone_lines(gateway, n + n // 10, INBOUND_TEXT, prefix="8")
        gateway.phone.send_lines(lines[: n // 10])  # warm-up
        _wrk(gateway, connections, text=REPLY_TEXT, dlr_base=dlr_base, limit=n // 10,
             arrived=lambda: replies() >= n // 10)  # fmt: skip
        until_count(lambda: trivial_count(port, "count-in"), n // 10, timeout=120,
                    what="warm-up")  # fmt: skip
        base_in, base_out = trivial_count(port, "count-in"), replies()
        base_all = trivial_count(port)
        meter, started = CpuMeter(), time.monotonic()
        feed(gateway, lines[n // 10 :])
        _wrk(gateway, connections, text=REPLY_TEXT, dlr_base=dlr_base, limit=n,
             arrived=lambda: replies() - base_out >= n)  # fmt: skip
        until_count(lambda: trivial_count(port, "count-in") - base_in, n, timeout=600,
                    what="inbound")  # fmt: skip
        elapsed = time.monotonic() - started
        # Each reply's two delivery reports (8 and 1) too, for the CPU figures.
        settle(lambda: trivial_count(port) - base_all, (1 + reports_per_message()) * n,
               what="ceiling's reports")  # fmt: skip
        CPU[phase] = (meter.used(), n)
        return rate(n, elapsed)


def _start_trivial(port: int, durable: str = "") -> subprocess.Popen:
    argv = [sys.executable, __file__, "--trivial-server", str(port)]
    server = subprocess.Popen(argv + (["--durable", durable] if durable else []))
    wait_until(lambda: _up(port), timeout=30, what="trivial server")
    return server


def _durable_floor(work: Path, n: int, connections: int, durable: str) -> float:
    """The replying ceiling again, the trivial server now writing what any application that
    keeps the messages must write, in PostgreSQL: the message and its reply's row in one
    transaction, and a row per delivery report (3 commits a message). Sereno can reach at
    most this rate; it is the bound the 80 % target meets first."""
    port = free_port()
    server = _start_trivial(port, durable)
    try:
        return _replying_ceiling_wrk(work, n, connections, port, "Durable floor (PostgreSQL)")
    finally:
        server.terminate()
        server.wait()


def _replying_ceiling(work: Path, n: int, threads: int, port: int) -> float:
    """Inbound with a reply on the phone, the trivial server replying (Sereno's work for
    Kannel: the message in, the reply out through sendsms, its two delivery reports)."""
    import urllib.request

    with new_gateway(work / "ceiling-reply",
                     service_url=f"http://127.0.0.1:{port}/in/?id=%I") as gateway:  # fmt: skip
        config = {"sendsms_url": gateway.sendsms_url, "username": gateway.username,
                  "password": gateway.password, "threads": threads,
                  "dlr_base": f"http://127.0.0.1:{port}", "dlr_mask": DLR_MASK}  # fmt: skip
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/reply", data=json.dumps(config).encode(), method="POST"
        )
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310

        def replies() -> int:

            return received_by(gateway, "+5048")

        lines = phone_lines(gateway, n + n // 10, INBOUND_TEXT, prefix="8")
        gateway.phone.send_lines(lines[: n // 10])  # warm-up
        until_count(replies, n // 10, timeout=120, what="warm-up replies")
        base = replies()
        started = time.monotonic()
        feed(gateway, lines[n // 10 :])
        until_count(lambda: replies() - base, n, timeout=600, what="replies")
        elapsed = time.monotonic() - started
        request = urllib.request.Request(f"http://127.0.0.1:{port}/stop-replying", method="POST")
        urllib.request.urlopen(request, data=b"", timeout=5).close()  # noqa: S310
        return rate(n, elapsed)


def _up(port: int) -> bool:
    try:
        trivial_count(port)
        return True
    except OSError:
        return False


def start_senders(sereno: Deployment, args) -> list:
    return [
        sereno.start_sender("--threads", str(args.sender_threads))
        for _ in range(args.sender_processes)
    ]


def drain(sereno: Deployment) -> None:
    """Wait until every delivery report has been handled, so that one phase's reports do not
    take CPU from the next phase."""
    wait_until(
        lambda: sereno.scalar(
            "SELECT count(*) FROM messaging_outboundmessage"
            " WHERE status IN ('queued', 'sending', 'sent')"
        ) == 0,
        timeout=600, interval=0.5, what="delivery reports",
    )  # fmt: skip


# PostgreSQL's own counts for a database (pg_stat_database), to print per message.
# (Not the rows read: the bench's own counting, every 0.1 s, would be most of them.)
_PG_STATS = ("xact_commit", "tup_inserted", "tup_updated")
PG: dict[str, dict[str, float]] = {}


def pg_stats(sereno: Deployment) -> dict[str, int]:
    if not sereno.database_url:
        return {}
    row = sereno.sql(f"SELECT {', '.join(_PG_STATS)} FROM pg_stat_database"  # noqa: S608
                     " WHERE datname = current_database()")[0]  # fmt: skip
    return dict(zip(_PG_STATS, row, strict=True))


def pg_per_message(sereno: Deployment, before: dict[str, int], n: int, phase: str) -> None:
    """What the phase cost PostgreSQL per message (a backend reports its counts within about
    a second of its transactions: read after a pause)."""
    if before:
        time.sleep(1.5)
        after = pg_stats(sereno)
        PG[phase] = {key: (after[key] - before[key]) / n for key in _PG_STATS}


def seed_outbox(sereno: Deployment, n: int, *, offset: int) -> float:
    """n alerts in the outbox, all committed at once (a sender polling meanwhile sees none
    before): the wall-clock time of the commit, from which the phase's rate counts."""
    return sereno.python(f"""
import time
from django.db import transaction
from django.utils import timezone
from sereno.messaging.contacts import contact_for
from sereno.messaging.models import Channel, OutboundMessage
channel = Channel.objects.get(uuid="{CHANNEL_UUID}")
contacts = [contact_for(scheme="tel", raw=f"+5049{{i:07d}}", channel=channel) for i in range(1000)]
now = timezone.now()
with transaction.atomic():
    OutboundMessage.objects.bulk_create(
        [OutboundMessage(channel=channel, contact=contacts[i % 1000], cause="alert",
                         text={OUTBOUND_TEXT!r}.format(i=i), encoding="gsm7", segments=1,
                         next_attempt_at=now, created_at=now)
         for i in range({offset}, {offset + n})],
        batch_size=1000)
result = time.time()
# A bulk insert of the bench's own: wake the senders as the outbox's enqueue does.
from sereno.lib.tokenbucket import redis_client
from sereno.messaging.outbox import WAKE_CHANNEL
redis_client().publish(WAKE_CHANNEL, b"1")
""")


def _sereno_inbound(sereno: Deployment, gateway: Gateway, n: int, results: dict) -> None:
    """Each message opens a conversation and gets its first question back: the rates of
    messages stored, routed with the reply queued, and replies on the phones."""

    def stored() -> int:
        return sereno.scalar("SELECT count(*) FROM messaging_inboundmessage")

    def routed() -> int:
        # Handled = routed, its reply written to the outbox in the same transaction.
        return sereno.scalar(
            "SELECT count(*) FROM messaging_inboundmessage WHERE status = 'handled'"
        )

    def replies() -> int:

        return received_by(gateway, "+5048")

    lines = phone_lines(gateway, n + n // 10, INBOUND_TEXT, prefix="8")
    gateway.phone.send_lines(lines[: n // 10])  # warm-up
    until_count(stored, n // 10, timeout=120, what="warm-up")
    until_count(routed, n // 10, timeout=120, what="warm-up routing")
    until_count(replies, n // 10, timeout=120, what="warm-up replies")
    base_stored, base_routed, base_replies = stored(), routed(), replies()
    time.sleep(1.5)  # the warm-up's counts reported
    stats, meter, started = pg_stats(sereno), CpuMeter(), time.monotonic()
    feed(gateway, lines[n // 10 :])
    until_count(lambda: stored() - base_stored, n, timeout=1800, what="inbound stored")
    results["inbound"] = rate(n, time.monotonic() - started)
    until_count(lambda: routed() - base_routed, n, timeout=1800, what="inbound routed")
    results["routed"] = rate(n, time.monotonic() - started)
    until_count(lambda: replies() - base_replies, n, timeout=1800, what="replies")
    results["replies"] = rate(n, time.monotonic() - started)
    drain(sereno)
    CPU["Sereno inbound, reply on the phone"] = (meter.used(), n)
    pg_per_message(sereno, stats, n, "Sereno inbound, reply on the phone")


def sereno_rates(args, work: Path) -> dict:
    # The sender as deployed: polling every SENDER_POLL_MS (500 ms) and woken through Redis.
    sereno = Deployment(work / "sereno", database_url=args.database_url, redis_url=args.redis_url)
    sereno.prepare()
    port = free_port()
    hook = f"http://kannel:{SECRET}@127.0.0.1:{port}/hooks/kannel/{CHANNEL_UUID}/?id=%I&time=%T"
    gateway = new_gateway(work / "kannel", service_url=hook, password=SENDSMS_PASSWORD,
                          http_retries=10)  # fmt: skip
    sereno.python(f"""
from sereno.messaging.models import Channel
channel = Channel(uuid="{CHANNEL_UUID}", kind="kannel", name="Kannel", address="{SHORT_CODE}",
                  enabled=True, rate_per_second=100000, burst=1000)
channel.set_config({{"sendsms_url": "{gateway.sendsms_url}", "username": "sereno",
                    "password": "{SENDSMS_PASSWORD}", "secret": "{SECRET}",
                    "callback_url": "http://127.0.0.1:{port}", "dlr_mask": "{DLR_MASK}"}})
channel.save()
""")
    n = args.messages
    results = {}
    try:
        sereno.start_web(port, workers=args.workers, threads=args.threads)
        gateway.start()
        senders = start_senders(sereno, args)
        sereno._spawn("worker", [sys.executable, "-m", "sereno", "manage", "run_huey",
                                 "--workers", str(args.route_workers),
                                 "--worker-type", args.route_worker_type])  # fmt: skip

        # Inbound, each message opens a conversation and gets its first question back.
        if not args.outbound_only:
            _sereno_inbound(sereno, gateway, n, results)

        # Outbound: N alerts already in the outbox; the sender is idle until they appear.
        # First with delivery reports (--dlr-mask, the transport's default), then without (0).
        for dlr in () if args.inbound_only else (True, False):
            if not dlr:
                for sender in senders:
                    sereno.kill(sender)
                sereno.python(f"""
from sereno.messaging.models import Channel
channel = Channel.objects.get(uuid="{CHANNEL_UUID}")
channel.set_config({{**channel.config, "dlr_mask": "0"}})
channel.save()
""")
                senders = start_senders(sereno, args)
                time.sleep(3)
            before = len(gateway.phone.received())
            time.sleep(1.5)
            stats = pg_stats(sereno)
            # The rate counts from the seeding's commit (the senders see no row before it;
            # until 2026-11-29 14:30 the rows were committed 1,000 at a time and the clock
            # started after the last: sends during the seeding were counted, not their time).
            meter = CpuMeter()
            committed = seed_outbox(sereno, n, offset=0 if dlr else n)
            until_count(lambda b=before: len(gateway.phone.received()) - b, n, timeout=1800,
                        what="outbound")  # fmt: skip
            results[("outbound", dlr)] = rate(n, time.time() - committed)
            if dlr:
                drain(sereno)
            phase = f"Sereno outbound, {'with' if dlr else 'without'} reports"
            CPU[phase] = (meter.used(), n)
            pg_per_message(sereno, stats, n, phase)  # (the seeding's n inserts included)
            time.sleep(1)
        for sender in senders:
            sereno.kill(sender)
    finally:
        gateway.stop()
        sereno.stop()
    return results


def loopback_quickack() -> str:
    """Whether the loopback route acknowledges at once ("on"/"off"): with delayed ACKs a
    sendsms with delivery reports often waits 40 ms inside Kannel (docs/kannel.md §4)."""
    try:
        routes = subprocess.run(["ip", "route", "show", "table", "local"], capture_output=True,
                                text=True, timeout=5, check=False).stdout  # fmt: skip
    except OSError:
        return "unknown"
    for line in routes.splitlines():
        if line.startswith("local 127.0.0.0/8"):
            return "on" if "quickack 1" in line else "off"
    return "unknown"


def _default_dlr_mask() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sereno.settings")
    from sereno.messaging.transports.kannel import DLR_MASK as default

    return default


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trivial-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--durable", default="", help=argparse.SUPPRESS)
    parser.add_argument(
        "--floor", action="store_true",
        help="also the durable floor: the replying ceiling with the trivial server storing each"
        " message, its reply and its reports in PostgreSQL (needs wrk)",
    )  # fmt: skip
    # 20,000: on a fast machine Kannel's ceilings end within a few of fakesmsc's 1 s polls
    # with fewer (3,000 and 5,000 replies both took 1.2 s); a run takes about 3 minutes.
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument(
        "--dlr-mask", type=int, default=_default_dlr_mask(),
        help="delivery reports each message asks for, ceilings and Sereno alike"
        " (default: the Kannel transport's)",
    )  # fmt: skip
    parser.add_argument(
        "--max-pending", type=int, default=harness.MAX_PENDING,
        help="smsbox's max-pending-requests, in every gateway alike (default: docs/kannel.md's"
        " 64; 0: Kannel's own, 512)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    # Sereno's default (SERENO_SENDER_THREADS): in one process more threads only contend for
    # the GIL (16 sent 880/s where 8 sent 1,200/s); the ceilings use as many connections.
    parser.add_argument("--sender-threads", type=int, default=8)
    parser.add_argument("--route-workers", type=int, default=4, help="Huey workers that route")
    parser.add_argument("--route-worker-type", choices=["thread", "process"], default="thread")
    parser.add_argument(
        "--sender-processes", type=int, default=1, help="sereno sender processes (one per core)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "SERENO_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sereno_bench_sms"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("SERENO_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    )
    parser.add_argument("--phase", choices=["all", "kannel", "sereno"], default="all")
    parser.add_argument(
        "--link-rate", type=int, default=0,
        help="inbound only: the phones send this many messages/s, as an operator's link"
        " brings them; 0 (default): all at once, the gateway's own ceiling",
    )  # fmt: skip
    parser.add_argument(
        "--inbound-only", action="store_true", help="Kannel's inbound ceiling and Sereno inbound"
    )
    parser.add_argument(
        "--outbound-only", action="store_true", help="Kannel's outbound ceilings and Sereno's"
    )
    args = parser.parse_args()
    if args.inbound_only and args.outbound_only:
        parser.error("--inbound-only and --outbound-only exclude each other")
    if args.link_rate and not args.inbound_only:
        # Outbound, the fake SMSC does not hold a `throughput` (at 100 it sent 154-590/s).
        parser.error("--link-rate paces the phones: use it with --inbound-only")
    if args.trivial_server:
        trivial_server(args.trivial_server, args.durable)
        return 0
    global LINK_RATE, DLR_MASK, MAX_PENDING
    LINK_RATE = args.link_rate
    DLR_MASK = args.dlr_mask
    MAX_PENDING = args.max_pending
    work = ROOT / "var" / "bench-sms"
    work.mkdir(parents=True, exist_ok=True)
    n = args.messages
    print(f"SMS through Kannel, {n} messages each way, {os.cpu_count()} cores shared by"
          " Kannel, gunicorn, PostgreSQL, Redis, the Huey worker and the sender")  # fmt: skip
    print(f"gunicorn {args.workers} workers x {args.threads} threads; Huey"
          f" {args.route_workers} {args.route_worker_type} workers; sender"
          f" {args.sender_processes} x {args.sender_threads} threads")  # fmt: skip
    quickack = loopback_quickack()
    print(f"delivery reports asked for: dlr-mask {DLR_MASK}; loopback quick ACKs (ip route"
          f" quickack): {quickack}; smsbox max-pending-requests:"
          f" {MAX_PENDING or '512 (Kannel default)'}")  # fmt: skip
    if LINK_RATE:
        print(f"the phones send {LINK_RATE} messages/s, as an operator's link brings them")
    ceilings = {}
    if args.phase in ("all", "kannel"):
        # The same number of sendsms connections as Sereno's senders open (Kannel answers
        # sendsms after a round trip through bearerbox: the rate follows the connections).
        connections = args.sender_threads * args.sender_processes
        floor_url = args.database_url.rsplit("/", 1)[0] + "/sereno_bench_floor"
        ceilings = kannel_ceiling(work, n, connections, inbound_only=args.inbound_only,
                                  outbound_only=args.outbound_only,
                                  durable=floor_url if args.floor else "")  # fmt: skip
        if not args.outbound_only:
            print(f"Kannel ceiling  inbound, no reply            {ceilings['inbound']:6.0f}"
                  " msg/s  (fakesmsc -> smsbox -> trivial HTTP server)")  # fmt: skip
            print(f"Kannel ceiling  inbound, reply on the phone  {ceilings['replies']:6.0f}"
                  " msg/s  (... -> trivial server -> sendsms, reports -> fakesmsc)")  # fmt: skip
        if "floor" in ceilings:
            floor = ceilings["floor"]
            print(f"Durable floor   inbound, reply on the phone  {floor:6.0f} msg/s"
                  f"  {floor / ceilings['replies']:4.0%} of Kannel's (the same, the trivial"
                  " server storing in PostgreSQL)")  # fmt: skip
        driver = "wrk" if shutil.which("wrk") else "Python threads"
        for key in ceilings:
            if isinstance(key, tuple):
                label = "with delivery reports" if key[1] else "without delivery reports"
                print(f"Kannel ceiling  outbound {label:<24} {ceilings[key]:6.0f} msg/s"
                      f"  ({driver} -> sendsms -> fakesmsc)")  # fmt: skip
    if args.phase in ("all", "sereno"):
        results = sereno_rates(args, work)

        def line(label: str, value: float, ceiling: float | None, *, reports=False) -> None:
            share = f"  {value / ceiling:4.0%} of Kannel's" if ceiling else ""
            if reports and ceiling and value > ceiling and quickack == "off":
                # wrk's reports go to the trivial server, which never has 64 requests waiting
                share += " (wrk waited on Kannel's 40 ms stall; docs/kannel.md section 4)"
            print(f"Sereno  {label:<36} {value:6.0f} msg/s{share}")

        if not args.outbound_only:
            line("inbound stored (webhook answered)", results["inbound"], ceilings.get("inbound"))
            line("inbound routed, reply queued", results["routed"], None)
            line("inbound replies on the phones", results["replies"], ceilings.get("replies"))
        if not args.inbound_only:
            line("outbound with delivery reports", results[("outbound", True)],
                 ceilings.get(("outbound", True)), reports=True)  # fmt: skip
            line("outbound without delivery reports", results[("outbound", False)],
                 ceilings.get(("outbound", False)))  # fmt: skip
    print("CPU per message, ms, from the first message until the last delivery report:")
    roles = ("Kannel", "phones (fakesmsc)", "gunicorn", "router (Huey)", "sender",
             "PostgreSQL", "Redis", "trivial server", "other")  # fmt: skip
    for phase, (used, messages) in CPU.items():
        print(f"  {phase:<36} {per_message(used, messages, roles)}")
    if PG:
        print("PostgreSQL per message (pg_stat_database: commits, rows inserted, updated):")
        for phase, per in PG.items():
            print(f"  {phase:<36} " + ", ".join(f"{key} {value:.1f}" for key, value in per.items()))
    if SHORT_PHASES:
        print(f"WARNING: {len(SHORT_PHASES)} rates measured over less than {SHORT_SECONDS:.0f} s"
              f" (shortest {min(SHORT_PHASES):.1f} s): fakesmsc polls once a second, so they"
              " are rough; run with more --messages")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
