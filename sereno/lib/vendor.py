"""Copy the browser libraries Sereno serves itself from node_modules into sereno/static_vendor.

    npm ci --ignore-scripts && python -m sereno.lib.vendor     (make does both)

The versions are pinned in package.json / package-lock.json (with their integrity hashes) and
installed from the npm registry; pages never load anything from a CDN. Only the files listed
here are copied, each library with its licence.
"""

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
NODE_MODULES = ROOT / "node_modules"
TARGET = ROOT / "sereno" / "static_vendor" / "vendor"

FILES = {
    "leaflet": ["dist/leaflet.js", "dist/leaflet.css", "dist/images", "LICENSE"],
    "htmx.org": ["dist/htmx.min.js", "LICENSE"],
}
FOLDER = {"leaflet": "leaflet", "htmx.org": "htmx"}


def copy_all() -> int:
    missing = []
    for package, files in FILES.items():
        for name in files:
            source = NODE_MODULES / package / name
            if not source.exists():
                missing.append(str(source))
                continue
            target = TARGET / FOLDER[package] / Path(name).name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)
    if missing:
        print("missing (run `npm ci --ignore-scripts` first):\n  " + "\n  ".join(missing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(copy_all())
