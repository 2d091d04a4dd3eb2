#!/usr/bin/env bash
# Kept from .gpu/go.sh of the run in bench/RESULTS-crowd.md (issue 30): .gpu/ is the bundle of
# ../shared/gpu/make_bundle.sh, its part.0N copied to /root/parts by earlier calls; run as `bash .gpu/go.sh --paths ...`.
# On the GPU machine, after part.00-03 were copied to /root/parts by earlier calls; this call carries part.04 and
# extra/ (py-spy). Joins, installs, builds the random-weight 4B checkpoint, runs bench.crowd.
set -uo pipefail
here=$PWD
repo=$here/.gpu/code  # the committed code (git archive of HEAD), not the working tree
mkdir -p /root/parts && cp $here/.gpu/part.04 /root/parts/ && cd /root && cat parts/part.* | tar xf - && ls /root/dl | wc -l
python3 -m pip install -q --no-index --no-deps --no-compile --target /root/site /root/dl/*.whl $here/.gpu/extra/*.whl 2>&1 | tail -2
export PYTHONPATH=/root/site VLLM_USE_FLASHINFER_SAMPLER=0 PY_SPY=/root/site/bin/py-spy PYTHONUNBUFFERED=1
ls -la $PY_SPY; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 /root/stage/gpu/build_full.py $repo /root/ckpt 2>&1 | tail -3
cd $repo
python3 -m bench.backport_stream_interval /root/site
timeout 470 python3 -m bench.crowd --model /root/ckpt --levels 16,64,128 --ready-timeout 300 --out $OUT/RESULTS-crowd.md "$@" 2>&1 | tee $OUT/crowd.log | grep -v "^INFO\|^(APIServer\|^(EngineCore" | tail -60
# the engines' logs (the app writes them under its cache folder, --cache-dir); the app's own is $OUT/*.app.log
for f in /root/.cache/qwen3-vl-demo/logs/*.log; do [ -f "$f" ] && tail -c 2000000 "$f" > "$OUT/$(basename "$f")"; done; ls -la $OUT
for p in $(nvidia-smi --query-compute-apps=pid --format=csv,noheader); do kill -9 $p; done
