#!/usr/bin/env bash
# The default model (cnn_x3_mlp_0) at every MP3 bitrate, as the original script ran it.
# Arguments go to scripts/sweep.py, train.py flags after --, e.g.
#   ./train-all-cnns.sh --seeds 0 1 2 --per_gpu 2 -- --num_epoch 200
exec "$(dirname "${BASH_SOURCE[0]}")/../scripts/sweep.sh" audio --grid paper --models cnn_x3_mlp_0 "$@"
