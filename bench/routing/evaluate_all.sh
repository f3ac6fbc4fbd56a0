#!/bin/sh
# The figures of bench/results/routing-kinds.md and routing-mmlu.md, for the shipped router (about 6 min).
# Run from the repository root: sh bench/routing/evaluate_all.sh ../shared/data/routing
set -e
DATA=${1:?the shared routing data folder}
R=bench/results
CORPUS="--corpus bench/routing/corpus.yaml --data $DATA"
# every kind held out in turn, then the many-task set's five kinds held out together and judged as one mixture
.venv/bin/tokenops routing evaluate $CORPUS --held-out-kinds --kind chat --kind code --kind logic --kind math \
    --kind mmlu --kind question --kind reading --kind writing --kind code,logic,reading,question,writing \
    --json --out $R/routing-kinds-heldout.json > /dev/null
.venv/bin/tokenops routing evaluate $CORPUS --quality 0.95 --json --out $R/routing-kinds-indist.json > /dev/null
.venv/bin/tokenops routing evaluate --dataset "$DATA/mmlu" --weak mistralai/Mixtral-8x7B-Instruct-v0.1 \
    --strong gpt-4-1106-preview --json --out $R/routing-mmlu.json > /dev/null
.venv/bin/tokenops routing latency --runs 2000 --json > $R/routing-latency.json
