"""schemathesis (PyPI) generates requests from the committed OpenAPI document and sends them to
the running admin listener: every route, with valid and invalid bodies, parameters and
addresses. The server must never answer 5xx, and every answer must match what the document says
(status codes, content type, response schema)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import add_admin


def schemathesis_cli() -> str | None:
    """The CLI installed beside this Python (pip's scripts directory), else on PATH."""
    beside = Path(sys.executable).parent / "schemathesis"
    return str(beside) if beside.exists() else shutil.which("schemathesis")


def test_admin_api_against_its_openapi_document(swallow_factory, tmp_path):
    cli = schemathesis_cli()
    if cli is None:
        pytest.skip("schemathesis is not installed (pip install schemathesis)")
    srv = swallow_factory(listeners=("admin",))
    token = add_admin(srv)
    base = f"http://127.0.0.1:{srv.ports['admin']}"
    run = subprocess.run(
        [cli, "run", f"{base}/api/openapi.json", "--url", base,
         "--header", f"Authorization: Bearer {token}",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
         "--max-examples", "25", "--seed", "4242", "--generation-deterministic", "--workers", "1",
         "--request-timeout", "20", "--no-color"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    # It really exercised the API (a wrong base URL or token would test nothing and pass).
    assert "passed" in run.stdout and " 0 passed" not in run.stdout, run.stdout[-3000:]
