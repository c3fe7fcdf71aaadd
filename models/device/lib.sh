# Shared by the device scripts (sourced, not run). The caller sets LOG, the background run's log.
follow() {  # print $LOG as it grows until $1 exists or $2 seconds pass
  local until=$((SECONDS + $2)) seen=0 n
  while [ ! -f "$1" ] && [ $SECONDS -lt $until ]; do
    sleep 10; n=$(wc -l < "$LOG"); [ "$n" -gt "$seen" ] && sed -n "$((seen + 1)),${n}p" "$LOG" | cut -c1-300; seen=$n
  done
}
join_base() {  # join /tmp/store/$1* into $2, check sha256 $3, save the transformers base to $4
  [ -f "$2" ] || cat /tmp/store/$1* > "$2"
  echo "$3  $2" | sha256sum -c || exit 1
  rm -f /tmp/store/$1*
  local t0=$(date +%s)
  PYTHONPATH=/tmp/site:$PWD/server:$PWD python3 -m models.train save-base --base "$2" --out "$4" 2>&1 | tail -1
  echo "$4 saved in $(( $(date +%s) - t0 )) s" | tee -a "$LOG"
}
