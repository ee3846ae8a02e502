#!/usr/bin/env bash
# What the tests need beyond npm: Debian's chromium (browser tests), prometheus (remote-write
# interoperability), prometheus-alertmanager (amtool against the v2 API) and zookeeper (the
# leader lease across separate processes, test/cluster-zookeeper.test.ts). Installed with
# apt-get when missing and running as root; otherwise explained.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ -x /usr/share/zookeeper/bin/zkServer.sh ] || need+=(zookeeper)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing test dependencies: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "the tests need Debian packages: ${need[*]} (sudo apt-get install -y ${need[*]})" >&2
  exit 1
fi
