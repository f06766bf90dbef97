//! canvas-chaos: faults injected into the local cluster under load, then an
//! audit that nothing acknowledged was lost ([`loadtest::chaos`]).

use loadtest::chaos::{self, Options};
use std::{process::ExitCode, time::Duration};

#[tokio::main]
async fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // Every step has a deadline of its own; this one says so if a step
    // that lacks one hangs, instead of holding the test command up.
    let limit = options.duration + Duration::from_secs(600);
    let Ok((passed, figures)) = tokio::time::timeout(limit, chaos::run(options)).await else {
        eprintln!("canvas-chaos: the run did not end within {limit:?}");
        return ExitCode::FAILURE;
    };
    print_summary(&figures);
    println!("{figures}");
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_summary(figures: &serde_json::Value) {
    let f = |key: &str| figures.get(key).map_or("-".into(), |v| v.to_string());
    println!("== canvas-chaos summary ==");
    println!(
        "faults       {} injected, {} recovered, in {} s (seed {})",
        f("faults"),
        f("recovered"),
        f("seconds"),
        f("seed")
    );
    if let Some(recovery) = figures.get("recovery").and_then(|r| r.as_object()) {
        for (fault, times) in recovery {
            println!("  {fault:<24} {times}");
        }
    }
    println!(
        "placements   {} acknowledged, {} unknown, {} refused; {} reconnects",
        f("accepted"),
        f("unknown"),
        f("refused"),
        f("reconnects")
    );
    println!("audit        {}", f("audit"));
}
