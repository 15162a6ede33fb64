"""The lab (agent + token endpoint) under a real uvicorn, shared by a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.uvicorn_thread import serve_in_thread

from .lab import Lab


@pytest.fixture(scope="module")
def served_lab() -> Iterator[tuple[Lab, str]]:
    lab = Lab()
    with serve_in_thread(lab) as url:
        yield lab, url


@pytest.fixture
def lab(served_lab: tuple[Lab, str]) -> Iterator[Lab]:
    """The module's lab, reset to no requirements and no tokens."""
    served_lab[0].reset()
    yield served_lab[0]
    served_lab[0].reset()


@pytest.fixture
def url(served_lab: tuple[Lab, str]) -> str:
    """The lab's base URL (``http://127.0.0.1:<port>``)."""
    return served_lab[1]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """PEM files of a private CA, a server cert for 127.0.0.1 and client certs."""
    from .tls import make_tls_files

    return make_tls_files(tmp_path_factory.mktemp("tls"))
