"""Lints, renders and validates the Helm chart; run by scripts/helm.sh in its venv.

For the default values and each values file given: `helm lint --strict`
(Helm v4's Go SDK through helm-python-sdk) for every Kubernetes version
asked for, then `helm template` (the same SDK, offline), then every rendered
manifest is validated:

- Kubernetes kinds with kubernetes-validate's strict schemas (Kubernetes'
  own OpenAPI, unknown fields rejected) for each version;
- the prometheus-operator kinds (ServiceMonitor, PrometheusRule) against the
  operator's CRD schemas, as generated into pydantic models by the pinned
  cloudcoil-models-prometheus-operator; a field the CRD does not know is
  rejected too, as `kubectl apply --validate=strict` would;
- any other kind fails the run: nothing goes unvalidated.

The rendered config.toml must have exactly the keys of config/default.toml
(the keys the service accepts; it refuses unknown ones at start), and with
--binary the service itself must accept it: `topics --check` with the
chart's environment and stand-ins for the mounted secrets must get as far as
connecting to Kafka (an address where none listens), past every config check.

Then the negative checks: values the chart must refuse (values.schema.json,
the replicas-versus-partitions rule) and manifests the validators must
refuse, so that a validator that passes everything fails the run.

Exit status 0 only if everything passed; every failure is printed.
"""

from __future__ import annotations

import argparse
import copy
import os
import secrets
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate.utils as kv
import pydantic
import yaml
from cloudcoil.models.prometheus_operator import v1 as monitoring

RELEASE = "hotlist-matcher"
NAMESPACE = "alpr"
CRD_MODELS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): monitoring.ServiceMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): monitoring.PrometheusRule,
}
# Keys of a [[dispatch.webhooks]] table (src/config_dispatch.rs, RawWebhook);
# default.toml shows them only in a comment.
WEBHOOK_KEYS = {"name", "url", "secret_env", "secret_file", "ca_file", "lists", "categories", "max_priority"}
# Tables whose keys are free: librdkafka properties and list ids.
FREE_TABLES = {"kafka.properties", "matching.lists"}

failures: list[str] = []


def fail(message: str) -> None:
    failures.append(message)
    print(f"FAIL {message}")


