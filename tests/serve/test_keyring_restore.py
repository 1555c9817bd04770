"""`chipkit serve` with a keyring restored from an old backup behind its back: the reload is
refused (one log line), the last good verifier is kept and signing answers 503."""

from __future__ import annotations

import logging

import pytest

from chipkit.keyfile import KEYRING_FILE
from chipkit.keys import Keyring

VILLAGE = "330703101001"


def test_the_service_keeps_its_last_good_verifier_and_refuses_to_sign(
    keyed_app, caplog: pytest.LogCaptureFixture
) -> None:
    from chipkit.serve.api_plates import _keyring
    from chipkit.serve.errors import ApiError

    svc = keyed_app.state.chipkit
    backup = (svc.keyring.path / KEYRING_FILE).read_bytes()
    text, claims = svc.keyring.seal("H-0001", VILLAGE)
    svc.keyring.revoke([claims.serial], "lost")
    svc.refresh_verifier(force=True)
    assert svc.verifier.check(text).status.value == "revoked"

    (svc.keyring.path / KEYRING_FILE).write_bytes(backup)
    with caplog.at_level(logging.ERROR, logger="chipkit.serve"):
        svc.refresh_verifier(force=True)  # no crash
    assert "keyring reload refused" in caplog.text and "keys restored" in caplog.text
    assert svc.verifier.check(text).status.value == "revoked"  # the last good verifier
    with pytest.raises(ApiError) as e:
        _keyring(svc)
    assert e.value.status == 503 and e.value.error == "keyring_refused"

    Keyring.accept_restore(svc.keyring.path)
    svc.refresh_verifier(force=True)
    assert svc.trust_error is None and _keyring(svc) is svc.keyring
    assert svc.verifier.check(text).status.value == "revoked"
