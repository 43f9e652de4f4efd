#!/usr/bin/env bash
# Debian packages Velocitas needs beside PyPI: Qt's runtime libraries (even offscreen) and a
# font for the window; Node and npm to build the browser view (web/), when `node` is absent;
# with --test, Debian's chromium, which the browser tests drive (no browser is downloaded).
# Installs only what is missing, and only where apt-get can run as root; elsewhere it says
# what to install.
#
#   scripts/system-deps.sh          the window's libraries, Node and npm (make app)
#   scripts/system-deps.sh --test   the same and chromium (make test)
set -euo pipefail
with_browser=0
for arg in "$@"; do
  case "$arg" in
    --test) with_browser=1 ;;
    *) echo "system-deps: unknown option $arg (use --test)" >&2; exit 2 ;;
  esac
done

packages=(libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
          libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0
          libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from elsewhere (NodeSource, nvm): only a missing command asks for Debian's
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "$with_browser" -eq 1 ] && ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi

check_node() {
  # the browser view's build tools (Vite 8) need Node 20.19 or later (web/package.json)
  command -v node >/dev/null 2>&1 || return 0
  if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
                process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
    echo "system-deps: Node $(node --version) is too old to build the browser view (it" \
         "needs 20.19 or later): make fetches Node 20 into .venv/node (scripts/node.sh)" >&2
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  check_node
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not a Debian system; install the equivalents of: ${missing[*]}" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: run as root (or install): ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
check_node
