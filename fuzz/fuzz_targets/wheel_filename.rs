//! Wheel and sdist file names (`WheelFilename`, `SdistFilename`, `DistFilename`).
//!
//! Must hold: no panic and no hang; a wheel name that parses is written back by `Display` as
//! a name that parses to the same value, and writing that again gives the same text (the
//! canonical form is a fixed point); likewise for an sdist name of the project it names.
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use tack::filename::{has_sdist_extension, is_wheel, DistFilename, SdistFilename, WheelFilename};
use tack::normalize::PackageName;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    let _ = is_wheel(name);
    let _ = has_sdist_extension(name);
    match WheelFilename::from_str(name) {
        Ok(wheel) => {
            // The product of the tag sets can be large; callers look tags up set by set.
            let _ = wheel.tags().take(64).count();
            let written = wheel.to_string();
            let reread = WheelFilename::from_str(&written).unwrap_or_else(|error| {
                panic!("`{name}` was written as unreadable `{written}`: {error}")
            });
            assert_eq!(reread, wheel, "`{name}` changed through `{written}`");
            assert_eq!(
                reread.to_string(),
                written,
                "the canonical name is not a fixed point"
            );
            let dist = DistFilename::parse(name, &wheel.name);
            assert_eq!(dist, Some(DistFilename::Wheel(wheel)));
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
    // An sdist of every project its name could belong to: each `-` could end the name.
    for (at, _) in name.match_indices('-').take(8) {
        let Ok(project) = PackageName::from_str(&name[..at]) else {
            continue;
        };
        let Some(sdist) = SdistFilename::parse(name, &project) else {
            continue;
        };
        assert_eq!(sdist.name, project);
        let written = sdist.to_string();
        let reread = SdistFilename::parse(&written, &project)
            .unwrap_or_else(|| panic!("`{name}` was written as unreadable `{written}`"));
        assert_eq!(reread, sdist, "`{name}` changed through `{written}`");
        assert_eq!(
            reread.to_string(),
            written,
            "the canonical name is not a fixed point"
        );
        let _ = DistFilename::parse(name, &project);
    }
});
