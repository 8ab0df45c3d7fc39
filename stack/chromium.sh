# shellcheck shell=bash
# Chromium from Debian's packages, for the live page's real-browser tests (playwright-core drives
# it; Playwright's own browser downloads are not used, so nothing comes from outside Debian's
# mirrors and the npm registry).

ensure_chromium() {
  local found
  found="$(command -v chromium 2>/dev/null || true)"
  if [ -z "$found" ]; then
    apt_install chromium 'the browser of the live-page tests (chromium)'
    found="$(command -v chromium 2>/dev/null)" || die "chromium is installed but not on PATH"
  fi
  export RSVP_TOPK_CHROMIUM="$found"
}
