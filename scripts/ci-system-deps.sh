#!/usr/bin/env bash
# System packages the tests need (Debian/Ubuntu), installed before `make install`.
#   dovecot-sieve: `sieve-test` (Pigeonhole), the reference for tests/security/test_sieve_differential.py.
#   nodejs: `node`, which aws-cdk-lib (jsii) runs on for tests/test_cdk.py and test_deploy_parity.py.
#   swaks: the SMTP test tool operators use, a real client for tests/test_serve_clients.py.
# Idempotent: does nothing when every tool is already on PATH.
set -euo pipefail

PACKAGES=(dovecot-sieve swaks nodejs)
TOOLS=(sieve-test swaks node)

missing=0
for tool in "${TOOLS[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing=1
done
[ "$missing" -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ci-system-deps: apt-get not found; install ${PACKAGES[*]} by hand" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "ci-system-deps: need root or sudo to install ${PACKAGES[*]}" >&2; exit 1; }
  SUDO=(sudo -n)
fi

export DEBIAN_FRONTEND=noninteractive
${SUDO[@]+"${SUDO[@]}"} apt-get update -q
# The package's postinst tries to start dovecot; in a container policy-rc.d refuses, which is fine.
${SUDO[@]+"${SUDO[@]}"} apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

for tool in "${TOOLS[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "ci-system-deps: $tool still missing after install" >&2; exit 1; }
done
