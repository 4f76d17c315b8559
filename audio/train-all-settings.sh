#!/usr/bin/env bash
# The five other models at 32 kbps, as the original script ran them.
# Arguments go to scripts/sweep.py, train.py flags after --, e.g.
#   ./train-all-settings.sh --seeds 0 1 2 --per_gpu 2 -- --num_epoch 200
exec "$(dirname "${BASH_SOURCE[0]}")/../scripts/sweep.sh" audio --grid full --levels 32 \
    --models cnn_x4_mlp_128 cnn_x3_mlp_64_128 cnn_x3_mlp_128 cnn_x3_mlp_128x2 cnn_x2_mlp_128 "$@"
