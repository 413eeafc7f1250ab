#!/usr/bin/env bash
# Refreshes the GraphiQL page's scripts and styles from the npm registry. The files are
# committed, so building and serving need no network; run this only to change versions.
set -euo pipefail
cd "$(dirname "$0")"
GRAPHIQL=3.9.0   # the last major with a browser (UMD) bundle; 4+ are ES modules with workers
REACT=18.3.1     # GraphiQL 3 supports React 16.8 to 18
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for p in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
  mkdir -p "$work/$p" && tar xzf "$work/$p.tgz" -C "$work/$p"
done
cp "$work/graphiql-$GRAPHIQL/package/graphiql.min.js" "$work/graphiql-$GRAPHIQL/package/graphiql.min.css" .
cp "$work/graphiql-$GRAPHIQL/package/LICENSE" LICENSE.graphiql
cp "$work/react-$REACT/package/umd/react.production.min.js" .
cp "$work/react-dom-$REACT/package/umd/react-dom.production.min.js" .
cp "$work/react-$REACT/package/LICENSE" LICENSE.react
# The bundles end with a source-map comment for files we do not ship.
sed -i '/^\/\/# sourceMappingURL=/d' graphiql.min.js
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' graphiql.min.css
echo "graphiql $GRAPHIQL, react $REACT" > VERSIONS
