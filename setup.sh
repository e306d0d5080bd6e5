#!/usr/bin/env bash
# Sets up drafter on a fresh Debian/Ubuntu machine, then runs one task:
#   ./setup.sh demo   render the example letters into out/ (DOCX and PDF), and merge the
#                     campaign example into out/campaign/ (a letter per official, combined.pdf)
#   ./setup.sh test   lint, type-check and run the test suite
#   ./setup.sh        only set up
# Installs what is missing and nothing else: LibreOffice Writer and its Python bridge, fonts,
# poppler-utils and Chromium (for the studio's browser tests) through apt (with sudo when not root), and a virtual environment
# in .venv with drafter in it.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(libreoffice-writer-nogui fonts-liberation fonts-crosextra-carlito
              fonts-crosextra-caladea fonts-noto-cjk fonts-noto-core poppler-utils python3-venv
              python3-uno chromium)  # uno: the studio's warm LibreOffice; chromium: its tests

missing_system_packages() {
  command -v soffice >/dev/null || return 0
  command -v pdftotext >/dev/null || return 0
  command -v pdftoppm >/dev/null || return 0
  # Read once, not piped into `grep -q`: with pipefail, fc-list killed by SIGPIPE when grep
  # stops at its first match would count as a missing font.
  local fonts
  fonts="$(fc-list : family 2>/dev/null || true)"
  for family in Carlito "Noto Sans CJK" "Noto Naskh Arabic" "Noto Sans Hebrew" \
                "Noto Sans Devanagari" "Noto Sans Thai"; do
    grep -q "$family" <<<"$fonts" || return 0
  done
  python3 -m venv --help >/dev/null 2>&1 || return 0
  /usr/bin/python3 -c "import uno" 2>/dev/null || return 0
  [ -x /usr/bin/chromium ] || return 0
  return 1
}

if missing_system_packages; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "==> installing system packages: ${APT_PACKAGES[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${APT_PACKAGES[@]}" >/dev/null
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "drafter needs Python 3.11 or newer; found $(python3 --version)" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
echo "==> installing drafter into .venv"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

case "${1:-}" in
  demo)
    for data in data/examples/letter-*.yaml; do
      .venv/bin/drafter render "$data" -o out
    done
    .venv/bin/drafter merge data/examples/campaign/case.yaml \
      data/examples/campaign/recipients.csv -o out/campaign --combine
    ;;
  test)
    .venv/bin/ruff check .
    .venv/bin/mypy
    .venv/bin/pytest "${@:2}"
    ;;
  "") ;;
  *) echo "usage: ./setup.sh [demo|test]" >&2; exit 2 ;;
esac
