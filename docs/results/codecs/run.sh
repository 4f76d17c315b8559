#!/usr/bin/env bash
# The short cross-codec and known-noise run behind docs/results/codecs/report.md: one
# seed, sizes at which the models learn but far from converged (a check that the
# sections work end to end on real runs; the powered study is its own). Runs go to
# docs/results/codecs/runs (checkpoints are not kept), the report to docs/results/codecs.
# From the repository's root: bash docs/results/codecs/run.sh
set -uo pipefail  # a failed sweep is reported at its end; the others still run
OUT=docs/results/codecs
RUNS=$OUT/runs
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

# Then the runs in two lanes, one core each (the sweeps give each run the lane's one thread).
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
lane_one() {
    # JPEG at two levels and lossless (the reference every image codec shares) ...
    images jpeg --levels lossless 5 50
    # ... JPEG with known sensor noise of sigma 8 grey levels (beside none, above) ...
    python scripts/sweep.py cifar --models all-cnns --levels lossless 5 50 --log_dir "$RUNS" \
        -- "${IMAGE[@]}" --sensor_noise 8
    # ... and the other image codecs at JPEG's two levels (AVIF's second in the other lane).
    images webp --levels 5 50
    images avif --levels 5
}
lane_two() {
    # Each audio codec at its grid's low end and 64 kbps (Vorbis: 64 and 128), MP3 with lossless ...
    sounds mp3 --levels lossless 8 64
    sounds opus --levels 8 64
    sounds aac --levels 16 64
    sounds vorbis --levels 64 128
    # ... then the rest of the image codecs.
    images avif --levels 50
    images jxl --levels 5 50
    images jpeg2000 --levels 5 50
}
taskset -c 0 bash -c "$(declare -p IMAGE AUDIO IMAGE_CODECS AUDIO_CODECS RUNS FASHION 2>/dev/null);
    $(declare -f images sounds lane_one); lane_one" > "$OUT/lane_one.log" 2>&1 &
taskset -c 1 bash -c "$(declare -p IMAGE AUDIO IMAGE_CODECS AUDIO_CODECS RUNS FASHION 2>/dev/null);
    $(declare -f images sounds lane_two); lane_two" > "$OUT/lane_two.log" 2>&1 &
wait
echo "data and runs: $(( $(date +%s) - start )) s"

find "$RUNS" -name "*.keras" -delete  # the records stay: config, history, result, predictions
python scripts/report.py "$RUNS" --out "$OUT"
