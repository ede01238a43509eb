#!/usr/bin/env bash
# The README's commands on a "fresh machine": a clean clone, `npm ci`, then
# `npm test` with PATH holding only Node.js, npm, git and a few coreutils, so
# every suite that needs a system tool (OpenSSL, strace, SoftHSM2, OpenBao,
# setpriv, promtool) must skip, and the run must still pass and say what it skipped.
#
# Usage: scripts/fresh-machine-check.sh [repo]   (default: this checkout's HEAD)
# WCA_FRESH_REUSE_MODULES=1 hard-links this checkout's node_modules instead of
# running `npm ci` (no network; for a quick local run).
set -euo pipefail
src="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/wca-fresh-XXXXXX")"
trap 'rm -rf "$work"' EXIT

git clone -q "$src" "$work/repo"
cd "$work/repo"
if [ "${WCA_FRESH_REUSE_MODULES:-}" = 1 ]; then
  cp -al "$src/node_modules" node_modules
else
  npm ci --no-audit --no-fund --prefer-offline >/dev/null
fi

# Only what a machine with Node.js and npm has (sed is Essential on Debian); nothing a tool-gated suite needs.
bin="$work/bin"
mkdir "$bin"
for b in node npm npx git sh env cat ls rm mkdir chmod id uname sed; do
  p="$(command -v "$b")" || { echo "fresh-machine-check: $b not found" >&2; exit 1; }
  ln -s "$(readlink -f "$p")" "$bin/$b"
done

log="$work/test.log"
start=$(date +%s)
set +e
env -u CI -u WCA_BAO PATH="$bin" npm test >"$log" 2>&1
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))

summary="$(grep -m1 'suites that need these tools are skipped' "$log" || true)"
echo "${summary:-<no skip summary line>}"
tail -n 8 "$log"
echo "fresh-machine-check: npm test exit $rc in ${elapsed}s"
if [ "$rc" -ne 0 ]; then
  echo "fresh-machine-check: FAIL: npm test failed on a fresh machine (log above)" >&2
  grep -E 'FAIL|Error' "$log" | head -n 40 >&2
  exit 1
fi
for tool in openssl strace softhsm2-util pkcs11-tool bao setpriv promtool; do
  case "$summary" in
    *"$tool ("*) ;;
    *) echo "fresh-machine-check: FAIL: the skip summary does not name $tool: ${summary:-<no summary line>}" >&2; exit 1 ;;
  esac
done
echo "fresh-machine-check: OK: $summary"
