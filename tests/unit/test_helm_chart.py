"""deploy/helm/agentforge without helm or a cluster: what can be checked from the text.

``helm`` is not installable here (no Debian or PyPI package ships it), so the chart is
checked structurally: Chart.yaml is a valid v2 chart for this version; every
``.Values.*`` a template uses exists in values.yaml; every ``include`` names a defined
helper; ``if``/``range``/``with``/``define`` blocks are balanced; and each manifest's
YAML skeleton (the text with template actions removed or replaced by a placeholder)
parses and has the properties the deployment guide promises: one replica, Recreate,
probes on /healthz and /readyz, the data volume at AGENTFORGE_DATA_DIR, secrets only by
reference, a non-root read-only container. This does not prove that helm renders the
chart; docs/deploying.md says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import bot

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "agentforge"
TEMPLATES = CHART / "templates"
MANIFESTS = sorted(TEMPLATES.glob("*.yaml"))

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_VALUES_REF = re.compile(r"(?:\$|\B)\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
_OPENERS = ("if", "range", "with", "define", "block")


def _values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))


def _template_texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(TEMPLATES.iterdir())}


def test_chart_yaml_is_a_v2_chart_of_this_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == CHART.name
    assert chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?", chart["version"])
    assert chart["appVersion"] == bot.__version__


def test_every_values_reference_exists_in_values_yaml() -> None:
    values = _values()
    missing = []
    for name, text in _template_texts().items():
        for action in _ACTION.findall(text):
            for ref in _VALUES_REF.findall(action):
                node: Any = values
                for part in ref.strip(".").split("."):
                    if not isinstance(node, dict) or part not in node:
                        missing.append(f"{name}: .Values{ref}")
                        break
                    node = node[part]
    assert not missing, missing


def _keys(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [k for key, value in node.items() for k in (str(key), *_keys(value))]
    if isinstance(node, list):
        return [k for item in node for k in _keys(item)]
    return []


def test_no_replica_count_can_be_set() -> None:
    assert not [k for k in _keys(_values()) if "replica" in k.lower()]
    for name, text in _template_texts().items():
        assert not re.search(r"\.Values\.\w*[Rr]eplica", text), name


def test_includes_name_defined_helpers_and_blocks_balance() -> None:
    texts = _template_texts()
    defined = set(re.findall(r'define "([^"]+)"', texts["_helpers.tpl"]))
    for name, text in texts.items():
        for used in re.findall(r'include "([^"]+)"', text):
            assert used in defined, f"{name}: include {used!r} is not defined"
        depth = 0
        for action in _ACTION.findall(text):
            word = action.split(maxsplit=1)[0] if action.split() else ""
            if word in _OPENERS:
                depth += 1
            elif word == "end":
                depth -= 1
                assert depth >= 0, f"{name}: 'end' without an open block"
        assert depth == 0, f"{name}: {depth} block(s) never closed"


def _skeleton(text: str) -> list[dict[str, Any]]:
    """The manifest with control lines dropped and inline actions replaced by a word."""
    kept = []
    for line in text.splitlines():
        stripped = _ACTION.sub("", line).strip()
        if not stripped and "{{" in line:
            continue  # a line that is only template actions (if/end/include | nindent)
        kept.append(_ACTION.sub("X", line))
    return [doc for doc in yaml.safe_load_all("\n".join(kept)) if doc]


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_manifest_skeleton_is_yaml_with_kind_and_labels(manifest: Path) -> None:
    docs = _skeleton(manifest.read_text(encoding="utf-8"))
    assert len(docs) == 1
    assert docs[0]["apiVersion"] and docs[0]["kind"]
    assert "labels" in docs[0]["metadata"]


def _deployment() -> dict[str, Any]:
    (doc,) = _skeleton((TEMPLATES / "deployment.yaml").read_text(encoding="utf-8"))
    return doc


def test_deployment_runs_one_writer_with_probes_and_the_data_volume() -> None:
    spec = _deployment()["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    server = (ROOT / "bot" / "intake" / "server.py").read_text(encoding="utf-8")
    assert '@app.get("/healthz")' in server and '@app.get("/readyz")' in server
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert env["AGENTFORGE_DATA_DIR"] == mounts["data"]
    assert mounts["tmp"] == "/tmp"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "persistentVolumeClaim" in volumes["data"]
    assert "emptyDir" in volumes["tmp"]
    assert container["envFrom"] == [{"secretRef": {"name": "X"}}]
    assert container["args"][:2] == ["agentforge", "serve"]


def test_secrets_are_only_referenced_never_templated_from_values() -> None:
    assert not list(TEMPLATES.glob("secret*.yaml"))
    text = (TEMPLATES / "deployment.yaml").read_text(encoding="utf-8")
    assert 'required "existingSecret is required' in text
    for name in ("TOKEN", "SECRET", "API_KEY"):
        assert not any(name in key for key in _values()["env"]), name


def test_container_is_non_root_read_only_as_the_image_user() -> None:
    values = _values()
    uid = int(re.search(r"--uid (\d+)", (ROOT / "deploy" / "Dockerfile").read_text()).group(1))
    pod, container = values["podSecurityContext"], values["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == uid
    assert pod["fsGroup"] == pod["runAsGroup"]
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]


def test_skeleton_check_catches_broken_indentation() -> None:
    broken = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n labels: {}\n"
    with pytest.raises(yaml.YAMLError):
        _skeleton(broken)


def test_service_monitor_is_off_by_default_and_scrapes_the_services_metrics_port() -> None:
    values = _values()["serviceMonitor"]
    assert values["enabled"] is False
    text = (TEMPLATES / "servicemonitor.yaml").read_text(encoding="utf-8")
    # The whole manifest sits inside the toggle: nothing renders while it is off.
    first, *_, last = [line for line in text.splitlines() if line.strip()]
    assert first == "{{- if .Values.serviceMonitor.enabled }}" and last == "{{- end }}"
    (monitor,) = _skeleton(text)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["kind"] == "ServiceMonitor"
    (endpoint,) = monitor["spec"]["endpoints"]
    (service,) = _skeleton((TEMPLATES / "service.yaml").read_text(encoding="utf-8"))
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    server = (ROOT / "bot" / "intake" / "server.py").read_text(encoding="utf-8")
    assert '@app.get("/metrics")' in server
    # It selects the Service by the same labels the Service selects its pod by.
    assert 'include "agentforge.selectorLabels"' in text.split("matchLabels:")[1]
    assert re.fullmatch(r"\d+[smh]", values["interval"])
    assert re.fullmatch(r"\d+[smh]", values["scrapeTimeout"])
