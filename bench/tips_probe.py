"""Sereno's WSGI application with every Argon2 call timed, for bench/tips.py.

Nothing in Sereno changes: the two Argon2 entry points (the tip line's `crypto.argon2id`, for
receipts and recipients' keys, and Django's Argon2 password check, for staff sign-ins) are
wrapped to record when each call starts and ends. `GET /__bench/argon2` returns and clears the
record. From it the bench sees how many calls were running at the same moment: under a global
lock (as in GlobaLeaks) never more than one, whatever else the machine is doing.
"""

import json
import threading
import time

from django.contrib.auth.hashers import Argon2PasswordHasher

from sereno.tips import crypto
from sereno.wsgi import application as sereno_application

_calls: list[tuple[str, float, float]] = []
_record = threading.Lock()  # guards the list only, taken after each call has finished


def _timed(kind, function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            end = time.perf_counter()
            with _record:
                _calls.append((kind, start, end))

    return wrapper


crypto.argon2id = _timed("receipt/key", crypto.argon2id)
Argon2PasswordHasher.verify = _timed("password", Argon2PasswordHasher.verify)


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/__bench/argon2":
        with _record:
            body = json.dumps(_calls).encode()
            _calls.clear()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])  # fmt: skip
        return [body]
    return sereno_application(environ, start_response)
