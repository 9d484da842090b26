#!/usr/bin/env bash
# The tests: the Swift suites, then the web console in a real browser (Chromium driven by
# Selenium, Tests/Browser). The browser runs after the suites, not beside them: its processes
# would starve the timing of the sync tests on a 2-core machine. Arguments go to 'swift test'.
set -euo pipefail
cd "$(dirname "$0")/.."
swift test "$@"
swift build --product branchdesk
BRANCHDESK_BIN="$(swift build --show-bin-path)/branchdesk" python3 Tests/Browser/console_browser_test.py
