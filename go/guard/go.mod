module goroscope.dev/guard

go 1.21
