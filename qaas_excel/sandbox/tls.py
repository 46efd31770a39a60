"""A local certificate authority and a server certificate for 127.0.0.1 / localhost (trustme)."""

from __future__ import annotations

from pathlib import Path

import trustme


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(CA file for clients, server certificate chain, server key); new on every start."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="qaas-excel sandbox CA")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = folder / "sandbox-ca.pem", folder / "sandbox-cert.pem", folder / "sandbox-key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_pem.write_to_path(str(key_file))
    key_file.chmod(0o600)
    with open(cert_file, "wb") as f:
        for blob in cert.cert_chain_pems:
            f.write(blob.bytes())
    return ca_file, cert_file, key_file
