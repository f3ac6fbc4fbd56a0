#!/bin/sh
# Trains the shipped complexity router on the whole corpus (every kind; 30% of each kind held out by prompt hash).
# Run from the repository root: sh bench/routing/train_shipped.sh ../shared/data/routing
set -e
DATA=${1:?the shared routing data folder}
.venv/bin/tokenops routing train --corpus bench/routing/corpus.yaml --data "$DATA" \
    --feature-set v2 --target weak_fails --no-kind-bias --balance-kinds \
    --epochs 4 --learning-rate 0.02 --min-count 3 \
    --out src/tokenops/routing/data/kinds-router.json.gz
