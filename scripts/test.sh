#!/usr/bin/env bash
# The tests: the Swift suites (the PostgreSQL ones against a throwaway cluster that
# scripts/with-postgres.sh starts on 127.0.0.1 and always stops), then the web console in a
# real browser (Chromium driven by Selenium, Tests/Browser), then the protocol conformance kit
# against a real HQ (Protocol/conformance). Both run after the suites, not beside them: their processes would
# starve the timing of the sync tests on a 2-core machine. Arguments go to 'swift test'.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/with-postgres.sh swift test "$@"
swift build --product branchdesk
binary="$(swift build --show-bin-path)/branchdesk"
BRANCHDESK_BIN="$binary" python3 Tests/Browser/console_browser_test.py
python3 Protocol/conformance/conformance.py --branchdesk "$binary"
