#!/bin/sh
# Prints the path of a Python 3.13 (or 3.12) interpreter: the Lambda runtimes this service
# targets (python3.13, python3.12 on Amazon Linux 2023). Chalice names the Lambda runtime after
# the Python that runs it, so build, test and deploy all use this one.
# A candidate counts only if it runs and reports 3.13/3.12 (a pyenv shim that refuses does not).
# PYTHON=/path/to/python overrides the search; it must still be 3.13 or 3.12.
ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3, 13), (3, 12)) else 1)' >/dev/null 2>&1
}
if [ -n "${PYTHON:-}" ]; then
    if ok "$PYTHON"; then command -v "$PYTHON" || echo "$PYTHON"; exit 0; fi
    echo "PYTHON=$PYTHON is not a working Python 3.13 or 3.12 (Lambda runtimes python3.13/python3.12)." >&2
    exit 1
fi
for candidate in python3.13 python3.12 \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 \
        "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 \
        /usr/local/bin/python3.13 /usr/bin/python3.13 /usr/local/bin/python3.12 /usr/bin/python3.12 \
        python3; do
    if ok "$candidate"; then
        command -v "$candidate"
        exit 0
    fi
done
cat >&2 <<'MSG'
No Python 3.13 or 3.12 found. The Lambda runtime is python3.13 (Amazon Linux 2023; python3.12 is
accepted), and Chalice takes the runtime from the Python that deploys, so build and test use it too.
Install one of them, for example:
  pyenv install 3.13          (or: apt-get install python3.13 / brew install python@3.13)
or point at one:  make test PYTHON=/path/to/python3.13
MSG
exit 1
