#!/usr/bin/env bash
# The GPU run of bench/RESULTS-crowd.md (issue 30), copied to .gpu/go.sh: .gpu/ is the bundle of
# ../shared/gpu/make_bundle.sh, its part.00-03 copied to /root/parts by earlier calls; the first run carries part.04
# and extra/ (py-spy), joins, installs, builds the random-weight 4B checkpoint and backports vLLM 0.32's per-request
# stream_interval (bench/backport_stream_interval.py); a later run on the same warm machine skips all that.
# Run as `bash .gpu/go.sh --paths direct,page,app [-- app.py flags]`; OUTNAME names the results file.
set -uo pipefail
here=$PWD
repo=$here/.gpu/code  # the committed code (git archive of HEAD), not the working tree
export PYTHONPATH=/root/site VLLM_USE_FLASHINFER_SAMPLER=0 PY_SPY=/root/site/bin/py-spy PYTHONUNBUFFERED=1
if [ ! -e /root/ready ]; then
  mkdir -p /root/parts && cp $here/.gpu/part.04 /root/parts/ && (cd /root && cat parts/part.* | tar xf -) && ls /root/dl | wc -l
  python3 -m pip install -q --no-index --no-deps --no-compile --target /root/site /root/dl/*.whl $here/.gpu/extra/*.whl 2>&1 | tail -2
  python3 /root/stage/gpu/build_full.py $repo /root/ckpt 2>&1 | tail -3
  (cd $repo && python3 -m bench.backport_stream_interval /root/site) && touch /root/ready
fi
ls -la $PY_SPY; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
cd $repo
rm -rf /root/.cache/qwen3-vl-demo/logs
timeout ${CROWD_S:-470} python3 -m bench.crowd --model /root/ckpt --levels 16,64,128 --ready-timeout 300 --out $OUT/${OUTNAME:-RESULTS-crowd.md} "$@" 2>&1 | tee $OUT/crowd.log | grep -v "^INFO\|^(APIServer\|^(EngineCore" | tail -60
# the engines' logs (the app writes them under its cache folder, --cache-dir); the app's own is $OUT/*.app.log
for f in /root/.cache/qwen3-vl-demo/logs/*.log; do [ -f "$f" ] && tail -c 2000000 "$f" > "$OUT/$(basename "$f")"; done; ls -la $OUT
for p in $(nvidia-smi --query-compute-apps=pid --format=csv,noheader); do kill -9 $p; done
