"""The tip line over Tor: `sereno tor-config` makes a working onion service in a real tor, and
the onion-only switch sends sources on the open web to Tor Browser before they type anything."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sereno.tips.models import Tip
from tests.tips.conftest import form_token

ONION = "crmz2wkiwkoj24zpzzwojxi657sgzofwan5tiwekcrpulcfzezr7adid.onion"
CLEARNET = "denuncias.example.org"


@pytest.fixture
def onion_only(settings):
    settings.TIPS_ONION_ONLY = True
    settings.ONION_HOST = ONION
    settings.ALLOWED_HOSTS = [CLEARNET, ONION, "testserver"]
    return settings


# --- the warning page --------------------------------------------------------------------------


@pytest.mark.django_db
def test_open_web_source_gets_the_tor_browser_page_in_spanish(client, onion_only, channel):
    response = client.get("/tips/", HTTP_HOST=CLEARNET)
    assert response.status_code == 403
    html = response.content.decode()
    assert "Tor Browser" in html
    assert "Abra la línea de denuncias en Tor Browser" in html
    assert f"http://{ONION}/tips/" in html  # the address to type
    assert channel.name not in html  # not the tip line itself
    assert response["Cache-Control"] == "no-store"
    assert response["Onion-Location"] == f"http://{ONION}/tips/"
    assert "Content-Security-Policy" in response  # the site's headers still apply
    assert not response.cookies


@pytest.mark.django_db
def test_the_warning_page_speaks_english_when_asked(client, onion_only, channel):
    response = client.get("/tips/", HTTP_HOST=CLEARNET, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert "Open the tip line in Tor Browser" in response.content.decode()


@pytest.mark.django_db
def test_a_tip_posted_on_the_open_web_is_not_taken_in(client, onion_only, channel):
    token = form_token(client_on_onion(client), f"/tips/{channel.slug}/")
    response = client.post(
        f"/tips/{channel.slug}/", {"token": token, "q1": "SOBORNO"}, HTTP_HOST=CLEARNET
    )
    assert response.status_code == 403
    assert Tip.objects.count() == 0


def client_on_onion(client):
    client.defaults["HTTP_HOST"] = ONION
    return client


@pytest.mark.django_db
def test_on_the_onion_address_the_tip_line_works_and_says_nothing_more(client, onion_only, channel):
    response = client.get("/tips/", HTTP_HOST=ONION)
    assert response.status_code == 200
    assert channel.name in response.content.decode()
    assert "Onion-Location" not in response
    form = client.get(f"/tips/{channel.slug}/", HTTP_HOST=f"{ONION}:80")
    assert form.status_code == 200


@pytest.mark.django_db
def test_recipients_pages_and_the_rest_of_the_site_stay_on_the_open_address(client, onion_only):
    inbox = client.get("/tips/inbox/", HTTP_HOST=CLEARNET)
    assert inbox.status_code == 302  # to the sign-in page, not the Tor page
    assert inbox["Onion-Location"] == f"http://{ONION}/tips/inbox/"
    assert client.get("/tips/manage/", HTTP_HOST=CLEARNET).status_code == 302
    home = client.get("/", HTTP_HOST=CLEARNET)
    assert home.status_code == 200
    assert "Onion-Location" not in home


@pytest.mark.django_db
def test_without_a_configured_address_any_onion_passes_and_the_page_says_ask(
    client, settings, channel
):
    settings.TIPS_ONION_ONLY = True
    settings.ONION_HOST = ""
    settings.ALLOWED_HOSTS = [CLEARNET, ONION]
    assert client.get("/tips/", HTTP_HOST=ONION).status_code == 200
    response = client.get("/tips/", HTTP_HOST=CLEARNET)
    assert response.status_code == 403
    assert ".onion" in response.content.decode()
    assert "Onion-Location" not in response


@pytest.mark.django_db
def test_onion_location_without_the_switch(client, settings, channel):
    settings.ONION_HOST = ONION
    settings.ALLOWED_HOSTS = [CLEARNET, ONION]
    response = client.get("/tips/?lang=es", HTTP_HOST=CLEARNET)
    assert response.status_code == 200
    assert response["Onion-Location"] == f"http://{ONION}/tips/?lang=es"
    assert "Onion-Location" not in client.get("/tips/", HTTP_HOST=ONION)


@pytest.mark.django_db
def test_switch_off_by_default(client, settings, channel):
    assert settings.TIPS_ONION_ONLY is False
    response = client.get("/tips/")
    assert response.status_code == 200
    assert "Onion-Location" not in response


# --- sereno tor-config, checked by a real tor ----------------------------------------------------


def tor_config(*args: str) -> str:
    sereno = Path(sys.executable).with_name("sereno")
    return subprocess.run(
        [str(sereno), "tor-config", *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.django_db
def test_tor_config_prints_an_onion_service_for_sereno(tmp_path):
    output = tor_config("--port", "8123", "--dir", str(tmp_path / "hs"))
    options = [line for line in output.splitlines() if line and not line.startswith("#")]
    assert f"HiddenServiceDir {tmp_path / 'hs'}/" in options
    assert "HiddenServicePort 80 127.0.0.1:8123" in options
    assert "HiddenServiceVersion 3" in options
    assert not any("NonAnonymous" in line or "SingleHop" in line for line in options)
    assert "HiddenServiceNonAnonymousMode" in output  # named only to warn against it
    default = tor_config()
    assert "HiddenServiceDir " in default and "/tor/sereno/" in default  # under the data dir


@pytest.mark.skipif(not shutil.which("tor"), reason="tor is not installed (apt install tor)")
@pytest.mark.django_db
def test_tor_accepts_the_lines_and_creates_the_onion_service(tmp_path):
    hs = tmp_path / "hs"
    torrc = tmp_path / "torrc"
    torrc.write_text(
        tor_config("--port", "8123", "--dir", str(hs))
        + f"\nDataDirectory {tmp_path / 'data'}\nSocksPort 0\nDisableNetwork 1\n"
    )
    tmp_path.chmod(0o700)
    check = subprocess.run(["tor", "--verify-config", "-f", str(torrc)], capture_output=True,
                           text=True)  # fmt: skip
    assert check.returncode == 0, check.stdout
    tor = subprocess.Popen(["tor", "-f", str(torrc)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (hs / "hostname").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        tor.terminate()
        tor.wait(timeout=30)
    address = (hs / "hostname").read_text().strip()
    assert address.endswith(".onion") and len(address) == 62  # a v3 address
    assert f"address now: {address}" in tor_config("--port", "8123", "--dir", str(hs))
