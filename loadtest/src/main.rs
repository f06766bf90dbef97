//! canvas-load: a load generator for the Canvas wire protocol (see the
//! library's documentation for what it measures and how).

use loadtest::{options::Options, run};
use std::process::ExitCode;

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // One descriptor per connection.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let main = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // The clients whose timestamps matter run on a thread of their own.
    let measuring = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let handle = measuring.handle().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = measuring.block_on(stopped);
    });
    eprintln!(
        "canvas-load: {} clients ({} placers, {} tracked) over {} target(s)",
        options.clients,
        options.placers,
        options.track,
        options.targets.len()
    );
    let outcome = main.block_on(run::run(&options, handle));
    let _ = stop.send(());
    let _ = thread.join();
    match outcome {
        Err(error) => {
            eprintln!("canvas-load: {error}");
            ExitCode::from(2)
        }
        Ok(outcome) => {
            print_summary(&outcome.figures);
            println!("{}", outcome.figures);
            match outcome.converged {
                Some(false) => ExitCode::from(1),
                _ => ExitCode::SUCCESS,
            }
        }
    }
}

fn print_summary(figures: &serde_json::Value) {
    let f = |path: &str| -> String {
        path.split('.')
            .try_fold(figures, |value, key| value.get(key))
            .map_or("-".into(), |v| v.to_string())
    };
    println!("== canvas-load summary ==");
    println!(
        "clients      {} connected, {} up at end, {} disconnects",
        f("connected"),
        f("up_at_end"),
        f("disconnects")
    );
    println!(
        "placements/s sent {} accepted {} refused {}",
        f("sent_per_s"),
        f("accepted_per_s"),
        f("refused_per_s")
    );
    println!(
        "fan-out      {} frames/s, {} tiles/s (ratio {})",
        f("tiles_frames_per_s"),
        f("tiles_per_s"),
        f("delivery_ratio")
    );
    println!("place->ack   {} ms", f("ack_ms"));
    println!("visible      {} ms", f("visible_ms"));
    println!(
        "stream       gaps {} missing {} dup {} resyncs {} errors {} bad {}",
        f("gaps"),
        f("missing_tiles"),
        f("dup_tiles"),
        f("resyncs"),
        f("error_frames"),
        f("bad_frames")
    );
    println!("server       {}", f("server"));
    println!("load         {} machine {}", f("loadgen"), f("machine"));
    if figures.get("verify").is_some() {
        println!("verify       {}", f("verify"));
    }
}
