#!/usr/bin/env bash
# The container image's install steps, in one place: the Dockerfile runs this script, and
# oee_pipelines_tests/test_wheel.py runs it into a fresh virtual environment, so the recipe cannot rot.
#
#   scripts/install-image.sh SOURCE_DIR VENV_DIR
#
# 1. Builds the wheel from a copy of SOURCE_DIR's package inputs, in a throwaway build environment whose
#    setuptools and wheel come from requirements/build.txt (hashes checked). The wheel carries the
#    migrations (oee_pipelines/storage/sql), the Dagster instance template and workspace defaults.
# 2. Creates VENV_DIR when it does not exist (PYTHON, default python3) and installs requirements/lock.txt
#    into it with --require-hashes: every dependency at the locked version, nothing resolved at build time.
# 3. Installs the wheel with --no-deps (the lock brought every dependency) and runs `pip check`, which
#    fails when pyproject.toml names a package the lock lacks (run `make lock`).
# The built wheel is left in VENV_DIR/wheels/.
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 SOURCE_DIR VENV_DIR" >&2
    exit 2
fi
source_dir=$(cd "$1" && pwd)
venv_dir=$2
python=${PYTHON:-python3}
pip_flags=(--quiet --disable-pip-version-check --no-input)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# What the wheel is built from, and nothing else (no .venv, data/ or build/ of a checkout). The package's
# symlinks (storage/sql -> ../../sql, cli/*.yaml -> ../../*.yaml) resolve inside this copy.
mkdir "$work/src"
tar -C "$source_dir" --exclude=__pycache__ --exclude='*.pyc' -cf - \
    pyproject.toml README.md dagster.yaml workspace.yaml sql oee_pipelines | tar -C "$work/src" -xf -

"$python" -m venv "$work/build-env"
"$work/build-env/bin/python" -m pip install "${pip_flags[@]}" --require-hashes -r "$source_dir/requirements/build.txt"
"$work/build-env/bin/python" -m pip wheel "${pip_flags[@]}" --no-deps --no-build-isolation \
    --wheel-dir "$work/wheels" "$work/src"

[ -x "$venv_dir/bin/python" ] || "$python" -m venv "$venv_dir"
"$venv_dir/bin/python" -m pip install "${pip_flags[@]}" --require-hashes -r "$source_dir/requirements/lock.txt"
"$venv_dir/bin/python" -m pip install "${pip_flags[@]}" --no-deps "$work"/wheels/oee_pipelines-*.whl
"$venv_dir/bin/python" -m pip check
mkdir -p "$venv_dir/wheels"
cp "$work"/wheels/oee_pipelines-*.whl "$venv_dir/wheels/"
echo "installed $(basename "$work"/wheels/oee_pipelines-*.whl) into $venv_dir"
