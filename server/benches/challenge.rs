//! How many challenge answers one core checks a second (the issue's bar:
//! at least 100,000). Prints its figures; asserts nothing.
//!
//!     cargo bench -p server --bench challenge

use server::{
    challenge::{solve, Puzzles},
    session::SessionKey,
};
use std::time::{Instant, SystemTime};

fn main() {
    let key = SessionKey::from_secret(b"a benchmark secret of thirty-two bytes");
    let puzzles = Puzzles::new(&key, 100_000);
    let now = SystemTime::now();
    let answers: Vec<_> = (0..16)
        .map(|_| solve(&puzzles.issue(now)).expect("every puzzle has an answer"))
        .collect();

    let started = Instant::now();
    let issued = 200_000;
    for _ in 0..issued {
        std::hint::black_box(puzzles.issue(now));
    }
    let issue_rate = f64::from(issued) / started.elapsed().as_secs_f64();

    let rounds = 400_000;
    let started = Instant::now();
    for n in 0..rounds {
        let answer = &answers[n % answers.len()];
        assert!(puzzles.check(std::hint::black_box(answer), now).is_ok());
    }
    let check_rate = rounds as f64 / started.elapsed().as_secs_f64();

    let solve_started = Instant::now();
    let solved = 20;
    for _ in 0..solved {
        std::hint::black_box(solve(&puzzles.issue(now)));
    }
    let solve_ms = solve_started.elapsed().as_secs_f64() * 1000.0 / f64::from(solved);
    println!("challenge: {check_rate:.0} answers checked/s on one core");
    println!("challenge: {issue_rate:.0} puzzles issued/s on one core");
    println!("challenge: {solve_ms:.1} ms to solve one natively at difficulty 100,000 (mean of {solved})");
}
