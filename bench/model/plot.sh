#!/usr/bin/env bash
# Training curve of an embed-train run: contrastive loss (mean over each
# logged interval, and a moving average) and held-out accuracy@1 / MRR
# against the step.
#
#   bench/model/plot.sh RUN_DIR OUT.png
set -eu
run=$1
out=$2
command -v gnuplot >/dev/null || { echo "gnuplot is needed (apt-get install gnuplot-nox)" >&2; exit 1; }
gnuplot <<GP
set terminal pngcairo size 1000,600 font "sans,10" noenhanced
set output "$out"
set title "embed-train: $(basename "$(dirname "$out")")"
set xlabel "step"
set ylabel "InfoNCE loss"
set y2label "held-out accuracy@1 / MRR"
set ytics nomirror
set y2tics
set y2range [0:1]
set grid
set key outside bottom center horizontal
set datafile separator "\t"
samples(x) = \$0 > 19 ? 20 : (\$0 + 1)
avg20(x) = (shift20(x), (b1+b2+b3+b4+b5+b6+b7+b8+b9+b10+b11+b12+b13+b14+b15+b16+b17+b18+b19+b20) / samples(\$0))
shift20(x) = (b20 = b19, b19 = b18, b18 = b17, b17 = b16, b16 = b15, b15 = b14, b14 = b13, b13 = b12, \
  b12 = b11, b11 = b10, b10 = b9, b9 = b8, b8 = b7, b7 = b6, b6 = b5, b5 = b4, b4 = b3, b3 = b2, b2 = b1, b1 = x)
init(x) = (b1 = b2 = b3 = b4 = b5 = b6 = b7 = b8 = b9 = b10 = b11 = b12 = b13 = b14 = b15 = b16 = b17 = b18 = b19 = b20 = 0)
plot init(0) notitle, \
  "$run/train.log" using 1:2 with lines lc rgb "#c0c0e0" title "loss (10-step mean)", \
  "$run/train.log" using 1:(avg20(\$2)) with lines lw 2 lc rgb "#2040a0" title "loss (200-step moving average)", \
  "$run/eval.log" using 1:2 axes x1y2 with linespoints lw 2 pt 7 lc rgb "#c03020" title "held-out accuracy@1", \
  "$run/eval.log" using 1:3 axes x1y2 with linespoints lw 2 pt 5 lc rgb "#20a040" title "held-out MRR"
GP
