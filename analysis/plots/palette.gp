# Line colours of every figure: dark, distinct, readable on white and in grey print (no yellow or pale hues).
set linetype 1 lc rgb "#1f4e9c" lw 2 pt 7
set linetype 2 lc rgb "#c0392b" lw 2 pt 5
set linetype 3 lc rgb "#1e8449" lw 2 pt 9
set linetype 4 lc rgb "#7d3c98" lw 2 pt 11
set linetype 5 lc rgb "#a04000" lw 2 pt 13
set linetype 6 lc rgb "#117a8b" lw 2 pt 3
set linetype 7 lc rgb "#424949" lw 2 pt 2
set linetype 8 lc rgb "#b7950b" lw 2 pt 4
set linetype cycle 8
