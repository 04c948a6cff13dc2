"""The command line against the stand-ins: an OCI CLI config file whose API key the Object Storage stand-in accepts
(``replay`` authenticates with it, signed by the real SDK and checked by the stand-in), and the flags that point
``replay`` at a stand-in bucket."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .objectstorage import DEFAULT_BUCKET, ObjectStorageStandin
from .principal import REGION

__all__ = ["TENANCY", "USER", "api_key_config", "replay_flags"]

TENANCY = "ocid1.tenancy.oc1..aaaaaaaaclitenancy"
USER = "ocid1.user.oc1..aaaaaaaacliuser"


def api_key_config(
    directory: Path, storage: ObjectStorageStandin, *, profile: str = "DEFAULT", region: str = REGION
) -> Path:
    """Write ``directory/oci_config`` and its key file, and register the key with ``storage``. A profile other than
    DEFAULT comes after a DEFAULT profile of another region, so using the wrong one shows."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = directory / "api_key.pem"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pem.chmod(0o600)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.md5(der).hexdigest()  # the OCI key fingerprint is an MD5 (not a security choice)
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, 32, 2))
    storage.register_key(f"{TENANCY}/{USER}/{fingerprint}", key.public_key())
    config = directory / "oci_config"
    default = "[DEFAULT]\nregion=us-ashburn-1\n\n" if profile != "DEFAULT" else ""
    config.write_text(
        f"{default}[{profile}]\nuser={USER}\nfingerprint={fingerprint}\ntenancy={TENANCY}\nregion={region}\n"
        f"key_file={pem}\n"
    )
    config.chmod(0o600)
    return config


def replay_flags(
    storage: ObjectStorageStandin, config: Path, *, prefix: str = "audit/", profile: str | None = None
) -> list[str]:
    """``replay``'s flags for the objects under ``prefix`` in the stand-in's bucket, authenticated by ``config``."""
    flags = ["--namespace", storage.namespace, "--bucket", DEFAULT_BUCKET, "--prefix", prefix]
    flags += ["--config-file", str(config), *(["--profile", profile] if profile else []), "--endpoint", storage.url]
    return flags
