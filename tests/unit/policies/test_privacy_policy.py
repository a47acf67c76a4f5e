"""Privacy policy: a table of work descriptions and the verdict each gets."""

from __future__ import annotations

import pytest

from bot.errors import PrivacyViolation
from bot.repoconfig.models import ModelsConfig, PrivacyConfig, RouteConfig
from policies.privacy import NOT_SENSITIVE, Sensitivity, allowed_routes, classify

CFG = PrivacyConfig(
    sensitive_labels=["sensitive", "Confidential"],
    sensitive_repos=["acme/secret-*"],
    sensitive_paths=["secrets/", "*.pem", "config/prod/*.yaml"],
)


@pytest.mark.parametrize(
    ("repo", "labels", "paths", "sensitive"),
    [
        ("acme/app", [], [], False),
        ("acme/app", ["bug"], ["src/main.py"], False),
        ("acme/app", ["SENSITIVE"], [], True),
        ("acme/app", ["confidential"], [], True),
        ("Acme/Secret-Vault", [], [], True),
        ("acme/secretive", [], [], False),
        ("acme/app", [], ["secrets/db.txt"], True),
        ("acme/app", [], ["/secrets/db.txt"], True),
        ("acme/app", [], ["not-secrets/db.txt"], False),
        ("acme/app", [], ["deploy/tls/key.pem"], True),
        ("acme/app", [], ["config/prod/db.yaml"], True),
        ("acme/app", [], ["config/dev/db.yaml"], False),
        (None, [], [], False),
    ],
)
def test_classify(repo, labels, paths, sensitive):
    verdict = classify(CFG, repo=repo, labels=labels, paths=paths)
    assert verdict.sensitive is sensitive
    assert bool(verdict.reasons) is sensitive


def test_all_sensitive():
    assert classify(PrivacyConfig(all_sensitive=True)).sensitive


def test_allowed_routes():
    m = ModelsConfig()
    cloud = RouteConfig(provider="anthropic", model="claude-sonnet-4-5")
    local = RouteConfig(provider="ollama", model="llama3.1")
    assert allowed_routes(NOT_SENSITIVE, [cloud, local], m.providers, role="qa") == [cloud, local]
    secret = Sensitivity(True, ("label 'sensitive'",))
    assert allowed_routes(secret, [cloud, local], m.providers, role="qa") == [local]
    with pytest.raises(PrivacyViolation):
        allowed_routes(secret, [cloud], m.providers, role="qa")
    with pytest.raises(PrivacyViolation):
        allowed_routes(secret, [], m.providers, role="qa")
