"""The `sereno` console script: a thin front over Django management commands and gunicorn."""

import argparse
import os
import signal
import subprocess
import sys

# The access log never carries the client address (gunicorn's default format starts with it).
ACCESS_LOG_FORMAT = '"%(r)s" %(s)s %(B)s %(M)sms'


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sereno.settings")
    import django

    django.setup()


def _call(*args: str) -> None:
    _django()
    from django.core.management import call_command
    from django.core.management.base import CommandError

    try:
        call_command(*args)
    except CommandError as error:
        print(f"sereno: {error}", file=sys.stderr)
        sys.exit(1)


def _gunicorn_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    access_log = (
        []
        if os.environ.get("SERENO_ACCESS_LOG", "on").lower() in ("off", "0", "false")
        else ["--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT]
    )
    return [
        sys.executable, "-m", "gunicorn", "sereno.wsgi:application",
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--worker-class", "gthread" if threads > 1 else "sync",
        *access_log,
        "--forwarded-allow-ips", "127.0.0.1",
        "--max-requests", "200000", "--max-requests-jitter", "20000",
        "--limit-request-line", "8190",
    ]  # fmt: skip


def _worker_argv() -> list[str]:
    return [sys.executable, "-m", "sereno", "manage", "run_huey"]


def _sender_argv() -> list[str]:
    return [sys.executable, "-m", "sereno", "sender", "--all"]


def cmd_serve(ns: argparse.Namespace) -> int:
    _call("collectstatic", "--noinput", "--verbosity", "0")
    argv = _gunicorn_argv(ns.host, ns.port, ns.workers, ns.threads)
    if not ns.with_worker:
        os.execv(sys.executable, argv)  # noqa: S606  (argv is ours, not user input)
    extra = [_sender_argv()] if getattr(ns, "with_sender", False) else []
    return _supervise([argv, _worker_argv(), *extra])


def _supervise(argvs: list[list[str]]) -> int:
    """Run the web server and the worker together; stop both when either stops."""
    procs = [subprocess.Popen(argv) for argv in argvs]  # noqa: S603

    def stop(*_):
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        os.wait()
    except ChildProcessError:
        pass
    stop()
    return max((proc.wait() or 0) for proc in procs)


def cmd_run(ns: argparse.Namespace) -> int:
    _call("sereno_setup", "--demo-reports", str(ns.demo_reports))
    ns.with_worker = True
    ns.with_sender = True  # outbox messages of enabled channels go out (docs/outbox.md)
    return cmd_serve(ns)


# Commands that are one management command each, their options passed through unchanged
# (`sereno tor-config --port 8000` runs `manage tor_config --port 8000`).
PASSTHROUGH = {
    "tor-config": ("tor_config", "print torrc lines for an onion service in front of Sereno"),
    "sender": ("messaging_sender", "send queued messages (SMS, WhatsApp, Telegram, e-mail)"),
    "poll-email": ("messaging_poll_email", "fetch inbound e-mail from the reply mailbox (IMAP)"),
    "fan-out": ("alerts_fanout", "write the outbox rows of a published alert (or resume them)"),
    "detect": (
        "detect",
        "scan for emerging clusters (or SaTScan files: --satscan-cas/--satscan-geo)",
    ),
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PASSTHROUGH:
        # Before argparse: REMAINDER does not take options that come first ("--once").
        _call(PASSTHROUGH[argv[0]][0], *argv[1:])
        return
    parser = argparse.ArgumentParser(prog="sereno", description="Sereno command line")
    sub = parser.add_subparsers(dest="command", required=True)

    def server_args(p):
        p.add_argument("--host", default=os.environ.get("SERENO_HOST", "127.0.0.1"))
        p.add_argument("--port", type=int, default=int(os.environ.get("SERENO_PORT", "8000")))
        p.add_argument(
            "--workers", type=int, default=int(os.environ.get("SERENO_WEB_WORKERS", "2"))
        )
        p.add_argument(
            "--threads", type=int, default=int(os.environ.get("SERENO_WEB_THREADS", "4"))
        )

    p = sub.add_parser("serve", help="production web server (gunicorn)")
    server_args(p)
    p.add_argument("--with-worker", action="store_true", help="also run a background worker")
    p = sub.add_parser("run", help="set up (migrate, demo data, admin) and serve web + worker")
    server_args(p)
    p.add_argument("--demo-reports", type=int, default=20000)
    sub.add_parser("worker", help="background queue consumer (Huey)")
    sub.add_parser("migrate", help="apply database migrations")
    p = sub.add_parser("createadmin", help="create an admin and print a TOTP setup URI once")
    p.add_argument("--username", default="admin")
    p.add_argument("--email", default="")
    p.add_argument("--if-none", action="store_true", help="do nothing if an admin exists")
    p = sub.add_parser("demo", help="load synthetic Honduran demo reports")
    p.add_argument("--reports", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--days", type=int, default=365, help="spread over the last D days")
    p.add_argument("--if-empty", action="store_true", help="do nothing if reports exist")
    p = sub.add_parser("audit", help="audit log tools")
    p.add_argument("action", choices=["verify"])
    p = sub.add_parser("geo", help="administrative areas and local places")
    p.add_argument("action", choices=["import-areas", "import-places"])
    p.add_argument("file")
    p.add_argument("--level", choices=["department", "municipality", "auto"], default="auto")
    p.add_argument("--resolution", type=int, default=7, help="H3 resolution of area cells")
    p.add_argument(
        "--no-relocate", action="store_true", help="do not recompute existing reports' areas"
    )
    for name, (_command, help_text) in PASSTHROUGH.items():
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
    p = sub.add_parser("manage", help="any Django management command", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)

    ns = parser.parse_args(argv)
    if ns.command == "manage":
        _django()
        from django.core.management import execute_from_command_line

        execute_from_command_line(["sereno manage", *ns.rest])
        return
    if ns.command in PASSTHROUGH:
        _call(PASSTHROUGH[ns.command][0], *ns.rest)
        return
    if ns.command == "serve":
        sys.exit(cmd_serve(ns))
    if ns.command == "run":
        sys.exit(cmd_run(ns))
    if ns.command == "worker":
        _call("run_huey")
    elif ns.command == "migrate":
        _call("migrate", "--noinput")
        _call("createcachetable")
    elif ns.command == "createadmin":
        _call("createadmin", "--username", ns.username, "--email", ns.email,
              *(["--if-none"] if ns.if_none else []))  # fmt: skip
    elif ns.command == "demo":
        _call("demo", "--reports", str(ns.reports), "--seed", str(ns.seed),
              "--days", str(ns.days), *(["--if-empty"] if ns.if_empty else []))  # fmt: skip
    elif ns.command == "audit":
        _call("audit_verify")
    elif ns.command == "geo":
        name = "import_areas" if ns.action == "import-areas" else "import_places"
        args = [name, ns.file]
        if name == "import_areas":
            args += ["--level", ns.level, "--resolution", str(ns.resolution)]
            args += ["--no-relocate"] if ns.no_relocate else []
        _call(*args)
