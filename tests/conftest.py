"""Shared cast of actors and the CI rule: under CI=true a skipped test is a failed test."""

import os

import pytest
from django.utils import timezone

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct-horse-battery-9"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true (a missing service is a failure): {reason}"


@pytest.fixture(autouse=True)
def _isolated_data(settings, tmp_path):
    from huey.contrib.djhuey import HUEY

    settings.MEDIA_DIR = tmp_path / "media"
    HUEY.immediate = True  # tasks run in-process; tests/test_queue.py checks the real queue


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


def make_user(username: str, *roles: str, totp: bool = True):
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from sereno.accounts.models import User

    user = User.objects.create_user(username=username, password=PASSWORD)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    if totp:
        TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    return user


@pytest.fixture
def admin_user(db):
    return make_user("ada", "admin")


@pytest.fixture
def moderator(db):
    return make_user("mona", "moderator")


@pytest.fixture
def moderator2(db):
    return make_user("mateo", "moderator")


@pytest.fixture
def analyst(db):
    return make_user("ana", "analyst")


@pytest.fixture
def outsider(db):
    """A logged-in staff account with no role that grants access to reports."""
    return make_user("otto", "caseworker")


def staff_client(client, user):
    """A client logged in with a verified second factor, as after the real login flow."""
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    device = user.totpdevice_set.first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


@pytest.fixture
def now():
    return timezone.now()
