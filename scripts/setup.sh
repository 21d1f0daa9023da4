#!/usr/bin/env bash
# Installs what lambdoctor's tests need on a fresh Debian machine: Go modules,
# and Debian's docker.io for the real-daemon tests (they start their own
# private dockerd and stop it), docker-registry and apache2-utils for the
# registry authentication test (it starts its own registry with htpasswd
# and stops it), and busybox-static for the sandbox tests of
# `lambdoctor run` (a static /bin/busybox they copy into test images), with
# uidmap (newuidmap/newgidmap) for its unprivileged path, pre-commit and
# shellcheck for the tests of .pre-commit-hooks.yaml and action.yml, npm to
# install Microsoft's SARIF Multitool (the SARIF validation test), and
# debootstrap and
# python3 to build the real-shaped test images (make realimages). Safe to run
# again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
  echo "setup: Go is not installed (need Go $(sed -n 's/^go //p' go.mod) or newer)" >&2
  exit 1
fi
go mod download
# The test function of `lambdoctor run` has its own module.
(cd cmd/testdata/gofn && go mod download)

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's docker.io for the daemon tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  else
    echo "setup: dockerd not found and cannot install it (need root and apt-get); daemon tests will be skipped" >&2
  fi
fi

if ! dpkg -s busybox-static uidmap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's busybox-static and uidmap for the sandbox tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static uidmap >/dev/null
  else
    echo "setup: /bin/busybox not found and cannot install busybox-static and uidmap (need root and apt-get); sandbox tests will be skipped" >&2
  fi
fi

if ! command -v docker-registry >/dev/null 2>&1 || ! command -v htpasswd >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's docker-registry and apache2-utils (htpasswd) for the registry authentication tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry apache2-utils >/dev/null
  else
    echo "setup: docker-registry or htpasswd not found and cannot install them (need root and apt-get); the real-registry test will be skipped" >&2
  fi
fi

if ! command -v xmllint >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's libxml2-utils (xmllint) to validate the JUnit reports"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils >/dev/null
  else
    echo "setup: xmllint not found and cannot install libxml2-utils (need root and apt-get); the JUnit schema test will be skipped" >&2
  fi
fi

# Microsoft's SARIF Multitool validates the SARIF goldens with GitHub's rules
# (report/sarif_multitool_test.go). npm ships it as a self-contained
# linux-x64 program; it is installed under build/, once.
multitool=build/sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
if [ ! -x "$multitool" ] && [ "$(uname -sm)" = "Linux x86_64" ] && ! command -v npm >/dev/null 2>&1 &&
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing Debian's npm to install the SARIF Multitool"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
fi
if [ ! -x "$multitool" ]; then
  if [ "$(uname -sm)" = "Linux x86_64" ] && command -v npm >/dev/null 2>&1; then
    echo "setup: installing Microsoft's SARIF Multitool (npm @microsoft/sarif-multitool) under build/ to validate the SARIF reports"
    npm install --silent --no-audit --no-fund --ignore-scripts --prefix build/sarif-multitool @microsoft/sarif-multitool@5.7.0 >/dev/null
    chmod u+x "$multitool"
  else
    echo "setup: cannot install the SARIF Multitool (needs npm, or root and apt-get to install it, on linux/amd64); the SARIF validation test will be skipped" >&2
  fi
fi

if ! command -v pre-commit >/dev/null 2>&1 || ! command -v shellcheck >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's pre-commit (pre-commit try-repo of .pre-commit-hooks.yaml) and shellcheck (actionlint runs it on the action's scripts)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pre-commit shellcheck >/dev/null
  else
    echo "setup: pre-commit or shellcheck not found and cannot install them (need root and apt-get); the pre-commit and actionlint tests will be skipped" >&2
  fi
fi

if ! command -v debootstrap >/dev/null 2>&1 || [ ! -x /usr/bin/python3.11 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's debootstrap and python3 for the real-shaped test images"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap python3 >/dev/null
  else
    echo "setup: debootstrap or /usr/bin/python3.11 not found and cannot install them (need root and apt-get); the real-shaped image tests will be skipped" >&2
  fi
fi
# The function of the debian-go real-shaped image has its own module.
(cd internal/realimage/testdata/fn && go mod download)
