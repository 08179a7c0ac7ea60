#!/usr/bin/env bash
# Fails when an include crosses the layers DESIGN.md allows:
# cli -> analysis -> storage -> core, cli -> ingest -> storage.
set -u
root=${1:?usage: check_layering.sh SOURCE_DIR}
cd "$root" || exit 2
status=0
report() { echo "layering: $1"; status=1; }
while IFS= read -r hit; do report "$hit includes cli/"; done < <(grep -rn --include='*.[ch]pp' '#include "cli/' core storage ingest analysis | cut -d: -f1,2)
while IFS= read -r hit; do report "$hit: ingest includes analysis/"; done < <(grep -rn --include='*.[ch]pp' '#include "analysis/' ingest | cut -d: -f1,2)
while IFS= read -r hit; do report "$hit: analysis includes ingest/"; done < <(grep -rn --include='*.[ch]pp' '#include "ingest/' analysis | cut -d: -f1,2)
while IFS= read -r hit; do report "$hit: storage includes ingest/ or analysis/"; done < <(grep -rn --include='*.[ch]pp' -E '#include "(ingest|analysis)/' storage | cut -d: -f1,2)
while IFS= read -r hit; do report "$hit: core includes another layer"; done < <(grep -rn --include='*.[ch]pp' -E '#include "(ingest|analysis|storage|cli)/' core | cut -d: -f1,2)
[ "$status" -eq 0 ] && echo "layering: ok"
exit "$status"
