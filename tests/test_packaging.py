"""What a user installs: the wheel built from this checkout, its metadata and its README.

The wheel is built for real (``pip wheel --no-build-isolation``, so hatchling from the dev
extra is used and nothing is downloaded) into a temporary directory, then opened as a zip.
"""

from __future__ import annotations

import ast
import email
import email.message
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPO_URL = "https://github.com/posthog-dash-async/posthog-dash-async"
STATIC = "posthog_dash_async/web/static/"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    pytest.importorskip("hatchling", reason="hatchling (dev extra) builds the wheel")
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("posthog_dash_async-*.whl")
    with zipfile.ZipFile(built) as archive:
        archive.testzip()
        # Read everything now: the fixture outlives the ``with``.
        copy = zipfile.ZipFile(out / "copy.zip", "w")
        for info in archive.infolist():
            copy.writestr(info, archive.read(info))
        copy.close()
    return zipfile.ZipFile(out / "copy.zip")


def metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.message_from_string(wheel.read(name).decode("utf-8"))


def test_the_web_view_and_its_libraries_are_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for path in (
        "index.html",
        "view.js",
        "view.css",
        "vendor/MANIFEST.json",
        "vendor/chart.js/chart.umd.min.js",
        "vendor/chart.js/LICENSE.md",
        "vendor/marked/marked.umd.js",
        "vendor/marked/LICENSE",
        "vendor/dompurify/purify.min.js",
        "vendor/dompurify/LICENSE",
        "vendor/dompurify/LICENSE-MPL",
    ):
        assert STATIC + path in names, path
    # The packaged files are the checkout's, byte for byte.
    for name in names:
        if name.startswith(STATIC):
            assert wheel.read(name) == (ROOT / name).read_bytes(), name
    # Everything the page references is in the wheel.
    page = wheel.read(STATIC + "index.html").decode()
    for ref in re.findall(r'(?:src|href)="(static/[^"]+)"', page):
        assert STATIC + ref.removeprefix("static/") in names, ref
    assert "posthog_dash_async/py.typed" in names


def test_the_licence_and_the_project_urls(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    (licence,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    text = wheel.read(licence).decode()
    assert text.startswith("MIT License")
    assert text == (ROOT / "LICENSE").read_text(encoding="utf-8")
    meta = metadata(wheel)
    assert meta["License-Expression"] == "MIT"
    urls = dict(value.split(", ", 1) for value in meta.get_all("Project-URL", []))
    assert set(urls) == {"Homepage", "Documentation", "Source", "Issues", "Changelog"}
    assert all(url.startswith(REPO_URL) for url in urls.values())
    assert urls["Changelog"] == f"{REPO_URL}/blob/main/CHANGELOG.md"
    classifiers = meta.get_all("Classifier", [])
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Typing :: Typed" in classifiers


def test_runtime_dependencies_stay_aiohttp_and_msgspec(wheel: zipfile.ZipFile) -> None:
    requires = metadata(wheel).get_all("Requires-Dist", [])
    plain = sorted(r.split(">")[0].split("=")[0].strip() for r in requires if "extra ==" not in r)
    assert plain == ["aiohttp", "msgspec"]
    testing = sorted(
        r.split(";")[0].split(">")[0].strip() for r in requires if "extra == 'testing'" in r
    )
    assert testing == ["pytest", "pytest-asyncio"]


def test_the_testing_extra_covers_what_the_pytest_plugin_imports() -> None:
    plugin = ROOT / "posthog_dash_async" / "testing" / "pytest_plugin.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(plugin.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"posthog_dash_async"}
    assert third_party <= {"pytest", "pytest_asyncio"}, third_party


def test_the_readme_reads_well_on_the_package_index(wheel: zipfile.ZipFile) -> None:
    meta = metadata(wheel)
    assert meta["Description-Content-Type"] == "text/markdown"
    readme = meta.get_payload()
    assert isinstance(readme, str)
    assert readme.strip() == (ROOT / "README.md").read_text(encoding="utf-8").strip()
    # The first lines are the two commands for a fresh checkout: the demo, then the tests.
    first_block = re.search(r"```sh\n(.*?)\n```", readme, re.DOTALL)
    assert first_block is not None
    assert readme.index(first_block.group(0)) < readme.index("\n## ")
    demo, tests = first_block.group(1).splitlines()
    assert "posthog-dash demo" in demo
    assert "pytest" in tests
    # Installing from the index comes before any from-source instruction past the top.
    install = readme.index("## Install")
    assert readme.index("pip install 'posthog-dash-async[cli]'") > install
    assert readme.index("pip install 'posthog-dash-async[cli]'") < readme.index("## Contents")
    # Links work off GitHub: every link is absolute or an anchor of the page, except the
    # screenshot, which is followed by an absolute link to the same file.
    for target in re.findall(r"\]\(([^)\s]+)\)", readme):
        if target.startswith(("https://", "#")):
            continue
        assert target == "docs/web-view.png", f"relative link {target!r} breaks on PyPI"
        assert f"{REPO_URL}/blob/main/docs/web-view.png" in readme
    anchors = set(re.findall(r"\]\(#([^)]+)\)", readme))
    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#{2,4} (.+)$", readme, re.MULTILINE)
    }
    assert anchors <= headings, anchors - headings
