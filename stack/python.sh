# shellcheck shell=bash
# PyPI tools for the tests (schemathesis), in a virtual environment of our own under $LOCAL_DIR,
# installed from the pinned stack/python/requirements.txt and again when that file changes.

VENV_DIR="$LOCAL_DIR/venv"
PYTHON_REQUIREMENTS="$ROOT_DIR/stack/python/requirements.txt"

ensure_python_tools() {
  local stamp="$VENV_DIR/.requirements"
  if [ -f "$stamp" ] && cmp -s "$stamp" "$PYTHON_REQUIREMENTS"; then return 0; fi
  ensure_command python3 python3
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv 'the Python venv module'
  fi
  say "installing the Python test tools from PyPI into $VENV_DIR (once)"
  rm -rf "$VENV_DIR"
  python3 -m venv "$VENV_DIR" || die "python3 -m venv $VENV_DIR failed"
  "$VENV_DIR/bin/pip" install -q --disable-pip-version-check -r "$PYTHON_REQUIREMENTS" >"$LOCAL_DIR/pip.log" 2>&1 ||
    { tail -n 20 "$LOCAL_DIR/pip.log" >&2; die "pip install -r $PYTHON_REQUIREMENTS failed"; }
  cp "$PYTHON_REQUIREMENTS" "$stamp"
}
