"""CPU time of every process on the machine, by role, between two readings of /proc.

    meter = CpuMeter()            # a first reading
    ...                           # the measured work
    used = meter.used()           # {"Kannel": seconds, "PostgreSQL": seconds, ...}

Linux only. A process's user + system time from /proc/<pid>/stat (clock ticks); a process that
starts between the readings counts from zero, one that exits is lost (the benches keep their
processes alive over a phase; what the machine spent beyond every process read is printed as
"exited or interrupts"). The role comes from the process's name and command line.
"""

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")

# (role, predicate on (comm, cmdline)), first match wins.
ROLES = (
    ("Kannel", lambda comm, cmd: comm in ("bearerbox", "smsbox")),
    # The simulated phones (Kannel's test SMSC), not the gateway. Fed in small paced chunks it
    # costs far more per message (each chunk ends with the harness's 4 KB of blank lines).
    ("phones (fakesmsc)", lambda comm, cmd: comm == "fakesmsc"),
    ("PostgreSQL", lambda comm, cmd: comm == "postgres" or cmd.startswith("postgres")),
    ("Redis", lambda comm, cmd: comm.startswith("redis-server")),
    ("wrk", lambda comm, cmd: comm == "wrk"),
    ("trivial server", lambda comm, cmd: "--trivial-server" in cmd),
    ("gunicorn", lambda comm, cmd: "gunicorn" in cmd),
    ("router (Huey)", lambda comm, cmd: "run_huey" in cmd),
    ("sender", lambda comm, cmd: " sereno sender" in cmd),
)


def _read() -> dict[tuple[int, int], tuple[str, float]]:
    """(pid, start time) -> (role, CPU seconds) of every process we can read."""
    seen = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited meanwhile
        # comm is in parentheses and may hold spaces; the fields after it are numbered.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        utime, stime, started = int(fields[11]), int(fields[12]), int(fields[19])
        role = next((name for name, match in ROLES if match(comm, cmd)), "other")
        seen[(int(entry.name), started)] = (role, (utime + stime) / TICK)
    return seen


def _busy() -> float:
    """Seconds the whole machine was busy (all cores, /proc/stat), since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / TICK


class CpuMeter:
    def __init__(self) -> None:
        self.start = _read()
        self.busy = _busy()

    def used(self) -> dict[str, float]:
        """CPU seconds by role since the first reading, and "machine": everything busy."""
        totals: dict[str, float] = {}
        for key, (role, seconds) in _read().items():
            before = self.start.get(key, (role, 0.0))[1]
            totals[role] = totals.get(role, 0.0) + max(0.0, seconds - before)
        totals["machine"] = _busy() - self.busy
        return totals


def per_message(used: dict[str, float], messages: int, roles: tuple[str, ...]) -> str:
    """'Kannel 0.41, PostgreSQL 1.20, … (machine 4.10) ms of CPU per message'."""
    parts = [
        f"{role} {used[role] * 1000 / messages:.2f}"
        for role in roles
        if used.get(role, 0.0) * 1000 / messages >= 0.005
    ]
    # The machine's busy time no process read at both ends accounts for: processes that exited
    # during the phase (PostgreSQL backends whose connection Django closed after CONN_MAX_AGE)
    # and interrupt time (the loopback's packets).
    rest = used["machine"] - sum(seconds for role, seconds in used.items() if role != "machine")
    if rest * 1000 / messages >= 0.005:
        parts.append(f"exited or interrupts {rest * 1000 / messages:.2f}")
    return ", ".join(parts) + f"; machine {used['machine'] * 1000 / messages:.2f} ms"
