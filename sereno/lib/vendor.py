"""Install the browser libraries Sereno serves itself (Leaflet, htmx) into sereno/static_vendor.

    python -m sereno.lib.vendor          (make does it when package-lock.json changes)

Versions are pinned in package.json / package-lock.json. Each package's tarball is fetched from
the npm registry (`NPM_CONFIG_REGISTRY`, default https://registry.npmjs.org) and checked against
the lock file's sha512 integrity before anything is extracted, so neither Node.js nor npm is
needed (`npm ci` reads the same lock file, for those who prefer it). Only the files listed here
are copied, each library with its licence; pages never load anything from a CDN.
"""

import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LOCK = ROOT / "package-lock.json"
TARGET = ROOT / "sereno" / "static_vendor" / "vendor"

# package → (folder under static/vendor, files or folders inside the package)
FILES = {
    "leaflet": ("leaflet", ["dist/leaflet.js", "dist/leaflet.css", "dist/images", "LICENSE"]),
    "htmx.org": ("htmx", ["dist/htmx.min.js", "LICENSE"]),
}


class VendorError(Exception):
    pass


def locked(package: str) -> dict:
    entry = json.loads(LOCK.read_text())["packages"].get(f"node_modules/{package}")
    if not entry or "integrity" not in entry:
        raise VendorError(f"{package} is not in package-lock.json (run `npm install {package}`)")
    return entry


def tarball_url(package: str, version: str) -> str:
    registry = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")
    return f"{registry}/{package}/-/{package.rsplit('/', 1)[-1]}-{version}.tgz"


def check_integrity(data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm not in ("sha512", "sha384", "sha256"):
        raise VendorError(f"unsupported integrity {algorithm}")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise VendorError("the downloaded package does not match package-lock.json's integrity")


def extract(data: bytes, folder: str, wanted: list[str]) -> None:
    target = TARGET / folder
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        for name in wanted:
            prefix = f"package/{name}"
            found = [m for m in members if m.name == prefix or m.name.startswith(prefix + "/")]
            if not found:
                raise VendorError(f"{name} is not in the {folder} package")
            for member in found:
                relative = Path(member.name).relative_to(Path(prefix).parent)
                if ".." in relative.parts:
                    raise VendorError(f"unsafe path in package: {member.name}")
                out = target / relative
                out.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                out.write_bytes(source.read() if source else b"")


def install(package: str) -> None:
    folder, wanted = FILES[package]
    entry = locked(package)
    url = tarball_url(package, entry["version"])
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (https registry)
        data = response.read()
    check_integrity(data, entry["integrity"])
    extract(data, folder, wanted)


def main() -> int:
    try:
        for package in FILES:
            install(package)
    except (VendorError, OSError) as error:
        print(f"vendor: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
