#!/usr/bin/env bash
# The GPU check of issue 28 (bench/RESULTS-qwen35.md): run from the project's root on the GPU machine, with the
# bundle of ../shared/gpu/make_bundle.sh in .gpu/ (part.00-03 copied to /root/parts by earlier calls, part.04
# carried by this one). Joins and installs the wheels, builds a random-weight Qwen3.5-4B, then
# bench/gpu_qwen35/check.py (arguments: more app.py flags). A later call on the same warm machine skips the set-up.
set -uo pipefail
export PYTHONPATH=/root/site:$PWD VLLM_USE_FLASHINFER_SAMPLER=0 PYTHONUNBUFFERED=1
if [ ! -e /root/ready ]; then
  mkdir -p /root/parts && cp .gpu/part.04 /root/parts/ && (cd /root && cat parts/part.* | tar xf -) && ls /root/dl | wc -l
  python3 -m pip install -q --no-index --no-deps --no-compile --target /root/site /root/dl/*.whl 2>&1 | tail -2
  # The bundle carries no flashinfer, which vLLM 0.26 picks on Hopper for Qwen3.5's linear-attention prefill (seen:
  # "No module named 'flashinfer'", the engine dead at the first answer); its Triton kernel instead. A testbed
  # patch: vLLM's CUDA install from PyPI brings flashinfer.
  sed -i 's/additional_config.get("gdn_prefill_backend", "auto")/additional_config.get("gdn_prefill_backend", "triton")/' \
    /root/site/vllm/model_executor/layers/mamba/gdn/qwen_gdn_linear_attn.py
  grep -c '"gdn_prefill_backend", "triton"' /root/site/vllm/model_executor/layers/mamba/gdn/qwen_gdn_linear_attn.py
  touch /root/ready
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
[ -e /root/q35/config.json ] || python3 bench/gpu_qwen35/build.py /root/q35 2>&1 | grep -v Warn | tail -3
timeout ${CHECK_S:-480} python3 bench/gpu_qwen35/check.py /root/q35 $OUT "$@" 2>&1 | grep -v "^INFO\|^(APIServer\|^(EngineCore" | tail -80
for p in $(nvidia-smi --query-compute-apps=pid --format=csv,noheader); do kill -9 $p; done
ls -la $OUT
