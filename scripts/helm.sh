#!/usr/bin/env bash
# Lints and renders the Helm chart (helm/hotlist-matcher) with real Helm and
# validates every rendered manifest; no cluster is needed.
#
# The tools are PyPI packages, pinned in scripts/helm-requirements.txt, in a
# venv cached under ${XDG_CACHE_HOME:-$HOME/.cache}/hotlist-matcher/helm-venv
# (made again when the requirements change):
#   helm-python-sdk       Helm v4's Go SDK as a shared library: lint, template
#   kubernetes-validate   Kubernetes' OpenAPI schemas, strict (unknown fields refused)
#   cloudcoil-models-prometheus-operator
#                         the ServiceMonitor and PrometheusRule CRD schemas
# scripts/helm_check.py does the work: `helm lint --strict` and `helm
# template` with the default values and with the production-like
# helm/hotlist-matcher/ci/production-values.yaml, every manifest validated
# against each Kubernetes version in HOTLIST_K8S_VERSIONS (default 1.37.0, the
# newest kubernetes-validate knows, and 1.33.0), the rendered config.toml
# checked against config/default.toml's keys and, when the binary is built
# (target/debug/hotlist-matcher, or HOTLIST_BIN; scripts/test.sh builds it
# first), loaded by the service itself (`topics --check` must get as far as
# connecting to Kafka; about 8 s each), then values and manifests that
# must be refused (replicaCount: 0 among them). Exit status non-zero on any
# lint problem, invalid manifest or negative check that passed.
# The rendered manifests are left in target/helm/.
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=scripts/helm-requirements.txt
venv="${XDG_CACHE_HOME:-$HOME/.cache}/hotlist-matcher/helm-venv"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "scripts/helm.sh needs Python 3.11 or later (tomllib); found $(python3 --version)" >&2
  exit 1
fi

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # Debian's python3 makes venvs only with python3-venv (ensurepip).
  if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "installing python3-venv for the chart's tools" >&2
    apt-get update -qq && apt-get install -y -qq python3-venv
  fi
  echo "making $venv (helm-python-sdk, kubernetes-validate, prometheus-operator CRD models)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$requirements"
  "$venv/bin/python" -m pip check
  echo "$want" >"$stamp"
fi

versions=()
for version in ${HOTLIST_K8S_VERSIONS:-1.37.0 1.33.0}; do
  versions+=(--kube-version "$version")
done

binary=()
if [ -x "${HOTLIST_BIN:-target/debug/hotlist-matcher}" ]; then
  binary=(--binary "${HOTLIST_BIN:-target/debug/hotlist-matcher}")
fi

"$venv/bin/python" scripts/helm_check.py \
  --chart helm/hotlist-matcher \
  --values helm/hotlist-matcher/ci/production-values.yaml \
  --default-toml config/default.toml \
  --out target/helm \
  "${versions[@]}" "${binary[@]}"
