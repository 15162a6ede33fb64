"""gRPC over TLS and mutual TLS: the server's credentials, the client's trust and
certificate, and the client certificate reaching the mTLS verifier (spec §7.1, §13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord import types as t
from accord.client import ClientCertificate
from accord.errors import ConnectError
from accord.grpc import GrpcServer, GrpcTransport, server_credentials
from accord.protocol import op
from accord.server import Engine
from accord.server.auth import MutualTLSVerifier
from accord.server.interceptors import CallInfo, Interceptor
from tests.server.auth.certs import CA, Issued
from tests.server.auth.helpers import guarded_agent, mtls_scheme, requirement

from .helpers import send_request

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """grpc.aio runs on asyncio only."""
    return "asyncio"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("grpc-pki")
    ca = CA(folder, "partners")
    rogue = CA(folder, "rogue")
    return {
        "ca": ca,
        "server": ca.issue("server", "localhost", server=True),
        "a": ca.issue("a", "partner-a"),
        "rogue": rogue.issue("rogue", "partner-a"),
    }


def _files(pki: dict[str, object]) -> tuple[CA, Issued, Issued, Issued]:
    ca, server, a, rogue = pki["ca"], pki["server"], pki["a"], pki["rogue"]
    assert isinstance(ca, CA)
    assert isinstance(server, Issued)
    assert isinstance(a, Issued)
    assert isinstance(rogue, Issued)
    return ca, server, a, rogue


async def test_mutual_tls_identifies_the_caller(pki: dict[str, object]) -> None:
    ca, server_files, a, rogue = _files(pki)
    agent = guarded_agent({"mtls": mtls_scheme()}, [requirement(mtls=[])])
    seen = Seen()
    engine = Engine(agent, auth={"mtls": MutualTLSVerifier()}, interceptors=[seen])
    credentials = server_credentials(
        server_files.cert, server_files.key, ca_certs=ca.bundle
    )
    async with (
        engine.running(),
        GrpcServer(engine, host="localhost", credentials=credentials).serving() as srv,
    ):
        url = f"https://localhost:{srv.port}"
        async with GrpcTransport(
            url, ca_bundle=ca.bundle, certificate=ClientCertificate(a.cert, a.key)
        ) as transport:
            sent = await transport.call(op("SendMessage"), send_request("echo tls"))
            assert sent.task.artifacts[0].parts[0].text == "tls"
        for certificate in (None, ClientCertificate(rogue.cert, rogue.key)):
            async with GrpcTransport(
                url, ca_bundle=ca.bundle, certificate=certificate
            ) as refused:
                with pytest.raises(ConnectError):
                    await refused.call(op("GetTask"), t.GetTaskRequest(id="x"))
    assert seen.calls == [("SendMessage", "GRPC", "partner-a")]


class Seen(Interceptor):
    """Records who each call came from, as the engine authenticated it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []

    async def before(self, call: CallInfo) -> None:
        who = call.principal.id if call.principal is not None else None
        self.calls.append((call.operation.name, call.binding, who))


async def test_a_server_certificate_the_client_does_not_trust(
    pki: dict[str, object], tmp_path: Path
) -> None:
    _ca, server_files, _a, _rogue = _files(pki)
    other = CA(tmp_path, "other")
    engine = Engine(guarded_agent({}, []))
    credentials = server_credentials(server_files.cert, server_files.key)
    async with (
        engine.running(),
        GrpcServer(engine, host="localhost", credentials=credentials).serving() as srv,
        GrpcTransport(f"grpcs://localhost:{srv.port}", ca_bundle=other.bundle) as tr,
    ):
        with pytest.raises(ConnectError):
            await tr.call(op("GetTask"), t.GetTaskRequest(id="x"))
