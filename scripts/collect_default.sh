#!/usr/bin/env bash
# The collection behind the shipped default controller (see docs/training.md).
set -euo pipefail
OUT=${1:-runs/traces}
POOL=0:8,1:4,2:2
aip-sdk collect --suite blocksworld --split generated --episodes 20 --max-steps 8 --pool $POOL --out $OUT/blocksworld-generated
aip-sdk collect --suite grid --split train --episodes 20 --max-steps 8 --pool $POOL --out $OUT/grid
aip-sdk collect --suite miniwob --split train --episodes 30 --max-steps 4 --pool $POOL --out $OUT/miniwob
aip-sdk collect --suite alfworld --split valid_train --episodes 12 --max-steps 8 --pool $POOL --out $OUT/alfworld
aip-sdk collect --suite alfworld --split valid_train --episodes 12 --max-steps 8 --pool $POOL --follow-expert 0.8 --seed 1 --out $OUT/alfworld-expert
aip-sdk collect --suite blocksworld --split basic_3 --episodes 10 --max-steps 6 --pool $POOL --out $OUT/blocksworld-basic_3
