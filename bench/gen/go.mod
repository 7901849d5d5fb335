module goroscope.invalid/bench/gen

go 1.27
