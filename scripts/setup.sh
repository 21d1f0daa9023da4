#!/usr/bin/env bash
# Installs what lambdoctor's tests need on a fresh Debian machine: Go modules,
# and Debian's docker.io for the real-daemon tests (they start their own
# private dockerd and stop it), docker-registry and apache2-utils for the
# registry authentication test (it starts its own registry with htpasswd
# and stops it), and busybox-static for the sandbox tests of
# `lambdoctor run` (a static /bin/busybox they copy into test images), with
# uidmap (newuidmap/newgidmap) for its unprivileged path, pre-commit and
# ShellCheck for the tests of .pre-commit-hooks.yaml and action.yml, npm to
# install Microsoft's SARIF Multitool (the SARIF validation test), and
# debootstrap and python3 to build the real-shaped test images (make
# realimages). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
  echo "setup: Go is not installed (need Go $(sed -n 's/^go //p' go.mod) or newer)" >&2
  exit 1
fi
go mod download
# The test function of `lambdoctor run` has its own module.
(cd cmd/testdata/gofn && go mod download)

# The Debian packages the tests need and this machine lacks are collected
# first, then installed with one apt-get update and one apt-get install.
can_apt=false
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  can_apt=true
fi
packages=()
# need WHY SKIPPED PACKAGE...: the packages are wanted for WHY; without
# root and apt-get, say that SKIPPED.
need() {
  local why=$1 skipped=$2
  shift 2
  if $can_apt; then
    echo "setup: installing Debian's $* $why"
    packages+=("$@")
  else
    echo "setup: cannot install $* (need root and apt-get); $skipped" >&2
  fi
}

command -v dockerd >/dev/null 2>&1 ||
  need "for the daemon tests" "daemon tests will be skipped" docker.io
dpkg -s busybox-static uidmap >/dev/null 2>&1 ||
  need "for the sandbox tests" "sandbox tests will be skipped" busybox-static uidmap
{ command -v docker-registry >/dev/null 2>&1 && command -v htpasswd >/dev/null 2>&1; } ||
  need "(htpasswd) for the registry authentication tests" "the real-registry test will be skipped" docker-registry apache2-utils
command -v xmllint >/dev/null 2>&1 ||
  need "(xmllint) to validate the JUnit reports" "the JUnit schema test will be skipped" libxml2-utils
{ command -v pre-commit >/dev/null 2>&1 && command -v shellcheck >/dev/null 2>&1; } ||
  need "(pre-commit try-repo of .pre-commit-hooks.yaml; actionlint runs shellcheck on the action's scripts)" "the pre-commit and actionlint tests will be skipped" pre-commit shellcheck
{ command -v debootstrap >/dev/null 2>&1 && [ -x /usr/bin/python3.11 ]; } ||
  need "for the real-shaped test images" "the real-shaped image tests will be skipped" debootstrap python3

# Microsoft's SARIF Multitool validates the SARIF goldens with GitHub's rules
# (report/sarif_multitool_test.go). npm ships it as a self-contained
# linux-x64 program; it is installed under build/, once.
multitool=build/sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
if [ ! -x "$multitool" ] && [ "$(uname -sm)" = "Linux x86_64" ] && ! command -v npm >/dev/null 2>&1 && $can_apt; then
  need "to install the SARIF Multitool" "" npm
fi

if [ ${#packages[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
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

# The function of the debian-go real-shaped image has its own module.
(cd internal/realimage/testdata/fn && go mod download)
