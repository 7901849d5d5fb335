#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    goroscope_ingest_fuzz::any_one(data);
});
