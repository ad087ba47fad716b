"""The two spellings of an archive's SHA-256: hex (`sha256 = "..."`) and SRI (`integrity`)."""

from __future__ import annotations

import base64
import binascii

from xla_tasks.pins.native.model import SHA256_RE


def sri_of(sha256_hex: str) -> str:
    """`sha256-` + base64 of the raw digest, as MODULE.bazel's `integrity` wants it."""
    if not SHA256_RE.fullmatch(sha256_hex):
        raise ValueError(f"not a 64-hex SHA-256: {sha256_hex!r}")
    return "sha256-" + base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


def hex_of_sri(sri: str) -> str | None:
    """The hex digest an SRI `sha256-...` string holds; None if it holds no SHA-256."""
    algorithm, _, encoded = sri.strip().partition("-")
    if algorithm != "sha256" or not encoded:
        return None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None
