module goroscope.bench/guard

go 1.21

require goroscope.dev/guard v0.0.0

replace goroscope.dev/guard => ../../go/guard
