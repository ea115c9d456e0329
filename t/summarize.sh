#!/bin/sh
# summarize.sh BUILDDIR - one closing line for the whole `make check`:
# the checks counted by each test's own "N passed, M failed" line, plus the
# Boost.Test cases of the unit runner, plus whole scripts that were skipped.
builddir=${1:-.}
passed=0 failed=0 skipped=0
for trs in $(find "$builddir/t" -name '*.trs' | sort); do
  log=${trs%.trs}.log
  result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
  if [ "$result" = SKIP ]; then skipped=$((skipped + 1)); continue; fi
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  cases=$(sed -n 's/^ *\([0-9][0-9]*\) test cases\{0,1\} out of \([0-9][0-9]*\) passed$/\1 \2/p' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
  elif [ -n "$cases" ]; then
    p=${cases% *}; f=$(( ${cases#* } - p ))
    n=$(sed -n 's/^ *\([0-9][0-9]*\) test cases\{0,1\} out of [0-9]* failed$/\1/p' "$log" | tail -n 1)
    [ -n "$n" ] && f=$n
  elif [ "$result" = PASS ]; then p=1; f=0
  else p=0; f=1
  fi
  [ "$result" = PASS ] || [ "$f" -gt 0 ] || f=1
  passed=$((passed + p)); failed=$((failed + f))
done
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
