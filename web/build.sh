#!/bin/sh
# web/build.sh - fetch the dashboard's npm assets (uPlot) and copy them into
# web/vendor/, which the collector serves with the rest of web/. Needs npm
# only at build time; the served dashboard loads nothing from the internet.
# Usage: web/build.sh   (idempotent; quiet when vendor/ is up to date)
set -eu
cd "$(dirname "$0")"

if [ -f vendor/uPlot.iife.min.js ] && [ -f vendor/uPlot.min.css ] &&
	[ vendor/uPlot.iife.min.js -nt package-lock.json ]; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "web/build.sh: npm not found (scripts/install-deps.sh installs it)" >&2
	exit 1
fi
# Install in a scratch directory so web/ (served as is) holds no node_modules.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp package.json package-lock.json "$tmp/"
(cd "$tmp" && { npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
	npm install --no-audit --no-fund --loglevel=error >/dev/null; })
mkdir -p vendor
cp "$tmp/node_modules/uplot/dist/uPlot.iife.min.js" "$tmp/node_modules/uplot/dist/uPlot.min.css" vendor/
cp "$tmp/node_modules/uplot/LICENSE" vendor/uPlot.LICENSE 2>/dev/null || true
echo "web/build.sh: vendor/ filled (uPlot $(node -p "require('$tmp/node_modules/uplot/package.json').version" 2>/dev/null || echo '?'))"
