//! `Endpoint` parsing: any UTF-8 either fails cleanly or parses to an
//! endpoint whose `Display` form parses back to the same endpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ricochet::Endpoint;

fuzz_target!(|input: &str| {
    let Ok(endpoint) = input.parse::<Endpoint>() else {
        return;
    };
    let shown = endpoint.to_string();
    match shown.parse::<Endpoint>() {
        Ok(again) => assert_eq!(
            again, endpoint,
            "{input:?} parsed to {endpoint:?}, shown as {shown:?}, which parses to {again:?}"
        ),
        Err(e) => panic!(
            "{input:?} parsed to {endpoint:?}, but its display {shown:?} does not parse: {e}"
        ),
    }
});
