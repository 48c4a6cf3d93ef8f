#!/usr/bin/env bash
# Rewrites the README's table of error codes from lib/core/errors.ts (a unit test keeps them equal).
set -euo pipefail
cd "$(dirname "$0")/.."
table="$(npx --no-install tsx scripts/error-table.ts 2>/dev/null)"
python3 - "$table" <<'PY'
import re, sys
table = sys.argv[1]
s = open('README.md').read()
head, rest = s.split('## Error codes', 1)
body = rest.split('\n## ', 1)
intro = body[0].split('| code |')[0].rstrip() + '\n\n'
tail = ('\n## ' + body[1]) if len(body) > 1 else '\n'
open('README.md', 'w').write(head + '## Error codes' + intro + table + '\n' + tail)
PY
