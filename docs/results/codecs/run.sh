#!/usr/bin/env bash
# The short cross-codec and known-noise run behind docs/results/codecs/report.md: one
# seed, sizes at which the models learn but far from converged (a check that the
# sections work end to end on real runs; the powered study is its own). Runs go to
# docs/results/codecs/runs (checkpoints are not kept), the report to docs/results/codecs.
# From the repository's root: bash docs/results/codecs/run.sh
set -uo pipefail  # a failed sweep is reported at its end; the others still run
OUT=${OUT:-docs/results/codecs}  # OUT=another/folder: the same run there
RUNS=$OUT/runs
mkdir -p "$OUT"
FASHION=${FASHION:-/usr/share/datasets/fashion-mnist}
IMAGE_CODECS=(jpeg webp avif jxl jpeg2000)
AUDIO_CODECS=(mp3 opus aac vorbis)
# Every image run is also tested on every other codec's test data at its level (the
# train x test grid across codecs); every audio run on each codec that can code its level.
IMAGE=(--dataset fashion-mnist --data "$FASHION" --fixed --subset 2000 --batch_size 32
       --num_epoch 4 --test_subset 1000)
AUDIO=(--fixed --num_epoch 12)
start=$(date +%s)

# The data first, on both cores: every codec's caches at both levels, and lossless.
python cifar/data.py --dataset fashion-mnist --data "$FASHION" --fixed --quality lossless 5 50 \
    --codec "${IMAGE_CODECS[@]}" --sensor_noise 0
python cifar/data.py --dataset fashion-mnist --data "$FASHION" --fixed --quality lossless 5 50 \
    --sensor_noise 8
python audio/data.py --generate --clips_per_class 60
python audio/data.py --codec mp3 opus --bitrate lossless 8 64
python audio/data.py --codec aac --bitrate 16 64
python audio/data.py --codec vorbis --bitrate 64 128
echo "data: $(( $(date +%s) - start )) s"

# Then the runs, one at a time on each core: two workers take the next run from one queue
# (the audio runs, the longer, first), so neither core waits while the other has work.
# Each sweep is given its worker's one core (taskset), so it gives its run one thread.
images() {  # Fashion-MNIST, all-cnns
    local codec=$1; shift
    python scripts/sweep.py cifar --models all-cnns --codec "$codec" --log_dir "$RUNS" "$@" \
        -- "${IMAGE[@]}" --test_codec "${IMAGE_CODECS[@]}"
}
sounds() {  # the generated effects set, cnn_x3_mlp_0
    local codec=$1; shift
    python scripts/sweep.py audio --models cnn_x3_mlp_0 --codec "$codec" --log_dir "$RUNS" "$@" \
        -- "${AUDIO[@]}" --test_codec "${AUDIO_CODECS[@]}"
}
noisy() {  # JPEG with known sensor noise of sigma 8 grey levels (beside none: images jpeg)
    python scripts/sweep.py cifar --models all-cnns --log_dir "$RUNS" "$@" \
        -- "${IMAGE[@]}" --sensor_noise 8
}
QUEUE=$(mktemp)
{   # each audio codec at its grid's low end and 64 kbps (Vorbis: 64 and 128), MP3 with lossless
    for level in 8 64 lossless; do echo "sounds mp3 --levels $level"; done
    for level in 8 64; do echo "sounds opus --levels $level"; done
    for level in 16 64; do echo "sounds aac --levels $level"; done
    for level in 64 128; do echo "sounds vorbis --levels $level"; done
    # JPEG with lossless (the reference every image codec shares), and with known noise ...
    for level in lossless 5 50; do echo "images jpeg --levels $level"; echo "noisy --levels $level"; done
    # ... and the other image codecs at JPEG's two levels
    for codec in webp avif jxl jpeg2000; do for level in 5 50; do
        echo "images $codec --levels $level"; done; done
} > "$QUEUE"
next_run() {  # the queue's first line, taken off it under a lock
    flock "$QUEUE" bash -c 'head -n 1 "$0"; sed -i 1d "$0"' "$QUEUE"
}
worker() {
    local run
    while run=$(next_run) && [ -n "$run" ]; do echo "== $run"; eval "$run"; done
}
for core in 0 1; do
    taskset -c $core bash -c "$(declare -p IMAGE AUDIO IMAGE_CODECS AUDIO_CODECS RUNS FASHION QUEUE);
        $(declare -f images sounds noisy next_run worker); worker" > "$OUT/worker_$core.log" 2>&1 &
done
wait
rm -f "$QUEUE"
echo "data and runs: $(( $(date +%s) - start )) s"

find "$RUNS" -name "*.keras" -delete  # the records stay: config, history, result, predictions
python scripts/report.py "$RUNS" --out "$OUT"
