#!/usr/bin/env python3
"""Fetch the web view's JavaScript libraries from the npm registry, at pinned versions.

    python scripts/fetch_web_assets.py           # download, verify, copy into the package
    python scripts/fetch_web_assets.py --check   # verify the committed copies (offline)

Each package is downloaded with ``npm pack NAME@VERSION`` (so npm's registry, proxy and
cache settings apply), its tarball is checked against the registry's published sha512
integrity (``npm view NAME@VERSION dist.integrity``), and the distribution files named in
``PINS`` are copied unmodified, with the package's licence files, into
``posthog_dash_async/web/static/vendor/NAME/``. ``vendor/MANIFEST.json`` records the
version, the tarball integrity and each file's sha256; ``--check`` compares the files in the
package with it, which is what the test suite runs.

To upgrade a library: change its version in ``PINS``, run this script, look at the page
(``posthog-dash demo --web``), run the browser tests, commit the vendor directory.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "posthog_dash_async" / "web" / "static" / "vendor"
MANIFEST = VENDOR / "MANIFEST.json"

#: npm package -> (exact version, {file in the package: name in vendor/NAME/}).
PINS: dict[str, tuple[str, dict[str, str]]] = {
    "chart.js": (
        "4.6.1",
        {"dist/chart.umd.min.js": "chart.umd.min.js", "LICENSE.md": "LICENSE.md"},
    ),
    "marked": (
        "18.3.0",
        {"lib/marked.umd.js": "marked.umd.js", "LICENSE": "LICENSE"},
    ),
    "dompurify": (
        "3.5.0",
        # DOMPurify is dual-licensed (MPL-2.0 or Apache-2.0): both texts ship.
        {"dist/purify.min.js": "purify.min.js", "LICENSE": "LICENSE", "LICENSE-MPL": "LICENSE-MPL"},
    ),
}


def _npm(*args: str, cwd: Path) -> Any:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to fetch the web assets (apt-get install npm)")
    done = subprocess.run(
        [npm, *args, "--json"], cwd=cwd, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout)


def _sha512_integrity(path: Path) -> str:
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch() -> dict[str, Any]:
    """Download every pinned package, verify it, copy its files; return the manifest."""
    manifest: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pda-npm-") as tmp:
        work = Path(tmp)
        for name, (version, files) in PINS.items():
            spec = f"{name}@{version}"
            published = _npm("view", spec, "dist.integrity", cwd=work)
            packed = _npm("pack", spec, "--pack-destination", str(work), cwd=work)[0]
            tarball = work / packed["filename"]
            actual = _sha512_integrity(tarball)
            if not (actual == published == packed["integrity"]):
                raise SystemExit(f"{spec}: tarball integrity {actual} != published {published}")
            target = VENDOR / name
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            recorded: dict[str, str] = {}
            with tarfile.open(tarball, "r:gz") as archive:
                for source, dest in files.items():
                    member = archive.getmember(f"package/{source}")
                    handle = archive.extractfile(member)
                    if handle is None:
                        raise SystemExit(f"{spec}: {source} is not a regular file")
                    (target / dest).write_bytes(handle.read())
                    recorded[dest] = _sha256(target / dest)
            manifest[name] = {
                "version": version,
                "integrity": actual,
                "tarball": packed["filename"],
                "files": recorded,
            }
            print(f"{spec}: {', '.join(recorded)}")
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def check() -> list[str]:
    """Differences between the committed vendor files and the manifest (empty: all good)."""
    problems: list[str] = []
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    if set(manifest) != set(PINS):
        problems.append(f"manifest packages {sorted(manifest)} != pinned {sorted(PINS)}")
    for name, (version, files) in PINS.items():
        entry = manifest.get(name, {})
        if entry.get("version") != version:
            problems.append(f"{name}: manifest has {entry.get('version')}, pinned {version}")
        for dest in files.values():
            path = VENDOR / name / dest
            if not path.is_file():
                problems.append(f"{name}: {dest} is missing")
            elif entry.get("files", {}).get(dest) != _sha256(path):
                problems.append(f"{name}: {dest} differs from the fetched file")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify the committed files only")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    fetch()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
