#!/usr/bin/env bash
# A custom-format pg_dump of the bank's database into a target directory, with retention.
#
#   deploy/backup/backup.sh DATABASE_URL TARGET_DIR
#
# DATABASE_URL: a libpq URL (postgresql://user:password@host:5432/aspsp; the SQLAlchemy form
# postgresql+psycopg2://... is accepted too). TARGET_DIR is created if missing.
# Writes TARGET_DIR/<database>-<UTC timestamp>.dump (pg_dump --format=custom: compressed, and
# pg_restore can restore any table of it alone), first as a .partial file renamed once pg_dump
# has finished and `pg_restore --list` has read it back, so that a dump cut short never looks
# like a backup. Then deletes dumps of that database older than BACKUP_RETENTION_DAYS (default
# 35) but always keeps the newest BACKUP_KEEP_MIN (default 7), whatever their age.
# Exits non-zero when anything fails (cron mails it, a systemd timer's unit fails).
#
# The dump holds customers' data: TARGET_DIR must be private (this script makes it 0700 and
# the dump 0600). TOTP secrets and private signing keys are sealed in it under
# KEY_ENCRYPTION_KEY, which is never in the database: keep the KEK apart from the backups,
# and keep it (every version still sealing something) for as long as a backup may be restored.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 DATABASE_URL TARGET_DIR" >&2
    exit 2
fi
url=${1/postgresql+psycopg2:/postgresql:}
target=$2
retention_days=${BACKUP_RETENTION_DAYS:-35}
keep_min=${BACKUP_KEEP_MIN:-7}
PG_BIN=${PG_BIN:-/usr/bin}

database=${url##*/}
database=${database%%\?*}
if [ -z "$database" ]; then
    echo "DATABASE_URL names no database" >&2
    exit 2
fi

umask 077
mkdir -p "$target"
chmod 700 "$target"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
final="$target/$database-$stamp.dump"
partial="$final.partial"
trap 'rm -f "$partial"' EXIT

"$PG_BIN/pg_dump" --format=custom --compress=6 --no-password --file="$partial" "$url"
"$PG_BIN/pg_restore" --list "$partial" >/dev/null
mv "$partial" "$final"
echo "backup written: $final ($(stat -c %s "$final") bytes)"

# Retention: only this database's finished dumps, newest first; the newest keep_min stay.
mapfile -t dumps < <(ls -1t "$target"/"$database"-*.dump 2>/dev/null || true)
removed=0
for i in "${!dumps[@]}"; do
    if [ "$i" -lt "$keep_min" ]; then
        continue
    fi
    if [ -n "$(find "${dumps[$i]}" -maxdepth 0 -mtime +"$retention_days")" ]; then
        rm -f -- "${dumps[$i]}"
        removed=$((removed + 1))
    fi
done
echo "retention: ${#dumps[@]} dumps before, $removed older than $retention_days days removed (the newest $keep_min always kept)"
