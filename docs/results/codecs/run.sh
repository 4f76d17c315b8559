#!/usr/bin/env bash
# The short cross-codec and known-noise run behind docs/results/codecs/report.md: one
# seed, small sizes (a check that the sections work end to end; the powered study is
# its own). Runs go to docs/results/codecs/runs (checkpoints are not kept), the report
# to docs/results/codecs. From the repository's root: bash docs/results/codecs/run.sh
set -uo pipefail  # a failed sweep is reported at its end; the others still run
OUT=docs/results/codecs
RUNS=$OUT/runs
FASHION=${FASHION:-/usr/share/datasets/fashion-mnist}
IMAGE=(--dataset fashion-mnist --data "$FASHION" --fixed --subset 1600 --batch_size 32
       --num_epoch 2 --test_subset 800)
AUDIO=(--fixed --num_epoch 6)

# The generated effects set, cnn_x3_mlp_0: lossless, then each codec at its grid's low end and 64 kbps.
python audio/data.py --generate --clips_per_class 20
python scripts/sweep.py audio --models cnn_x3_mlp_0 --levels lossless 8 64 --log_dir "$RUNS" -- "${AUDIO[@]}"

# Fashion-MNIST, all-cnns: JPEG at two levels and lossless (the shared reference) ...
python scripts/sweep.py cifar --models all-cnns --levels lossless 5 50 --log_dir "$RUNS" -- "${IMAGE[@]}"
# ... JPEG with known sensor noise of sigma 8 grey levels (beside none, above) ...
python scripts/sweep.py cifar --models all-cnns --levels lossless 5 50 --log_dir "$RUNS" \
    -- "${IMAGE[@]}" --sensor_noise 8

# The other audio codecs, at their grid's low end and 64 kbps (Vorbis: 64 and 128) ...
python scripts/sweep.py audio --models cnn_x3_mlp_0 --levels 8 64 --codec opus --log_dir "$RUNS" -- "${AUDIO[@]}"
python scripts/sweep.py audio --models cnn_x3_mlp_0 --levels 16 64 --codec aac --log_dir "$RUNS" -- "${AUDIO[@]}"
python scripts/sweep.py audio --models cnn_x3_mlp_0 --levels 64 128 --codec vorbis --log_dir "$RUNS" -- "${AUDIO[@]}"

# ... and the other image codecs at JPEG's two levels.
for codec in webp avif jxl jpeg2000; do
    python scripts/sweep.py cifar --models all-cnns --levels 5 50 --codec "$codec" --log_dir "$RUNS" \
        -- "${IMAGE[@]}"
done

find "$RUNS" -name "*.keras" -delete  # the records stay: config, history, result, predictions
python scripts/report.py "$RUNS" --out "$OUT"
