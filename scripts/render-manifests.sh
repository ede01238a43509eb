#!/usr/bin/env bash
# Renders the Helm chart with its default values into the plain manifests under
# deploy/kubernetes/ (for `kubectl apply -f`). A test runs this into a temporary file
# and fails when the committed manifests differ: re-run it after changing the chart.
#   scripts/render-manifests.sh [output-file]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-deploy/kubernetes/workload-ca.yaml}"
helm="${WCA_HELM:-$(command -v helm || echo .tools/bin/helm)}"
{
  echo "# Rendered from deploy/helm/workload-ca with its default values by scripts/render-manifests.sh; do not edit."
  echo "# Namespace workload-ca: kubectl create namespace workload-ca && kubectl apply -f $(basename "$out")"
  "$helm" template workload-ca deploy/helm/workload-ca --namespace workload-ca
} > "$out"
