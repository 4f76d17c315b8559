#!/usr/bin/env bash
# The five other models at quality 25, as the original script ran them.
# Arguments go to scripts/sweep.py, train.py flags after --, e.g.
#   ./train-all-settings.sh --seeds 0 1 2 --per_gpu 2 -- --num_epoch 200
exec "$(dirname "${BASH_SOURCE[0]}")/../scripts/sweep.sh" cifar --grid full --levels 25 \
    --models cnns-dense-64 all-cnnsx2 cnns-x2-dense-128 cnns-dense-128 cnns-dense-128-256 "$@"
