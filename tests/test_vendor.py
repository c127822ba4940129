"""The browser libraries are the ones package-lock.json pins, checked before use."""

import base64
import hashlib
import io
import tarfile

import pytest

from sereno.lib import vendor

pytestmark = pytest.mark.django_db  # the suite's autouse fixtures clear the cache (a table)


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_installed_files_are_in_place():
    for folder, names in vendor.FILES.values():
        for name in names:
            assert (vendor.TARGET / folder / name.rsplit("/", 1)[-1]).exists(), name


def test_a_tampered_package_is_refused():
    data = tarball({"package/dist/leaflet.js": b"ok"})
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    vendor.check_integrity(data, good)
    with pytest.raises(vendor.VendorError):
        vendor.check_integrity(data + b"x", good)


def test_only_listed_files_are_extracted_and_never_outside(tmp_path, monkeypatch):
    monkeypatch.setattr(vendor, "TARGET", tmp_path)
    data = tarball({"package/dist/a.js": b"a", "package/dist/images/i.png": b"i",
                    "package/evil.js": b"x"})  # fmt: skip
    vendor.extract(data, "lib", ["dist/a.js", "dist/images"])
    assert (tmp_path / "lib" / "a.js").read_bytes() == b"a"
    assert (tmp_path / "lib" / "images" / "i.png").read_bytes() == b"i"
    assert not (tmp_path / "lib" / "evil.js").exists()
    with pytest.raises(vendor.VendorError):
        vendor.extract(data, "lib", ["dist/missing.js"])


def test_the_registry_address_follows_npm_configuration(monkeypatch):
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", "https://mirror.example/npm/")
    assert (vendor.tarball_url("htmx.org", "2.0.11")
            == "https://mirror.example/npm/htmx.org/-/htmx.org-2.0.11.tgz")  # fmt: skip
