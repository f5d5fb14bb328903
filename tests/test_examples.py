"""The examples run end to end, as a user would run them."""

from __future__ import annotations

import pytest

from examples import http_client


def test_http_client_fetches_from_its_local_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert http_client.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("HTTP/1.0 200 OK\n")
    assert "Hello from netsocket's demo server" in out
    assert "content-length: 61" in out.lower()


def test_http_client_reports_a_refused_connection(capsys: pytest.CaptureFixture[str]) -> None:
    assert http_client.main(["--url", "http://127.0.0.1:1/"]) == 1
    assert "cannot connect" in capsys.readouterr().err
