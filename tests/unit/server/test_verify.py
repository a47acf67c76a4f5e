"""Webhook verification: HMAC, tokens, Standard Webhooks signatures, rotation, start-up rules."""

from __future__ import annotations

import base64
import json

import pytest

from bot.errors import SettingsError, VerificationError
from bot.intake.verify import Verifier, sign_github, sign_standard_webhook
from bot.settings import load_settings
from tests.conftest import webhook_path

SIGNING = "whsec_" + base64.b64encode(b"k" * 32).decode()
OTHER_SIGNING = "whsec_" + base64.b64encode(b"o" * 32).decode()


def test_github_documented_test_vector() -> None:
    vector = json.loads(webhook_path("signatures", "github.x-hub-signature-256.json").read_text())
    body = vector["payload"].encode()
    assert sign_github(vector["secret"], body) == vector["expected_header_value"]
    verifier = Verifier(github_secrets=(vector["secret"].encode(),))
    headers = {"x-hub-signature-256": vector["expected_header_value"]}
    assert verifier.verify("github", headers, body) == "hmac"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=",
        "sha256=00",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=ünïcode",
    ],
)
def test_github_bad_or_missing_signature(header: str | None) -> None:
    verifier = Verifier(github_secrets=(b"It's a Secret to Everybody",))
    headers = {} if header is None else {"x-hub-signature-256": header}
    with pytest.raises(VerificationError):
        verifier.verify("github", headers, b"Hello, World!")


def test_github_signature_is_over_the_raw_bytes() -> None:
    body = b'{"a": 1,  "b": 2}'
    verifier = Verifier(github_secrets=(b"s" * 30,))
    reserialised = json.dumps(json.loads(body)).encode()
    with pytest.raises(VerificationError):
        verifier.verify(
            "github", {"x-hub-signature-256": sign_github("s" * 30, body)}, reserialised
        )


def test_rotation_accepts_every_active_secret() -> None:
    verifier = Verifier(github_secrets=(b"old" * 10, b"new" * 10))
    for secret in ("old" * 10, "new" * 10):
        assert verifier.verify("github", {"x-hub-signature-256": sign_github(secret, b"x")}, b"x")
    with pytest.raises(VerificationError):
        verifier.verify("github", {"x-hub-signature-256": sign_github("gone" * 8, b"x")}, b"x")


def test_gitlab_token_rotation_and_rejection() -> None:
    verifier = Verifier(gitlab_tokens=(b"a" * 30, b"b" * 30))
    assert verifier.verify("gitlab", {"x-gitlab-token": "b" * 30}, b"{}") == "token"
    for headers in ({}, {"x-gitlab-token": "c" * 30}, {"x-gitlab-token": "a" * 29}):
        with pytest.raises(VerificationError):
            verifier.verify("gitlab", headers, b"{}")


def _signed_headers(token: str, body: bytes, at: int, msg_id: str = "msg-1") -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(at),
        "webhook-signature": sign_standard_webhook(token, msg_id, at, body),
    }


def test_gitlab_standard_webhooks_signature() -> None:
    verifier = Verifier(gitlab_signing_keys=(b"k" * 32,), clock=lambda: 1_700_000_000)
    body = b'{"object_kind":"note"}'
    headers = _signed_headers(SIGNING, body, 1_700_000_000)
    assert verifier.verify("gitlab", headers, body) == "signature"
    # Several signatures in one header (the sender rotates): any v1 match is enough.
    multi = {**headers, "webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    assert verifier.verify("gitlab", multi, body) == "signature"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h, b: ({**h, "webhook-timestamp": str(1_700_000_000 - 301)}, b),  # too old
        lambda h, b: ({**h, "webhook-timestamp": str(1_700_000_000 + 301)}, b),  # in the future
        lambda h, b: ({**h, "webhook-timestamp": "yesterday"}, b),
        lambda h, b: ({**h, "webhook-id": "other"}, b),
        lambda h, b: (h, b + b" "),
        lambda h, b: ({**h, "webhook-signature": "v2,abc"}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b),
        lambda h, b: (_signed_headers(OTHER_SIGNING, b, 1_700_000_000), b),
    ],
)
def test_gitlab_signature_rejections(mutate) -> None:
    verifier = Verifier(gitlab_signing_keys=(b"k" * 32,), clock=lambda: 1_700_000_000)
    body = b'{"object_kind":"note"}'
    headers, body = mutate(_signed_headers(SIGNING, body, 1_700_000_000), body)
    with pytest.raises(VerificationError):
        verifier.verify("gitlab", headers, body)


def test_signing_only_requires_a_signature() -> None:
    verifier = Verifier(gitlab_signing_keys=(b"k" * 32,))
    with pytest.raises(VerificationError):
        verifier.verify("gitlab", {"x-gitlab-token": "whatever"}, b"{}")


def test_unconfigured_forge_is_refused_unless_insecure() -> None:
    with pytest.raises(VerificationError):
        Verifier(github_secrets=(b"s" * 30,)).verify("gitlab", {}, b"{}")
    assert Verifier(insecure=True).verify("gitlab", {}, b"{}") == "insecure"


def test_settings_without_any_secret_refuse_to_start(data_dir) -> None:
    with pytest.raises(SettingsError):
        Verifier.from_settings(load_settings())
    verifier = Verifier.from_settings(load_settings(insecure_no_webhook_secret=True))
    assert any("WITHOUT verification" in w for w in verifier.warnings())


def test_weak_secret_warns_without_revealing_it(data_dir) -> None:
    verifier = Verifier.from_settings(load_settings(github_webhook_secret="short,also-short"))
    warnings = verifier.warnings()
    assert sum("shorter than 24" in w for w in warnings) == 2
    assert not any("short" in w.split("shorter")[0] for w in warnings)
    assert not any("also-short" in w for w in warnings)


def test_bad_signing_token_is_a_settings_error(data_dir) -> None:
    with pytest.raises(SettingsError):
        Verifier.from_settings(load_settings(gitlab_signing_token="whsec_not base64!"))


def test_messages_never_contain_secrets() -> None:
    secret = "s3cr3t-value-that-must-not-leak-xyz"
    verifier = Verifier(github_secrets=(secret.encode(),), gitlab_tokens=(secret.encode(),))
    with pytest.raises(VerificationError) as gh:
        verifier.verify("github", {"x-hub-signature-256": "sha256=" + "0" * 64}, b"{}")
    with pytest.raises(VerificationError) as gl:
        verifier.verify("gitlab", {"x-gitlab-token": secret + "x"}, b"{}")
    for exc in (gh.value, gl.value):
        assert secret not in str(exc)