def load_values(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    return yaml.safe_load(path.read_text())


def lint(chart: Path, values: dict[str, Any] | None, label: str, versions: list[str]) -> None:
    for version in versions:
        report = helm.lint(chart, values, strict=True, namespace=NAMESPACE, kube_version=f"v{version}")
        problems = [m for m in report["messages"] if m["severity"] >= 2] + [
            {"severity": 3, "path": "", "error": e} for e in report["errors"]
        ]
        for message in report["messages"]:
            kind = {1: "INFO", 2: "WARNING", 3: "ERROR"}.get(message["severity"], "UNKNOWN")
            print(f"  lint {label} (Kubernetes {version}): {kind} {message['path']}: {message['error']}")
        if problems:
            fail(f"helm lint --strict {label} (Kubernetes {version}): {len(problems)} problem(s)")
        else:
            print(f"ok   helm lint --strict {label} (Kubernetes {version}): no warning, no error")


def render(chart: Path, values: dict[str, Any] | None) -> dict[str, str]:
    with helm.Chart.load(chart) as loaded:
        return loaded.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def unknown_fields(given: Any, known: Any, path: str = "") -> list[str]:
    """Paths present in `given` but dropped by the model (so not in the CRD)."""
    if isinstance(given, dict):
        if not isinstance(known, dict):
            return [path or "."]
        found = []
        for key, value in given.items():
            if key not in known:
                found.append(f"{path}.{key}" if path else key)
            else:
                found += unknown_fields(value, known[key], f"{path}.{key}" if path else key)
        return found
    if isinstance(given, list) and isinstance(known, list):
        return [p for i, (g, k) in enumerate(zip(given, known)) for p in unknown_fields(g, k, f"{path}[{i}]")]
    return []


def validate_crd(doc: dict[str, Any]) -> str | None:
    """None if `doc` is valid for its CRD, else why not."""
    model = CRD_MODELS[(doc["apiVersion"], doc["kind"])]
    try:
        parsed = model.model_validate(doc)
    except pydantic.ValidationError as e:
        return str(e).replace("\n", "; ")
    dumped = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
    unknown = unknown_fields(doc, dumped)
    if unknown:
        return "fields the CRD does not define: " + ", ".join(unknown)
    return None


def validate_doc(doc: dict[str, Any], version: str) -> str | None:
    """None if the manifest is valid for Kubernetes `version`, else why not."""
    if (doc.get("apiVersion"), doc.get("kind")) in CRD_MODELS:
        return validate_crd(doc)
    try:
        kv.validate(doc, version, strict=True)
    except kv.ValidationError as e:
        return f"{'.'.join(str(p) for p in e.path)}: {e.message}"
    except kv.SchemaNotFoundError as e:
        return e.message
    return None


def check_config(text: str, label: str, default_toml: Path) -> None:
    def keys(table: dict[str, Any], prefix: str = "") -> set[str]:
        found = set()
        for key, value in table.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                found.add(name)
                if name not in FREE_TABLES:
                    found |= keys(value, name + ".")
            elif name == "dispatch.webhooks":
                for hook in value:
                    extra = set(hook) - WEBHOOK_KEYS
                    if extra:
                        fail(f"{label}: config.toml: unknown [[dispatch.webhooks]] key(s) {sorted(extra)}")
            else:
                found.add(name)
        return found

    try:
        rendered = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        fail(f"{label}: config.toml is not TOML: {e}")
        return
    accepted = keys(tomllib.loads(default_toml.read_text()))
    got = keys(rendered)
    if got - accepted:
        fail(f"{label}: config.toml has keys the service does not accept: {sorted(got - accepted)}")
    if accepted - got:
        fail(f"{label}: config.toml lacks keys of config/default.toml: {sorted(accepted - got)}")
    if not (got - accepted) and not (accepted - got):
        print(f"ok   {label}: config.toml has exactly the keys of config/default.toml ({len(got)})")


def service_accepts(binary: Path, config: str) -> tuple[bool, str]:
    """Whether the service loads `config` with the chart's environment, and its last line."""
    secret_dir = "/var/run/secrets/hotlist/"
    with tempfile.TemporaryDirectory() as tmp:
        for name in ["service-key", "master-key"] + [
            f"webhook-{hook['name']}" for hook in tomllib.loads(config).get("dispatch", {}).get("webhooks", [])
        ]:
            Path(tmp, name).write_text(secrets.token_hex(32))
        Path(tmp, "config.toml").write_text(config.replace(secret_dir, tmp + "/"))
        Path(tmp, "hotlist.csv").write_text("entry_id,list_id,plate,category\n")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOTLIST_CONFIG": f"{tmp}/config.toml",
            "HOTLIST_HOTLIST_PATH": f"{tmp}/hotlist.csv",
            "HOTLIST_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "HOTLIST_GROUP_ID": "hotlist-matcher",
            "HOTLIST_INSTANCE_ID": "hotlist-matcher-5d8c7b9f4-x2x7q",
            "HOTLIST_SERVICE_KEY_FILE": f"{tmp}/service-key",
            "HOTLIST_MASTER_KEY_FILE": f"{tmp}/master-key",
        }
        run = subprocess.run(
            [str(binary), "topics", "--check"], env=env, capture_output=True, text=True, timeout=60
        )
    last = (run.stderr.strip().splitlines() or [""])[-1]
    return "cannot reach Kafka at 127.0.0.1:1" in last, f"exit {run.returncode}: {last}"


def check_with_service(binary: Path, config: str, label: str) -> None:
    accepted, last = service_accepts(binary, config)
    if accepted:
        print(f"ok   {label}: the service accepts config.toml (topics --check got as far as Kafka)")
    else:
        fail(f"{label}: the service refused config.toml: {last}")


def check_release(
    chart: Path,
    values_file: Path | None,
    versions: list[str],
    out: Path,
    default_toml: Path,
    binary: Path | None,
) -> None:
    label = values_file.name if values_file else "default values"
    values = load_values(values_file)
    lint(chart, values, label, versions)
    try:
        manifests = render(chart, values)
    except helm.HelmError as e:
        fail(f"helm template {label}: {e}")
        return
    notes = manifests.pop(f"{chart.name}/templates/NOTES.txt", "")
    if not notes.strip():
        fail(f"{label}: NOTES.txt rendered empty")
    docs = []
    for name, text in sorted(manifests.items()):
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append((name, doc))
    stem = values_file.stem if values_file else "default"
    (out / f"{stem}.yaml").write_text(
        "".join(f"---\n# Source: {name}\n{yaml.safe_dump(doc, sort_keys=False)}" for name, doc in docs)
    )
    kinds = sorted({d["kind"] for _, d in docs})
    print(f"ok   helm template {label}: {len(docs)} manifests ({', '.join(kinds)}), written to {out / (stem + '.yaml')}")
    for version in versions:
        bad = 0
        for name, doc in docs:
            why = validate_doc(doc, version)
            if why:
                bad += 1
                fail(f"{label}: {doc['kind']}/{doc['metadata']['name']} ({name}) is not valid for Kubernetes {version}: {why}")
        if not bad:
            print(f"ok   {label}: all {len(docs)} manifests valid for Kubernetes {version} (strict)")
    for _, doc in docs:
        if doc["kind"] == "ConfigMap" and "config.toml" in doc.get("data", {}):
            check_config(doc["data"]["config.toml"], f"{label} ConfigMap {doc['metadata']['name']}", default_toml)
            if binary and doc["metadata"]["name"] == f"{RELEASE}-config":
                check_with_service(binary, doc["data"]["config.toml"], f"{label} ConfigMap {doc['metadata']['name']}")


