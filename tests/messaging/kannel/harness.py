"""A real Kannel on 127.0.0.1 for tests and benchmarks: bearerbox, smsbox and fakesmsc (the
simulated phone network) with a generated configuration on free ports.

    gateway = Gateway(workdir, service_url="http://kannel:SECRET@127.0.0.1:8000/hooks/kannel/<uuid>/?id=%I&time=%T")
    gateway.start()
    gateway.phone.send("+50499998888", "1234", "¿Qué hacemos?")
    gateway.phone.wait_for(1)          # [Received(sender="1234", receiver="+504…", text=…)]
    gateway.stop()

Facts this relies on (verified with Debian's kannel 1.4.5, see docs/kannel.md):
- fakesmsc reads stdin with select() + fgets(): a line sits in stdio's buffer until stdin is
  readable again. Every batch of lines is followed by 4,097 newlines (blank lines are
  skipped), so the pipe stays readable until every real line has been read. Lines are at most
  254 characters (fakesmsc's buffer): about 55 characters of a UCS-2 text, 230 of GSM-7.
- A message that arrives on the simulated phone is printed to stderr as
  "DEBUG: Got message N: <sender receiver type payload>", type `text` (raw UTF-8, a newline
  in the text splits it into two "Got message" lines), `ucs-2` (url-encoded UTF-16BE) or
  `udh <udh> data <payload>` (a concatenated part, url-encoded).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BEARERBOX = Path(os.environ.get("SERENO_KANNEL_BEARERBOX", "/usr/sbin/bearerbox"))
SMSBOX = Path(os.environ.get("SERENO_KANNEL_SMSBOX", "/usr/sbin/smsbox"))
FAKESMSC = Path(os.environ.get("SERENO_KANNEL_FAKESMSC", "/usr/lib/kannel/test/fakesmsc"))
PADDING = b"\n" * 4097
MAX_LINE = 254


def available() -> bool:
    binaries = (BEARERBOX, SMSBOX, FAKESMSC)
    return all(path.is_file() and os.access(path, os.X_OK) for path in binaries)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def is_gsm7_text(text: str) -> bool:
    """What a handset would send as GSM 7-bit (else it sends UCS-2)."""
    from sereno.lib.gsm7 import is_gsm7

    return is_gsm7(text)


@dataclass(frozen=True)
class Received:
    """A message as it reached the simulated phone network."""

    sender: str
    receiver: str
    text: str
    coding: str  # "gsm7" | "ucs2" | "8bit"
    parts: int = 1


# ---------------------------------------------------------------------------------------------
class Phone:
    """fakesmsc: every phone of the simulated network at once."""

    def __init__(self, workdir: Path, *, port: int):
        self.workdir = Path(workdir)
        self.port = port
        self.log_path = self.workdir / "fakesmsc.log"
        self.process: subprocess.Popen | None = None
        self._offset = 0
        self._pending = b""
        self._received: list[Received] = []
        self._parts: dict[tuple, dict[int, bytes]] = {}
        self._last_text_index: int | None = None
        self.sent = 0

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(FAKESMSC), "-H", "127.0.0.1", "-r", str(self.port), "-i", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log,
            cwd=self.workdir,
        )  # fmt: skip

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process is not None and self.process.stdin:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        self.process = None

    # ---- sending (phone -> gateway) ---------------------------------------------------------
    @staticmethod
    def line(sender: str, receiver: str, text: str, *, kind: str | None = None) -> bytes:
        """One fakesmsc line: `text` (raw, as a GSM-7 handset) when the text is GSM-7 on one
        line, else `ucs2` (url-encoded UTF-16BE, as a handset sends accents like á)."""
        if kind is None:
            kind = "text" if is_gsm7_text(text) and "\n" not in text else "ucs2"
        if kind == "text":
            payload = text.encode()
        elif kind == "ucs2":
            payload = urllib.parse.quote_plus(text.encode("utf-16-be")).encode()
        else:
            raise ValueError(kind)
        line = f"{sender} {receiver} {kind} ".encode() + payload
        if len(line) > MAX_LINE:
            raise ValueError(f"fakesmsc reads lines of at most {MAX_LINE} bytes")
        return line + b"\n"

    def send(self, sender: str, receiver: str, text: str, *, kind: str | None = None) -> None:
        self.send_lines([self.line(sender, receiver, text, kind=kind)])

    def send_lines(self, lines: list[bytes]) -> None:
        assert self.process is not None and self.process.stdin is not None
        data = b"".join(lines) + PADDING
        view = memoryview(data)
        fd = self.process.stdin.fileno()
        while view:
            written = os.write(fd, view)
            view = view[written:]
        self.sent += len(lines)

    def send_paced(self, lines: list[bytes], rate: float) -> threading.Thread:
        """Send `lines` at `rate` messages a second, as an operator's link delivers them, in
        chunks every 250 ms from a background thread (returned, started). Not finer: each
        chunk ends with PADDING, and fakesmsc spends about 3 ms reading it."""
        step = max(1, round(rate / 4))

        def feed() -> None:
            started = time.monotonic()
            for at in range(0, len(lines), step):
                delay = started + at / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.send_lines(lines[at : at + step])

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        return thread

    # ---- receiving (gateway -> phone) -------------------------------------------------------
    LINE = re.compile(rb"Got message \d+: <(.*)>$")
    HEADER = re.compile(rb"^(\S+) (\S+) (text|ucs-2|data|udh) (.*)$", re.S)

    def received(self) -> list[Received]:
        """Every complete message that reached the phones so far (concatenated parts joined)."""
        with open(self.log_path, "rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        self._offset += len(chunk)
        data = self._pending + chunk
        lines = data.split(b"\n")
        self._pending = lines.pop()
        for raw in lines:
            match = self.LINE.search(raw)
            if match:
                self._parse(match.group(1))
        return list(self._received)

    def wait_for(self, count: int, *, timeout: float = 30) -> list[Received]:
        return wait_until(
            lambda: (r := self.received()) and len(r) >= count and r,
            timeout=timeout,
            what=f"{count} messages on the phone (have {len(self._received)})",
        )

    def _parse(self, body: bytes) -> None:
        header = self.HEADER.match(body)
        if header is None:
            # The rest of a text message that had a newline in it.
            if self._last_text_index is not None:
                previous = self._received[self._last_text_index]
                self._received[self._last_text_index] = Received(
                    previous.sender, previous.receiver,
                    previous.text + "\n" + body.decode("utf-8", "replace"), previous.coding,
                )  # fmt: skip
            return
        sender, receiver, kind, rest = (x for x in header.groups())
        sender_s, receiver_s = sender.decode(), receiver.decode()
        self._last_text_index = None
        if kind == b"text":
            self._received.append(
                Received(sender_s, receiver_s, rest.decode("utf-8", "replace"), "gsm7")
            )
            self._last_text_index = len(self._received) - 1
        elif kind == b"ucs-2":
            text = _unquote(rest).decode("utf-16-be", "replace")
            self._received.append(Received(sender_s, receiver_s, text, "ucs2"))
        elif kind == b"data":
            payload = _unquote(rest)
            self._received.append(Received(sender_s, receiver_s, *_decode_payload(payload)))
        else:  # udh <udh> data <payload>
            udh_raw, _, payload_raw = rest.partition(b" data ")
            udh, payload = _unquote(udh_raw), _unquote(payload_raw)
            concat = _concatenation(udh)
            if concat is None:
                self._received.append(Received(sender_s, receiver_s, *_decode_payload(payload)))
                return
            ref, total, seq = concat
            key = (sender_s, receiver_s, ref, total)
            parts = self._parts.setdefault(key, {})
            parts[seq] = payload
            if len(parts) == total:
                del self._parts[key]
                whole = b"".join(parts[i] for i in sorted(parts))
                text, coding = _decode_payload(whole)
                self._received.append(Received(sender_s, receiver_s, text, coding, parts=total))


def _unquote(value: bytes) -> bytes:
    return urllib.parse.unquote_to_bytes(value.replace(b"+", b" "))


def _decode_payload(payload: bytes) -> tuple[str, str]:
    """Kannel gives the fake SMSC GSM texts as UTF-8 and UCS-2 texts as UTF-16BE; the line of
    a concatenated part does not say which, but UTF-8 never contains a NUL byte."""
    if b"\x00" in payload and len(payload) % 2 == 0:
        return payload.decode("utf-16-be", "replace"), "ucs2"
    return payload.decode("utf-8", "replace"), "gsm7"


def _concatenation(udh: bytes) -> tuple[int, int, int] | None:
    """(reference, total, sequence) from a concatenation information element, if any."""
    if not udh:
        return None
    i, end = 1, min(len(udh), udh[0] + 1)
    while i + 1 < end:
        iei, length = udh[i], udh[i + 1]
        value = udh[i + 2 : i + 2 + length]
        if iei == 0x00 and length == 3:
            return value[0], value[1], value[2]
        if iei == 0x08 and length == 4:
            return (value[0] << 8) | value[1], value[2], value[3]
        i += 2 + length
    return None


# smsbox's `max-pending-requests` as docs/kannel.md sets it: at most 64 requests to Sereno at once
# (Kannel's own default, 512, keeps about as many connections open to a slower server). None:
# Kannel's default.
MAX_PENDING = 64


# ---------------------------------------------------------------------------------------------
class Gateway:
    """bearerbox + smsbox + the fake SMSC and its phone (fakesmsc), on free ports."""

    def __init__(
        self,
        workdir: Path,
        *,
        service_url: str = "",
        method: str = "post",
        username: str = "sereno",
        password: str = "sendsms-password",  # noqa: S107 (a test gateway's)
        http_retries: int = 3,
        http_retry_delay: int = 1,
        verbosity: int = 1,
        max_pending: int | None = MAX_PENDING,
        smsbox_options: dict[str, str] | None = None,
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.service_url = service_url
        self.method = method
        self.username = username
        self.password = password
        self.http_retries = http_retries
        self.http_retry_delay = http_retry_delay
        self.verbosity = verbosity
        self.max_pending = max_pending
        self.smsbox_options = smsbox_options or {}
        self.admin_password = "admin-" + os.urandom(6).hex()
        self.admin_port = free_port()
        self.smsbox_port = free_port()
        self.smsc_port = free_port()
        self.sendsms_port = free_port()
        self.config_path = self.workdir / "kannel.conf"
        self.processes: dict[str, subprocess.Popen] = {}
        self.phone = Phone(self.workdir, port=self.smsc_port)

    # ---- configuration ----------------------------------------------------------------------
    def config(self) -> str:
        """The whole kannel.conf. Groups are separated by one blank line and contain none."""
        log = self.workdir
        groups = [
            {
                "group": "core",
                "admin-port": self.admin_port,
                "admin-password": self.admin_password,
                "status-password": self.admin_password,
                "admin-allow-ip": "127.0.0.1",
                "smsbox-port": self.smsbox_port,
                "box-allow-ip": "127.0.0.1",
                "dlr-storage": "internal",
                "log-file": str(log / "bearerbox.log"),
                "log-level": self.verbosity,
                "access-log": str(log / "access.log"),
            },
            {
                "group": "smsc",
                "smsc": "fake",
                "smsc-id": "fake",
                "port": self.smsc_port,
                "connect-allow-ip": "127.0.0.1",
            },
            {
                "group": "smsbox",
                "bearerbox-host": "127.0.0.1",
                "bearerbox-port": self.smsbox_port,
                "sendsms-port": self.sendsms_port,
                "sendsms-interface": "127.0.0.1",
                "mo-recode": "true",
                "http-request-retry": self.http_retries,
                "http-queue-delay": self.http_retry_delay,
                **({"max-pending-requests": self.max_pending} if self.max_pending else {}),
                # Kannel's own failure texts, recognisable on the phone in tests.
                "reply-couldnotfetch": "KANNEL: could not fetch",
                "reply-requestfailed": "KANNEL: request failed",
                "reply-couldnotrepresent": "KANNEL: could not represent",
                "log-file": str(log / "smsbox.log"),
                "log-level": self.verbosity,
                **self.smsbox_options,
            },
            {
                "group": "sendsms-user",
                "username": self.username,
                "password": self.password,
                "max-messages": 10,
                "concatenation": "true",
                "user-allow-ip": "127.0.0.1",
            },
        ]
        if self.service_url:
            service = {
                "group": "sms-service",
                "keyword": "default",
                "catch-all": "true",
                "accept-x-kannel-headers": "true",
                "omit-empty": "true",
                "max-messages": 0,
                "concatenation": "true",
            }
            if self.method == "post":
                service["post-url"] = self.service_url
                service["send-sender"] = "true"
            else:
                service["get-url"] = self.service_url
            groups.append(service)
        out = []
        for group in groups:
            for key, value in group.items():
                if isinstance(value, int):
                    out.append(f"{key} = {value}")
                else:
                    out.append(f'{key} = "{value}"' if key != "group" else f"group = {value}")
            out.append("")
        return "\n".join(out)

    # ---- processes --------------------------------------------------------------------------
    def _spawn(self, name: str, binary: Path) -> None:
        err = open(self.workdir / f"{name}.stderr", "ab")  # noqa: SIM115
        # -v: what goes to stderr (0 debug … 4 panic); the log file has log-level.
        self.processes[name] = subprocess.Popen(
            [str(binary), "-v", "4", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, cwd=self.workdir,
        )  # fmt: skip
        err.close()

    def start(self, *, timeout: float = 40) -> "Gateway":
        if not available():
            raise RuntimeError("Kannel is not installed (apt-get install kannel kannel-extras)")
        self.config_path.write_text(self.config())
        self._spawn("bearerbox", BEARERBOX)
        wait_until(lambda: self._status() is not None, timeout=timeout, what="bearerbox")
        self._spawn("smsbox", SMSBOX)
        self.phone.start()
        self.wait_ready(timeout=timeout)
        wait_until(self._sendsms_up, timeout=timeout, what="smsbox's sendsms port")
        return self

    def wait_ready(self, *, timeout: float = 20) -> None:
        def ready() -> bool:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {self.tail(name)}")
            status = self._status() or ""
            return (
                "Status: running" in status
                and re.search(r"^\s+smsbox:", status, re.M) is not None
                and "(online" in status
            )

        wait_until(ready, timeout=timeout, what="Kannel to be ready (status.txt)")

    def _status(self) -> str | None:
        url = f"http://127.0.0.1:{self.admin_port}/status.txt?password={self.admin_password}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                return response.read().decode("utf-8", "replace")
        except OSError:
            return None

    def status(self) -> str:
        return self._status() or ""

    def _sendsms_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.sendsms_port), timeout=1):
                return True
        except OSError:
            return False

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.workdir / f"{name}.log"
        if not path.exists():
            path = self.workdir / f"{name}.stderr"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Kill everything at once (a test gateway keeps no state worth a clean shutdown,
        and each box takes about 2 s to exit on SIGTERM)."""
        self.phone.stop()
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.processes.clear()

    def __enter__(self) -> "Gateway":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- sendsms ----------------------------------------------------------------------------
    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def counters(self) -> dict[str, int]:
        """SMS and DLR counters from status.txt (received = from phones, sent = to phones)."""
        status = self.status()
        sms = re.search(
            r"SMS: received (\d+) \((\d+) queued\), sent (\d+) \((\d+) queued\)", status
        )
        dlr = re.search(r"DLR: received (\d+), sent (\d+)", status)
        values = {}
        if sms:
            values.update(zip(("received", "received_queued", "sent", "sent_queued"),
                              map(int, sms.groups()), strict=True))  # fmt: skip
        if dlr:
            values.update(zip(("dlr_received", "dlr_sent"), map(int, dlr.groups()), strict=True))
        return values


def cleanup(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
