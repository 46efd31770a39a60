"""A local certificate authority and a server certificate for 127.0.0.1 / localhost (trustme)."""

from __future__ import annotations

from pathlib import Path

import trustme

from qaas_excel.config_files import private_dir

CA_FILE = "sandbox-ca.pem"


def make_certificates(home: Path) -> tuple[Path, Path, Path]:
    """(CA file for clients, server certificate chain, server key); a new CA on every start.

    The CA goes into the home directory itself (clients read it from ``sandbox.json``); the
    server's own certificate and key into ``sandbox-tls/`` beside it.
    """
    private = home / "sandbox-tls"
    private_dir(private)
    ca = trustme.CA(organization_name="qaas-excel sandbox CA")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = home / CA_FILE, private / "sandbox-cert.pem", private / "sandbox-key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    key_file.touch(mode=0o600)
    key_file.chmod(0o600)  # before the key is written: never readable by others, not even for a moment
    cert.private_key_pem.write_to_path(str(key_file))
    with open(cert_file, "wb") as f:
        for blob in cert.cert_chain_pems:
            f.write(blob.bytes())
    for public in (ca_file, cert_file):  # nothing in the state folder is for other users' eyes
        public.chmod(0o600)
    return ca_file, cert_file, key_file
