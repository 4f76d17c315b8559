#!/usr/bin/env bash
# The default model (all-cnns) at every JPEG quality, as the original script ran it.
# Arguments go to scripts/sweep.py, train.py flags after --, e.g.
#   ./train-all-cnns.sh --seeds 0 1 2 --per_gpu 2 -- --num_epoch 200
exec "$(dirname "${BASH_SOURCE[0]}")/../scripts/sweep.sh" cifar --grid full --models all-cnns "$@"
