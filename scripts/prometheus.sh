#!/usr/bin/env bash
# Prometheus and promtool for the metrics tests, from Debian's `prometheus`
# package (the binaries only: the tests start their own server on a random
# port with a temporary storage dir; the package's own service is not used).
#
#   scripts/prometheus.sh install   installs the package when promtool or
#                                   prometheus is missing from PATH
set -euo pipefail

case "${1:-install}" in
  install)
    if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
      exit 0
    fi
    echo "installing Debian's prometheus package (promtool, prometheus) for the metrics tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    # The package's maintainer scripts may try to start a service: no init
    # system here, and none is wanted; policy-rc.d refuses it.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    command -v promtool >/dev/null && command -v prometheus >/dev/null
    ;;
  *)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
