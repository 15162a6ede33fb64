"""Mutual TLS over a real handshake: uvicorn with a private CA and CERT_REQUIRED."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from accord.client import ApiKey, Client, ClientCertificate, ClientConfig
from accord.client.credentials import http_client, ssl_context
from accord.errors import ConnectError, TransportError, UnauthenticatedError
from accord.types import Task, TaskState

from ..helpers import HTTPX_TRIO_WARNINGS
from .lab import API_KEY, Lab, api_key, mtls, requirement
from .tls import KEY_PASSWORD

pytestmark = [pytest.mark.anyio, HTTPX_TRIO_WARNINGS]


@pytest.fixture(scope="module")
def tls_lab(tls_files: dict[str, str]) -> Iterator[tuple[Lab, str]]:
    from tests.helpers.uvicorn_thread import serve_in_thread

    lab = Lab()
    with serve_in_thread(
        lab,
        ssl_certfile=tls_files["server_cert"],
        ssl_keyfile=tls_files["server_key"],
        ssl_ca_certs=tls_files["ca"],
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    ) as url:
        yield lab, url


@pytest.fixture
def secured(tls_lab: tuple[Lab, str]) -> Iterator[tuple[Lab, str]]:
    lab, url = tls_lab
    lab.reset()
    lab.secure({"mtls": mtls()}, requirement(mtls=()))
    yield lab, url
    lab.reset()


async def test_handshake_succeeds_with_the_certificate(
    secured: tuple[Lab, str], tls_files: dict[str, str]
) -> None:
    lab, url = secured
    certificate = ClientCertificate(tls_files["client_cert"], tls_files["client_key"])
    config = ClientConfig(ca_bundle=tls_files["ca"])

    async with await Client.connect(url, config=config, credentials=[certificate]) as c:
        task = await c.send_message("over mTLS")

    assert url.startswith("https://127.0.0.1:")
    assert isinstance(task, Task)
    assert task.status.state == TaskState.COMPLETED
    assert len(lab.agent_requests) == 1


@pytest.mark.parametrize(
    "files",
    [
        ("client_combined", None, None),
        ("client_cert", "client_key_encrypted", KEY_PASSWORD),
    ],
)
async def test_certificate_file_layouts(
    secured: tuple[Lab, str],
    tls_files: dict[str, str],
    files: tuple[str, str | None, str | None],
) -> None:
    _, url = secured
    cert, key, password = files
    certificate = ClientCertificate(
        tls_files[cert], tls_files[key] if key else None, password=password
    )
    config = ClientConfig(ca_bundle=tls_files["ca"])

    async with await Client.connect(url, config=config, credentials=[certificate]) as c:
        await c.list_tasks()


async def test_handshake_fails_without_a_certificate(
    secured: tuple[Lab, str], tls_files: dict[str, str]
) -> None:
    lab, url = secured
    config = ClientConfig(ca_bundle=tls_files["ca"])

    with pytest.raises(TransportError):
        await Client.connect(url, config=config)

    assert lab.seen == []  # refused at the TLS layer: not even the card request


async def test_handshake_fails_with_a_certificate_from_another_ca(
    secured: tuple[Lab, str], tls_files: dict[str, str]
) -> None:
    lab, url = secured
    rogue = ClientCertificate(tls_files["rogue_cert"], tls_files["rogue_key"])
    config = ClientConfig(ca_bundle=tls_files["ca"])

    with pytest.raises(TransportError):
        await Client.connect(url, config=config, credentials=[rogue])

    assert lab.seen == []


async def test_private_ca_must_be_trusted(
    secured: tuple[Lab, str], tls_files: dict[str, str]
) -> None:
    _, url = secured
    certificate = ClientCertificate(tls_files["client_cert"], tls_files["client_key"])

    with pytest.raises(ConnectError, match="certificate verification failed"):
        await Client.connect(url, credentials=[certificate])


async def test_mtls_together_with_an_api_key(
    tls_lab: tuple[Lab, str], tls_files: dict[str, str]
) -> None:
    lab, url = tls_lab
    lab.reset()
    lab.secure({"mtls": mtls(), "key": api_key()}, requirement(mtls=(), key=()))
    certificate = ClientCertificate(tls_files["client_cert"], tls_files["client_key"])
    config = ClientConfig(ca_bundle=tls_files["ca"])

    with pytest.raises(UnauthenticatedError, match="together with"):
        await Client.connect(url, config=config, credentials=[certificate])
    async with await Client.connect(
        url, config=config, credentials=[ApiKey(API_KEY), certificate]
    ) as client:
        await client.list_tasks()

    assert lab.agent_requests[-1].headers["x-api-key"] == API_KEY
    lab.reset()


async def test_own_httpx_client_with_ssl_context(
    secured: tuple[Lab, str], tls_files: dict[str, str]
) -> None:
    _, url = secured
    certificate = ClientCertificate(tls_files["client_cert"], tls_files["client_key"])
    context = ssl_context(ca_bundle=tls_files["ca"], certificate=certificate)

    async with httpx.AsyncClient(verify=context) as http:
        with pytest.raises(ValueError, match="load it there instead"):
            await Client.connect(url, http=http, credentials=[certificate])
        async with await Client.connect(url, http=http) as client:
            await client.list_tasks()


def test_unloadable_files_are_value_errors(
    tls_files: dict[str, str], tmp_path: object
) -> None:
    with pytest.raises(ValueError, match="Cannot load the client certificate"):
        ClientCertificate(f"{tmp_path}/missing.pem")
    with pytest.raises(ValueError, match="Cannot load the client certificate"):
        ClientCertificate(tls_files["client_cert"], tls_files["rogue_key"])
    with pytest.raises(ValueError, match="Cannot load the client certificate") as e:
        ClientCertificate(
            tls_files["client_cert"],
            tls_files["client_key_encrypted"],
            password="wr0ng-Q",
        )
    assert "wr0ng-Q" not in str(e.value)
    with pytest.raises(ValueError, match="Cannot load the CA bundle"):
        ssl_context(ca_bundle=f"{tmp_path}/missing-ca.pem")
    certificate = ClientCertificate(
        tls_files["client_cert"],
        tls_files["client_key_encrypted"],
        password=KEY_PASSWORD,
    )
    assert KEY_PASSWORD not in repr(certificate)
    assert repr(certificate).startswith("ClientCertificate(")


async def test_default_clients_share_one_tls_context() -> None:
    # Building a TLS context loads the CA bundle (tens of ms of CPU): once a process.
    first = http_client(ClientConfig())
    second = http_client(ClientConfig())
    async with first, second:
        contexts = [c._transport._pool._ssl_context for c in (first, second)]  # type: ignore[attr-defined]
    assert contexts[0] is contexts[1]
    assert contexts[0].verify_mode is ssl.CERT_REQUIRED
