#!/usr/bin/env bash
# Installs what the tests need, then runs every test (slow ones included).
# pytest's "no tests collected" (exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test || exit 1
# The browser tests drive Debian's chromium (Playwright's own browser download does not work here).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null || {
      echo "scripts/test.sh: could not install chromium with apt-get" >&2; exit 1; }
  else
    echo "scripts/test.sh: /usr/bin/chromium missing and not root: browser tests will be skipped" >&2
  fi
fi
# Storage tests also run against a real PostgreSQL server on 127.0.0.1 (Debian's package).
if [ -z "${RJCOACH_TEST_PG_URL:-}" ]; then
  url=$(bash scripts/test_postgres.sh) && export RJCOACH_TEST_PG_URL="$url"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
.venv/bin/python -m pytest -ra "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "scripts/test.sh: pytest collected no tests; failing" >&2
  exit 1
fi
exit "$status"
