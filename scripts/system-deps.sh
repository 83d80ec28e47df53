#!/usr/bin/env bash
# Distribution packages the test suite needs: Chromium (browser tests, driven by Playwright
# with executable_path pointing at it), PostgreSQL (the production database), CJK fonts,
# Java for the Spark engine (PySpark local mode), LibreOffice + poppler to turn the
# bulletin into a PDF and its first page into an image, and GNU gettext (makemessages checks
# that the Chinese catalogue holds every message).
# Installs only what is missing; needs root (CI runs as root).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)  # Spark engine tests
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-writer-nogui)  # bulletin PDF
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)  # bulletin page 1 as PNG
command -v msgmerge >/dev/null 2>&1 || need+=(gettext)  # the Chinese catalogue's completeness test
command -v npm >/dev/null 2>&1 || need+=(npm)  # ./dev setup installs ECharts from package-lock.json
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
