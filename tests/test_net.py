"""is_loopback_host: the one rule for where plain http is tolerated."""

from __future__ import annotations

import pytest

from accord._net import is_loopback_host


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]"]
)
def test_loopback(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    ["", "example.com", "10.0.0.1", "192.168.1.1", "localhost.example.com", "::2"],
)
def test_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)