def expect_refused(chart: Path, values: dict[str, Any], what: str) -> None:
    try:
        render(chart, values)
    except helm.HelmError as e:
        print(f"ok   refused as it should be: {what}: {str(e).splitlines()[-1][:200]}")
        return
    fail(f"the chart rendered values it must refuse: {what}")


def negative_checks(chart: Path, production: Path | None, version: str, binary: Path | None) -> None:
    base = load_values(production) or {}

    def with_(**changes: Any) -> dict[str, Any]:
        values = copy.deepcopy(base)
        for dotted, value in changes.items():
            node = values
            *parents, last = dotted.split("__")
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = value
        return values

    expect_refused(chart, with_(replicaCount=0), "replicaCount: 0 (values.schema.json)")
    expect_refused(chart, with_(replicaCount="3"), 'replicaCount: "3" (values.schema.json: a number)')
    expect_refused(chart, with_(replicaCount=100), "replicaCount: 100, more than the reads topic's partitions")
    expect_refused(chart, with_(kafka__properties={"sasl.password": "x"}), "a password in kafka.properties")
    expect_refused(chart, with_(hotlist={"secretName": "hotlist"}), "a hotlist value (no hotlist in a Secret)")
    expect_refused(chart, with_(config="[kafka\n"), "a config that is not TOML")

    manifests = render(chart, base or None)
    docs = [
        d
        for name, text in manifests.items()
        if name.endswith(".yaml")
        for d in yaml.safe_load_all(text)
        if isinstance(d, dict)
    ]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["replicas"] = "three"
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesytem"] = True
    cases = [(broken, "a Deployment with replicas: three"), (typo, "a Deployment with a misspelt field")]
    for kind, mutate, what in [
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(interval="30 seconds"), "a ServiceMonitor interval that is not a duration"),
        ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(prot="admin"), "a ServiceMonitor with a misspelt field"),
        ("PrometheusRule", lambda d: d["spec"]["groups"][0].pop("name"), "a PrometheusRule group without a name"),
    ]:
        doc = next((copy.deepcopy(d) for d in docs if d["kind"] == kind), None)
        if doc is None:
            fail(f"negative checks: no {kind} rendered from {production}")
            continue
        mutate(doc)
        cases.append((doc, what))
    if binary:
        config = next(d for d in docs if d["metadata"]["name"] == f"{RELEASE}-config")["data"]["config.toml"]
        accepted, last = service_accepts(binary, config.replace("retention_days = 30", "retention_days = 31"))
        if accepted:
            fail("the service accepted a config keeping ALPR data 31 days: the service check checks nothing")
        else:
            print(f"ok   refused by the service as it should be: retention_days = 31: {last[:160]}")
    for doc, what in cases:
        why = validate_doc(doc, version)
        if why:
            print(f"ok   invalid as it should be: {what}: {why[:160]}")
        else:
            fail(f"the validators passed a manifest they must refuse: {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", type=Path, required=True)
    parser.add_argument("--values", type=Path, action="append", default=[], help="values file (default values always run)")
    parser.add_argument("--kube-version", action="append", required=True, help="e.g. 1.37.0")
    parser.add_argument("--default-toml", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory for the rendered manifests")
    parser.add_argument("--binary", type=Path, help="hotlist-matcher binary to load each rendered config")
    args = parser.parse_args()
    supported = kv.all_versions()
    for version in args.kube_version:
        if kv.major_minor(version) not in {kv.major_minor(v) for v in supported}:
            print(f"FAIL kubernetes-validate has no schemas for Kubernetes {version} (it has {supported[0]} to {supported[-1]})")
            return 1
    print(f"Helm SDK {helm.helm_sdk_version()}, kubernetes-validate schemas {supported[0]} to {supported[-1]}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.binary is None:
        print("note: no --binary: the rendered configs are not loaded by the service")
    for values_file in [None, *args.values]:
        check_release(args.chart, values_file, args.kube_version, args.out, args.default_toml, args.binary)
    negative_checks(args.chart, args.values[0] if args.values else None, args.kube_version[0], args.binary)
    if failures:
        print(f"\n{len(failures)} check(s) failed:")
        for message in failures:
            print(f"  {message}")
        return 1
    print("\nthe chart lints, renders and validates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
