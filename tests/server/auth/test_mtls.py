"""Mutual TLS over a real uvicorn with certificates made in the test.

The peer certificate reaches the app through the ASGI TLS extension that
:mod:`accord.server.auth.tls` adds to uvicorn; ``accord serve --ssl-*`` uses it too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.server import A2AApp
from accord.server.auth import MutualTLSVerifier, Principal
from accord.server.auth.tls import uvicorn_ssl_options
from tests.helpers.uvicorn_thread import serve_in_thread

from .certs import CA, Issued, client_context
from .helpers import (
    BINDINGS,
    Caller,
    guarded_agent,
    message,
    mtls_scheme,
    requirement,
    task_of,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("pki")
    ca = CA(folder, "partners")
    rogue = CA(folder, "rogue")
    return {
        "ca": ca,
        "server": ca.issue("server", "localhost", server=True),
        "a": ca.issue("a", "partner-a", dns=("a.partners.test",)),
        "b": ca.issue("b", "partner-b", dns=("b.partners.test",)),
        "rogue": rogue.issue("rogue", "partner-a"),  # same name, wrong CA
    }


def _app(verifier: MutualTLSVerifier) -> A2AApp:
    agent = guarded_agent({"mtls": mtls_scheme()}, [requirement(mtls=[])])
    return A2AApp(agent, auth={"mtls": verifier})


def _serve(
    pki: dict[str, object], verifier: MutualTLSVerifier, mode: str
) -> Iterator[str]:
    ca = pki["ca"]
    server = pki["server"]
    assert isinstance(ca, CA)
    assert isinstance(server, Issued)
    options = uvicorn_ssl_options(
        certfile=str(server.cert),
        keyfile=str(server.key),
        ca_certs=str(ca.bundle),
        client_cert=mode,
    )
    with serve_in_thread(_app(verifier), **options) as url:
        yield url


@pytest.fixture(scope="module")
def required(pki: dict[str, object]) -> Iterator[str]:
    yield from _serve(pki, MutualTLSVerifier(), "required")


@pytest.fixture(scope="module")
def optional(pki: dict[str, object]) -> Iterator[str]:
    yield from _serve(
        pki, MutualTLSVerifier(identity="dns", allowed={"a.partners.test"}), "optional"
    )


def client(pki: dict[str, object], who: str | None) -> httpx.Client:
    ca = pki["ca"]
    assert isinstance(ca, CA)
    cert = pki[who] if who is not None else None
    assert cert is None or isinstance(cert, Issued)
    return httpx.Client(verify=client_context(ca.bundle, cert), timeout=20)


@pytest.mark.parametrize("binding", BINDINGS)
def test_client_certificate_names_the_principal(
    pki: dict[str, object], required: str, binding: str
) -> None:
    with client(pki, "a") as http_a, client(pki, "b") as http_b:
        a = Caller(required, binding, http_a)
        b = Caller(required, binding, http_b)
        task = task_of(a.call("SendMessage", {"message": message("echo hi")}))
        assert a.call("GetTask", {"id": task["id"]}).status == 200
        # Another certificate of the same CA is another principal.
        assert b.call("GetTask", {"id": task["id"]}).reason == "TASK_NOT_FOUND"
        streamed = a.call("SendStreamingMessage", {"message": message("echo s")})
        assert streamed.events is not None


@pytest.mark.parametrize("who", [None, "rogue"], ids=["no-certificate", "wrong-ca"])
def test_the_handshake_refuses(
    pki: dict[str, object], required: str, who: str | None
) -> None:
    ca = pki["ca"]
    assert isinstance(ca, CA)
    cert = pki[who] if who is not None else None
    assert cert is None or isinstance(cert, Issued)
    with (
        httpx.Client(verify=client_context(ca.bundle, cert), timeout=10) as http,
        pytest.raises(httpx.TransportError),
    ):
        Caller(required, "JSONRPC", http).call("ListTasks", {})


def test_optional_client_certificates(pki: dict[str, object], optional: str) -> None:
    with client(pki, None) as anonymous:
        answer = Caller(optional, "HTTP+JSON", anonymous).call("ListTasks", {})
    assert answer.status == 401
    assert answer.challenges == ['MutualTLS realm="Guarded"']
    with client(pki, "a") as http_a:
        assert Caller(optional, "HTTP+JSON", http_a).call("ListTasks", {}).status == 200
    with client(pki, "b") as http_b:  # valid certificate, identity not allowed
        assert Caller(optional, "HTTP+JSON", http_b).call("ListTasks", {}).status == 401


def test_principal_for(pki: dict[str, object]) -> None:
    import anyio

    from accord.server.auth import Credential, CredentialRejected, RequestInfo

    a = pki["a"]
    assert isinstance(a, Issued)
    pem = a.cert.read_text()
    verifier = MutualTLSVerifier(
        principal_for=lambda ident, cert: (
            Principal(id=f"org:{ident}", tenants=frozenset({"acme"}))
            if ident == "partner-a"
            else None
        )
    )

    def credential(tls: Mapping[str, Any]) -> Credential:
        return Credential("mtls", mtls_scheme(), "", RequestInfo(tls=tls))

    async def main() -> None:
        principal = await verifier.verify(credential({"client_cert_chain": [pem]}))
        assert principal.id == "org:partner-a"
        assert principal.tenants == frozenset({"acme"})
        bad: Mapping[str, Any]
        for bad in (
            {"client_cert_chain": [pem], "client_cert_error": "expired"},
            {"client_cert_chain": ["not a certificate"]},
        ):
            with pytest.raises(CredentialRejected):
                await verifier.verify(credential(bad))
        uri = MutualTLSVerifier(identity="uri")
        with pytest.raises(CredentialRejected, match="names no identity"):
            await uri.verify(credential({"client_cert_chain": [pem]}))

    anyio.run(main)
    with pytest.raises(ValueError, match="identity must be"):
        MutualTLSVerifier(identity="serial")


def test_ssl_options_need_a_ca_for_client_certificates() -> None:
    with pytest.raises(ValueError, match="CA bundle"):
        uvicorn_ssl_options(certfile="s.pem", client_cert="required")
    with pytest.raises(ValueError, match="client_cert must be"):
        uvicorn_ssl_options(certfile="s.pem", ca_certs="ca.pem", client_cert="maybe")
    assert uvicorn_ssl_options(certfile="s.pem")["ssl_cert_reqs"] == 0


def test_serve_tls_flags(pki: dict[str, object], tmp_path: Path) -> None:
    import argparse

    from accord.cli._errors import UsageError
    from accord.cli.commands.serve import card_url, tls_options
    from accord.server import ConnectionLimits
    from accord.server.serving import http_protocol

    def flags(**given: str | None) -> argparse.Namespace:
        names = ("ssl_certfile", "ssl_keyfile", "ssl_ca_certs", "ssl_client_cert")
        return argparse.Namespace(**{n: given.get(n) for n in names})

    server, ca = pki["server"], pki["ca"]
    assert isinstance(server, Issued)
    assert isinstance(ca, CA)
    assert tls_options(flags()) == {}
    with pytest.raises(UsageError, match="need --ssl-certfile"):
        tls_options(flags(ssl_ca_certs=str(ca.bundle)))
    with pytest.raises(UsageError, match="no such file"):
        tls_options(flags(ssl_certfile=str(tmp_path / "missing.pem")))
    with pytest.raises(UsageError, match="CA bundle"):
        tls_options(flags(ssl_certfile=str(server.cert), ssl_client_cert="required"))
    options = tls_options(
        flags(
            ssl_certfile=str(server.cert),
            ssl_keyfile=str(server.key),
            ssl_ca_certs=str(ca.bundle),
        )
    )
    assert options["ssl_cert_reqs"] == 2  # ssl.CERT_REQUIRED by default with a CA
    # One protocol class: the TLS extension and the connection limits.
    assert options["http"] is http_protocol(ConnectionLimits())
    assert card_url("127.0.0.1", 8443, tls=True).startswith("https://")


@pytest.mark.slow
def test_accord_serve_with_client_certificates(
    pki: dict[str, object], tmp_path: Path
) -> None:
    ca, server, a = pki["ca"], pki["server"], pki["a"]
    assert isinstance(ca, CA)
    assert isinstance(server, Issued)
    assert isinstance(a, Issued)
    (tmp_path / "mtls_agent.py").write_text(
        textwrap.dedent(
            """
            from accord.server import A2AApp, Agent
            from accord.server.auth import MutualTLSVerifier
            from accord.types import (
                MutualTlsSecurityScheme, SecurityRequirement, SecurityScheme, StringList,
            )

            async def echo(ctx):
                await ctx.complete(f"hello {ctx.owner}")

            agent = Agent(
                echo,
                name="TLS",
                description="mutual TLS only",
                security_schemes={
                    "mtls": SecurityScheme(mtls_security_scheme=MutualTlsSecurityScheme())
                },
                security_requirements=[SecurityRequirement(schemes={"mtls": StringList()})],
            )
            app = A2AApp(agent, auth={"mtls": MutualTLSVerifier()})
            """
        )
    )
    process = subprocess.Popen(
        [
            sys.executable, "-m", "accord.cli", "serve", "mtls_agent.py",
            "--port", "0",
            "--ssl-certfile", str(server.cert),
            "--ssl-keyfile", str(server.key),
            "--ssl-ca-certs", str(ca.bundle),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        card = next(
            line.removeprefix("Agent card: ").strip()
            for line in process.stdout
            if line.startswith("Agent card: ")
        )
        assert card.startswith("https://127.0.0.1:")
        base = card.removesuffix("/.well-known/agent-card.json")
        with client(pki, "a") as http:
            sent = Caller(base, "JSONRPC", http).call(
                "SendMessage", {"message": message("hi")}
            )
        assert (
            task_of(sent)["status"]["message"]["parts"][0]["text"] == "hello partner-a"
        )
        with client(pki, None) as http, pytest.raises(httpx.TransportError):
            http.get(card)
    finally:
        process.terminate()
        process.communicate(timeout=15)


def test_connection_limits_hold_on_tls_connections(pki: dict[str, object]) -> None:
    """One protocol class: the principal from the certificate, and the limits."""
    from accord.server import ConnectionLimits

    ca, server = pki["ca"], pki["server"]
    assert isinstance(ca, CA)
    assert isinstance(server, Issued)
    options = uvicorn_ssl_options(
        certfile=str(server.cert),
        keyfile=str(server.key),
        ca_certs=str(ca.bundle),
        limits=ConnectionLimits(max_headers=12),
    )
    with (
        serve_in_thread(_app(MutualTLSVerifier()), **options) as url,
        client(pki, "a") as http,
    ):
        caller = Caller(url, "JSONRPC", http)
        assert caller.call("ListTasks", {}).status == 200
        many = {f"x-extra-{i}": "v" for i in range(12)}
        refused = http.get(url + "/.well-known/agent-card.json", headers=many)
        assert refused.status_code == 431
        assert "header fields" in refused.json()["error"]["message"]
