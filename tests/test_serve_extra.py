"""The web stack is the `serve` extra's: the library and the command line work without it, and
`headcast serve` says how to install it."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.conftest import ROOT

WEB_STACK = ("fastapi", "starlette", "uvicorn", "aiortc", "redis", "prometheus_client")

# Installed before anything else in a fresh interpreter: importing any of the web stack, or
# anything inside it, fails as it does where the extra is not installed.
BLOCKER = f"""
import sys

class WebStackAbsent:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {WEB_STACK!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, WebStackAbsent())
"""


def run_without_web_stack(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + code],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip


def test_the_library_imports_without_the_web_stack():
    result = run_without_web_stack(
        "import headcast.animate, headcast.session, headcast.lipsync\n"
        f"loaded = sorted(m for m in sys.modules if m.partition('.')[0] in {WEB_STACK!r})\n"
        "print('loaded:', loaded)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded: []"


def test_the_blocker_blocks():
    result = run_without_web_stack("import fastapi\n")
    assert result.returncode == 1
    assert "ModuleNotFoundError: No module named 'fastapi'" in result.stderr


def test_serve_without_the_extra_says_how_to_install_it():
    result = run_without_web_stack(
        "from headcast.cli import main\nsys.exit(main(['serve', '--port', '0']))\n"
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("headcast: error: headcast serve needs the serve extra")
    assert "pip install 'headcast[serve]'" in lines[0]
    assert "fastapi" in lines[0] and "uvicorn" in lines[0]
    # The other commands still parse and run.
    result = run_without_web_stack(
        "from headcast.cli import main\nsys.exit(main(['tts', '--list-voices']))\n"
    )
    assert result.returncode == 0, result.stderr
    assert "en-us" in result.stdout


def test_the_web_stack_is_only_in_the_serve_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {"fastapi", "uvicorn", "aiortc", "redis", "prometheus-client", "python-multipart"}

    def package(requirement: str) -> str:
        return requirement.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip()

    assert not names & {package(r) for r in project["dependencies"]}
    assert names <= {package(r) for r in project["optional-dependencies"]["serve"]}
