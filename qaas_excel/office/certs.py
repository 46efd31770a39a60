"""The companion's TLS: a local CA that can only vouch for this machine's loopback names, and its localhost certificate.

Excel loads add-in pages only over HTTPS with a certificate it trusts, so the CA goes into the user's own
certificate store (``office.install``). Two precautions keep that CA harmless:

- name constraints (critical): it is valid for ``localhost`` and 127.0.0.1 only, never for another site;
- its private key is never written anywhere: it signs the localhost certificate once and is dropped.
  A renewal makes a new CA (and asks the user to trust it again).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from qaas_excel.config_files import private_dir

CA_FILE, CERT_FILE, KEY_FILE = "ca.pem", "localhost.pem", "localhost-key.pem"
CA_DAYS = 3650
# Apple platforms refuse TLS server certificates valid for more than 825 days.
CERT_DAYS = 825
RENEW_BEFORE_DAYS = 30
LOOPBACK = ipaddress.ip_address("127.0.0.1")


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def ca(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.ca_file.read_bytes())

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_file.read_bytes())

    @property
    def ca_name(self) -> str:
        return self.ca().subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value  # type: ignore[return-value]

    @property
    def ca_sha1(self) -> str:
        """The thumbprint Windows and macOS show and find a certificate by."""
        return self.ca().fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - a name, not a security check

    def spki_sha256(self) -> str:
        """base64 SHA-256 of the localhost key, as Chromium's --ignore-certificate-errors-spki-list takes it."""
        import base64

        der = self.certificate().public_key().public_bytes(serialization.Encoding.DER,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(hashlib.sha256(der).digest()).decode()


def paths(folder: Path) -> Certificates:
    return Certificates(folder / CA_FILE, folder / CERT_FILE, folder / KEY_FILE)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qaas-excel"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ca_common_name() -> str:
    """Names the user and machine, so the CA is recognisable in a certificate store."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in the environment: the host alone is enough
        user = "user"
    return f"qaas-excel local companion CA ({user}@{socket.gethostname()})"[:64]


def create(folder: Path, *, now: dt.datetime | None = None) -> Certificates:
    """A new CA and localhost certificate in ``folder`` (the key readable by its owner only)."""
    private_dir(folder)
    now = now or dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(ca_common_name())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.NameConstraints(
            permitted_subtrees=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_network("127.0.0.1/32"))],
            excluded_subtrees=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost")).issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(LOOPBACK)]),
                       critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = paths(folder)
    _write_private(files.key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    _write_private(files.cert_file, cert.public_bytes(serialization.Encoding.PEM)
                   + ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(files.ca_file, ca_cert.public_bytes(serialization.Encoding.PEM))
    return files  # ca_key goes out of scope here: nothing can sign for this CA again


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def usable(files: Certificates, *, now: dt.datetime | None = None) -> bool:
    """The files exist and the localhost certificate is valid for a while yet."""
    try:
        cert = files.certificate()
        files.ca()
    except (OSError, ValueError):
        return False
    if not files.key_file.exists():
        return False
    now = now or dt.datetime.now(dt.UTC)
    return cert.not_valid_after_utc - now > dt.timedelta(days=RENEW_BEFORE_DAYS)


def ensure(folder: Path) -> tuple[Certificates, bool]:
    """(the certificates, whether they were made now): existing usable ones are kept, so the trusted CA stays."""
    files = paths(folder)
    if usable(files):
        return files, False
    return create(folder), True
