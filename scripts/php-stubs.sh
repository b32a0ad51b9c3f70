#!/usr/bin/env bash
# php-stubs.sh - regenerate ext-php/clustershm_arginfo.h from
# ext-php/clustershm.stub.php with PHP's own gen_stub.php (Debian's php-dev).
#
# gen_stub.php wants nikic/PHP-Parser 4.x unpacked beside itself and would
# download it; Debian ships it as php-parser, so a scratch copy of
# gen_stub.php is pointed at /usr/share/php/PhpParser instead (no network).
# Only needed after editing the stub: the generated header is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=$(php-config --extension-dir)/build
[ -f "$build_dir/gen_stub.php" ] || { echo "php-stubs: $build_dir/gen_stub.php is missing: apt-get install php8.2-dev" >&2; exit 1; }
[ -d /usr/share/php/PhpParser ] || { echo "php-stubs: PHP-Parser is missing: apt-get install php-parser" >&2; exit 1; }
version=$(sed -n 's/.*\$version = "\([0-9.]*\)".*/\1/p' "$build_dir/gen_stub.php" | head -1)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$build_dir/gen_stub.php" "$scratch/"
mkdir -p "$scratch/PHP-Parser-$version/lib"
ln -s /usr/share/php/PhpParser "$scratch/PHP-Parser-$version/lib/PhpParser"
php "$scratch/gen_stub.php" --force-regeneration ext-php/clustershm.stub.php
