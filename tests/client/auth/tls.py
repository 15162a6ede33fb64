"""Certificates for the TLS tests: a private CA, a server cert, client certs.

Made with ``cryptography`` once per session into a temporary directory: the CA signs
a server certificate for ``127.0.0.1`` (an IP SAN) and a client certificate; a second,
unrelated CA signs a client certificate the server must not accept.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["KEY_PASSWORD", "make_tls_files"]

#: The password of the encrypted client key.
KEY_PASSWORD = "k3y-passw0rd"

_Key = ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: _Key,
    issuer: tuple[x509.Name, _Key] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer if issuer is not None else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        usage = (
            ExtendedKeyUsageOID.SERVER_AUTH
            if server
            else ExtendedKeyUsageOID.CLIENT_AUTH
        )
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, *blobs: bytes) -> str:
    path.write_bytes(b"".join(blobs))
    return str(path)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: _Key, password: str | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def make_tls_files(directory: Path) -> dict[str, str]:
    """Write the PEM files; return their paths by role."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Accord Test CA", ca_key, None, ca=True)
    issuer = (ca.subject, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate("127.0.0.1", server_key, issuer, server=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _certificate("accord-client", client_key, issuer)
    rogue_ca_key = ec.generate_private_key(ec.SECP256R1())
    rogue_ca = _certificate("Rogue CA", rogue_ca_key, None, ca=True)
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = _certificate("rogue-client", rogue_key, (rogue_ca.subject, rogue_ca_key))
    return {
        "ca": _write(directory / "ca.pem", _pem(ca)),
        "server_cert": _write(directory / "server.pem", _pem(server)),
        "server_key": _write(directory / "server.key", _key_pem(server_key)),
        "client_cert": _write(directory / "client.pem", _pem(client)),
        "client_key": _write(directory / "client.key", _key_pem(client_key)),
        "client_combined": _write(
            directory / "client-combined.pem", _pem(client), _key_pem(client_key)
        ),
        "client_key_encrypted": _write(
            directory / "client-encrypted.key", _key_pem(client_key, KEY_PASSWORD)
        ),
        "rogue_cert": _write(directory / "rogue.pem", _pem(rogue)),
        "rogue_key": _write(directory / "rogue.key", _key_pem(rogue_key)),
    }
