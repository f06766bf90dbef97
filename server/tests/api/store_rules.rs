//! The store's rules, written once against the `Store` trait and run
//! against both backends: the embedded store (`backend/memory.rs`) and
//! Redis (`place.lua`, `fill.lua`, `history.lua` on a real `redis-server`).
//! The two implement every rule separately, so each rule here is asked of
//! both, with the same settings, and must get the same answers.

use crate::redis_server::RedisServer;
use app::{chunk::ChunkId, geometry::Coord, palette::ColorIndex, protocol::Tile};
use server::{
    backend::{self, ChatOutcome, ChatPost, FillPlacer, History, Store, CHAT_KEPT},
    config::{Config, Source},
    metrics::Metrics,
    model::{
        AccountId, AddressRange, ArchiveKeep, ArchivedCanvas, ArchivedChunk, BanTarget, Board,
        ClientAddress, Period, PlaceOutcome, Placement, Placer, Placing, SessionId,
    },
    rollback,
};
use std::{collections::HashMap, net::IpAddr, sync::Arc, time::Duration, time::SystemTime};
use tokio_util::sync::{CancellationToken, DropGuard};

/// One backend, opened as an instance opens it.
struct Opened {
    name: &'static str,
    store: Arc<dyn Store>,
    config: Config,
    _redis: Option<RedisServer>,
    _stop: DropGuard,
}

/// Both backends with the settings `vars` (and a Redis of its own for the
/// second), each with its canvas created.
async fn backends(vars: &[(&str, &str)]) -> Vec<Opened> {
    let mut opened = Vec::new();
    for redis in [None, Some(RedisServer::start().await)] {
        let mut all: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(redis) = &redis {
            all.insert("REDIS_URL".into(), redis.url());
        }
        let config = Config::from_source(Source(move |name: &str| all.get(name).cloned()))
            .expect("a valid configuration");
        let stop = CancellationToken::new();
        let backend = backend::open(
            &config,
            &Default::default(),
            &stop,
            &Arc::new(Metrics::new()),
        )
        .expect("the backend opens");
        backend.store.snapshot().await.expect("the canvas is made");
        opened.push(Opened {
            name: if redis.is_some() { "redis" } else { "embedded" },
            store: backend.store,
            config,
            _redis: redis,
            _stop: stop.drop_guard(),
        });
    }
    opened
}

impl Opened {
    fn coord(&self, x: u16, y: u16) -> Coord {
        self.config.canvas.coord(x, y).expect("on the canvas")
    }

    async fn place(&self, session: &SessionId, address: &str, x: u16) -> PlaceOutcome {
        self.place_color(session, address, x, 3).await
    }

    async fn place_color(
        &self,
        session: &SessionId,
        address: &str,
        x: u16,
        color: u8,
    ) -> PlaceOutcome {
        let placing = Placing::Tile {
            coord: self.coord(x, 0),
            color: ColorIndex::parse(color).expect("a color"),
        };
        self.placing(session, address, placing).await
    }

    async fn undo(&self, session: &SessionId, address: &str) -> PlaceOutcome {
        self.placing(session, address, Placing::Undo).await
    }

    async fn placing(&self, session: &SessionId, address: &str, placing: Placing) -> PlaceOutcome {
        let placement = Placement {
            placing,
            session: session.clone(),
            address: address_of(address),
            at: SystemTime::now(),
        };
        self.store
            .place(placement)
            .await
            .expect("the store answers")
    }

    /// The color of pixel (x, 0) now.
    async fn color_at(&self, x: u16) -> u8 {
        let snapshot = self.store.snapshot().await.expect("a snapshot");
        snapshot.chunks.pixel(x, 0)
    }

    async fn epoch(&self) -> u64 {
        self.store.snapshot().await.expect("a snapshot").epoch
    }
}

fn address_of(address: &str) -> ClientAddress {
    ClientAddress::of(address.parse::<IpAddr>().expect("an address"))
}

fn accepted(outcome: PlaceOutcome) -> bool {
    matches!(outcome, PlaceOutcome::Accepted { .. })
}

const LONG_COOLDOWN: (&str, &str) = ("COOLDOWN_MS", "60000");
const NO_BUDGET: (&str, &str) = ("PLACEMENTS_PER_ADDRESS", "0");

#[tokio::test]
async fn a_session_waits_out_its_cooldown_and_others_do_not() {
    for store in backends(&[LONG_COOLDOWN, NO_BUDGET]).await {
        let (alice, bob) = (SessionId::generate(), SessionId::generate());
        assert!(
            accepted(store.place(&alice, "192.0.2.1", 1).await),
            "{}",
            store.name
        );
        match store.place(&alice, "192.0.2.1", 2).await {
            PlaceOutcome::Cooldown { retry_after } => assert!(
                retry_after > Duration::from_secs(55) && retry_after <= Duration::from_secs(60),
                "{}: {retry_after:?}",
                store.name
            ),
            other => panic!("{}: {other:?}", store.name),
        }
        assert!(
            accepted(store.place(&bob, "192.0.2.1", 3).await),
            "{}",
            store.name
        );
    }
}

/// The time a session's pool takes to be full again, from an answer.
fn refill_of(outcome: &PlaceOutcome) -> Duration {
    match outcome {
        PlaceOutcome::Accepted { refill, .. } | PlaceOutcome::Shadowed { refill } => *refill,
        other => panic!("not placed: {other:?}"),
    }
}

#[tokio::test]
async fn a_session_places_its_charges_in_a_row_then_one_per_cooldown() {
    let vars = [("CHARGES_MAX", "3"), ("COOLDOWN_MS", "400"), NO_BUDGET];
    for store in backends(&vars).await {
        let session = SessionId::generate();
        let cooldown = Duration::from_millis(400);
        for (x, charges_spent) in (1..=3).zip(1u32..) {
            let outcome = store.place(&session, "192.0.2.1", x).await;
            let refill = refill_of(&outcome);
            assert!(
                refill <= cooldown * charges_spent && refill > cooldown * (charges_spent - 1),
                "{}: charge {charges_spent} spent, refill {refill:?}",
                store.name
            );
        }
        let retry_after = match store.place(&session, "192.0.2.1", 4).await {
            PlaceOutcome::Cooldown { retry_after } => retry_after,
            other => panic!("{}: the pool is empty, yet {other:?}", store.name),
        };
        assert!(retry_after <= cooldown, "{}: {retry_after:?}", store.name);
        let refill = store.store.refill(&session).await.unwrap();
        assert!(
            refill > cooldown * 2 && refill <= cooldown * 3,
            "{}: {refill:?}",
            store.name
        );
        // One charge comes back after a cooldown, not all three.
        tokio::time::sleep(retry_after + Duration::from_millis(30)).await;
        assert!(accepted(store.place(&session, "192.0.2.1", 4).await));
        assert!(
            matches!(
                store.place(&session, "192.0.2.1", 5).await,
                PlaceOutcome::Cooldown { .. }
            ),
            "{}",
            store.name
        );
    }
}

#[tokio::test]
async fn an_undo_puts_the_color_and_the_charge_back_until_someone_places_there() {
    let vars = [LONG_COOLDOWN, ("UNDO_MS", "60000"), NO_BUDGET];
    for store in backends(&vars).await {
        let (alice, bob) = (SessionId::generate(), SessionId::generate());
        let address = "192.0.2.1";
        assert!(accepted(store.place_color(&alice, address, 1, 5).await));
        assert!(accepted(store.place_color(&bob, address, 1, 7).await));
        // Bob's tile over Alice's: hers is not to undo any more.
        assert_eq!(
            store.undo(&alice, address).await,
            PlaceOutcome::NothingToUndo,
            "{}",
            store.name
        );
        assert_eq!(store.color_at(1).await, 7, "{}", store.name);

        // Bob undoes his: Alice's color is back, and so is his charge.
        let undone = store.undo(&bob, address).await;
        assert!(accepted(undone), "{}: {undone:?}", store.name);
        assert_eq!(refill_of(&undone), Duration::ZERO, "{}", store.name);
        assert_eq!(store.color_at(1).await, 5, "{}", store.name);
        assert_eq!(
            store.undo(&bob, address).await,
            PlaceOutcome::NothingToUndo,
            "{}: once only",
            store.name
        );
        assert!(
            accepted(store.place_color(&bob, address, 2, 9).await),
            "{}: the charge came back",
            store.name
        );
        assert!(accepted(store.undo(&bob, address).await));
        assert_eq!(store.color_at(2).await, 0, "{}: white again", store.name);
        let record = store.store.pixel(store.coord(2, 0)).await.unwrap().unwrap();
        assert!(record.seq > 0, "{}: an ordinary placement", store.name);
    }
    // Past the undo time, nothing is undone.
    for store in backends(&[LONG_COOLDOWN, ("UNDO_MS", "200"), NO_BUDGET]).await {
        let alice = SessionId::generate();
        assert!(accepted(store.place_color(&alice, "192.0.2.1", 1, 5).await));
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            store.undo(&alice, "192.0.2.1").await,
            PlaceOutcome::NothingToUndo,
            "{}",
            store.name
        );
        assert_eq!(store.color_at(1).await, 5);
    }
}

#[tokio::test]
async fn placements_count_on_the_boards_and_a_pixel_stands_for_its_last_placer() {
    for store in backends(&[NO_BUDGET, ("COOLDOWN_MS", "0")]).await {
        let (alice, bob) = (SessionId::generate(), SessionId::generate());
        let (ann, bo) = (alice.handle(), bob.handle());
        for x in [1, 2, 3] {
            assert!(accepted(store.place(&alice, "192.0.2.1", x).await));
        }
        for x in [3, 4] {
            assert!(accepted(store.place(&bob, "192.0.2.2", x).await));
        }
        // Counted from the history where not as they are made: once only,
        // however many folds.
        let folded = store.store.fold_boards().await.unwrap();
        assert!(folded == 0 || folded == 5, "{}: {folded}", store.name);
        store.store.fold_boards().await.unwrap();
        let board = |board| store.store.leaderboard(board, 10);
        for period in [Period::All, Period::Today, Period::ThisWeek] {
            assert_eq!(
                board(Board::Placed(period)).await.unwrap(),
                [(ann.clone(), 3), (bo.clone(), 2)],
                "{}: {period:?}",
                store.name
            );
        }
        // Bob's tile over Alice's at x = 3: two pixels stand for each.
        let mut standing = board(Board::Standing).await.unwrap();
        standing.sort();
        let mut expected = vec![(ann.clone(), 2), (bo.clone(), 2)];
        expected.sort();
        assert_eq!(standing, expected, "{}", store.name);
        let figures = store.store.player(&ann).await.unwrap();
        assert_eq!((figures.placed, figures.standing), (3, 2), "{}", store.name);
        assert!(figures.first.is_some() && figures.first <= figures.last);
        assert_eq!(
            store.store.player("0123456789abcdef").await.unwrap(),
            Default::default()
        );

        // A moderator's wipe of x = 1: that pixel stands for nobody.
        let placer = FillPlacer {
            address: address_of("192.0.2.9"),
            name: String::new(),
        };
        let wipe = [(store.coord(1, 0), 0)];
        store.store.fill(&wipe, &placer).await.unwrap();
        // Counted by the next fold (one instance's turn a second).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while store.store.player(&ann).await.unwrap().standing != 1 {
            let late = tokio::time::Instant::now() > deadline;
            assert!(!late, "{}: the wipe is counted", store.name);
            store.store.fold_boards().await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let names = ["Ann", "Anna"].map(|n| app::name::DisplayName::parse(n).unwrap());
        for name in &names {
            store.store.set_display_name(&alice, name).await.unwrap();
        }
        let taken: Vec<String> = store
            .store
            .names(&ann)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        assert_eq!(taken, ["Anna", "Ann"], "{}: newest first", store.name);

        // A banned player leaves the boards while the ban lasts.
        let ban = BanTarget::Session(ann.clone());
        store
            .store
            .ban(&ban, Duration::from_secs(60), false)
            .await
            .unwrap();
        assert_eq!(
            board(Board::Placed(Period::All)).await.unwrap(),
            [(bo.clone(), 2)],
            "{}",
            store.name
        );
    }
}

#[tokio::test]
async fn unverified_sessions_of_one_address_share_its_budget() {
    for challenge in ["suspicious", "off"] {
        let vars = [
            LONG_COOLDOWN,
            ("PLACEMENTS_PER_ADDRESS", "2"),
            ("CHALLENGE", challenge),
        ];
        for store in backends(&vars).await {
            let sessions: Vec<_> = (0..3).map(|_| SessionId::generate()).collect();
            assert!(accepted(store.place(&sessions[0], "198.51.100.7", 1).await));
            assert!(accepted(store.place(&sessions[1], "198.51.100.7", 2).await));
            let third = store.place(&sessions[2], "198.51.100.7", 3).await;
            match (challenge, third) {
                ("suspicious", PlaceOutcome::ChallengeRequired) => {}
                ("off", PlaceOutcome::Cooldown { retry_after }) => {
                    assert!(retry_after > Duration::ZERO, "{}", store.name)
                }
                (_, other) => panic!("{} with CHALLENGE={challenge}: {other:?}", store.name),
            }
            // Another address has a budget of its own.
            assert!(
                accepted(store.place(&sessions[2], "198.51.100.8", 4).await),
                "{}",
                store.name
            );
        }
    }
}

#[tokio::test]
async fn every_session_needs_a_challenge_when_always_asked() {
    for store in backends(&[NO_BUDGET, ("CHALLENGE", "always")]).await {
        let outcome = store.place(&SessionId::generate(), "192.0.2.9", 1).await;
        assert_eq!(outcome, PlaceOutcome::ChallengeRequired, "{}", store.name);
    }
}

#[tokio::test]
async fn a_banned_session_is_refused_until_the_ban_is_lifted() {
    for store in backends(&[NO_BUDGET]).await {
        let (banned, other) = (SessionId::generate(), SessionId::generate());
        let target = BanTarget::Session(banned.handle());
        store
            .store
            .ban(&target, Duration::from_secs(600), false)
            .await
            .unwrap();
        match store.place(&banned, "192.0.2.1", 1).await {
            PlaceOutcome::Banned { retry_after } => assert!(
                retry_after > Duration::from_secs(590) && retry_after <= Duration::from_secs(600),
                "{}: {retry_after:?}",
                store.name
            ),
            other => panic!("{}: {other:?}", store.name),
        }
        assert!(
            accepted(store.place(&other, "192.0.2.1", 2).await),
            "{}",
            store.name
        );
        assert!(
            store.store.lift_ban(&target).await.unwrap(),
            "{}",
            store.name
        );
        assert!(
            !store.store.lift_ban(&target).await.unwrap(),
            "{}: lifted twice",
            store.name
        );
        assert!(
            accepted(store.place(&banned, "192.0.2.1", 3).await),
            "{}",
            store.name
        );
    }
}

#[tokio::test]
async fn an_address_ban_refuses_every_session_of_that_address() {
    for store in backends(&[NO_BUDGET]).await {
        let target = BanTarget::Address(address_of("203.0.113.5"));
        store
            .store
            .ban(&target, Duration::from_secs(600), false)
            .await
            .unwrap();
        for x in 0..3 {
            let outcome = store.place(&SessionId::generate(), "203.0.113.5", x).await;
            assert!(
                matches!(outcome, PlaceOutcome::Banned { .. }),
                "{}: {outcome:?}",
                store.name
            );
        }
        // An IPv6 ban covers the client's whole /64.
        let target = BanTarget::Address(address_of("2001:db8:1:2::1"));
        store
            .store
            .ban(&target, Duration::from_secs(600), false)
            .await
            .unwrap();
        let outcome = store
            .place(&SessionId::generate(), "2001:db8:1:2:ffff::9", 5)
            .await;
        assert!(
            matches!(outcome, PlaceOutcome::Banned { .. }),
            "{}: {outcome:?}",
            store.name
        );
        assert!(accepted(
            store.place(&SessionId::generate(), "203.0.113.6", 4).await
        ));
        assert!(accepted(
            store
                .place(&SessionId::generate(), "2001:db8:1:3::1", 6)
                .await
        ));
    }
}

#[tokio::test]
async fn a_shadow_banned_session_is_told_yes_and_changes_nothing() {
    for store in backends(&[NO_BUDGET]).await {
        let shadowed = SessionId::generate();
        let target = BanTarget::Session(shadowed.handle());
        store
            .store
            .ban(&target, Duration::from_secs(600), true)
            .await
            .unwrap();
        let before = store.store.snapshot().await.unwrap();
        let outcome = store.place(&shadowed, "192.0.2.1", 7).await;
        assert!(
            matches!(outcome, PlaceOutcome::Shadowed { .. }),
            "{}: {outcome:?}",
            store.name
        );
        let after = store.store.snapshot().await.unwrap();
        assert_eq!(
            (after.seq, after.chunks),
            (before.seq, before.chunks),
            "{}",
            store.name
        );
    }
}

#[tokio::test]
async fn a_frozen_canvas_refuses_until_it_thaws() {
    for store in backends(&[NO_BUDGET]).await {
        let session = SessionId::generate();
        store.store.set_frozen(true).await.unwrap();
        assert!(store.store.is_frozen().await.unwrap(), "{}", store.name);
        assert_eq!(
            store.place(&session, "192.0.2.1", 1).await,
            PlaceOutcome::Frozen
        );
        store.store.set_frozen(false).await.unwrap();
        assert!(!store.store.is_frozen().await.unwrap(), "{}", store.name);
        assert!(
            accepted(store.place(&session, "192.0.2.1", 1).await),
            "{}",
            store.name
        );
    }
}

#[tokio::test]
async fn placements_take_consecutive_seqs_and_history_pages_through_them() {
    for store in backends(&[NO_BUDGET, ("COOLDOWN_MS", "0")]).await {
        let session = SessionId::generate();
        let mut seqs = Vec::new();
        for x in 0..10 {
            match store.place(&session, "192.0.2.1", x).await {
                PlaceOutcome::Accepted { seq, .. } => seqs.push(seq),
                other => panic!("{}: {other:?}", store.name),
            }
        }
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "{}", store.name);
        let epoch = store.epoch().await;
        // A page of 4 after seq 3, then the rest.
        let History::Placements(page) = store.store.history(epoch, 3, 4).await.unwrap() else {
            panic!("{}: no page", store.name);
        };
        let paged: Vec<_> = page.iter().map(|u| (u.seq, u.tile.x)).collect();
        assert_eq!(paged, [(4, 3), (5, 4), (6, 5), (7, 6)], "{}", store.name);
        let History::Placements(rest) = store.store.history(epoch, 7, 100).await.unwrap() else {
            panic!("{}: no rest", store.name);
        };
        assert_eq!(rest.iter().map(|u| u.seq).collect::<Vec<_>>(), [8, 9, 10]);
        assert_eq!(
            store.store.history(epoch, 10, 100).await.unwrap(),
            History::Placements(Vec::new()),
            "{}: nothing after the newest",
            store.name
        );
        assert_eq!(
            store.store.history(epoch, 11, 100).await.unwrap(),
            History::WentBack,
            "{}",
            store.name
        );
        assert_eq!(
            store
                .store
                .history(epoch.wrapping_add(1), 3, 100)
                .await
                .unwrap(),
            History::OtherEpoch,
            "{}",
            store.name
        );
    }
}

#[tokio::test]
async fn a_fill_takes_one_seq_per_pixel_and_shows_in_snapshot_and_history() {
    for store in backends(&[NO_BUDGET]).await {
        let before = store.store.snapshot().await.unwrap().seq;
        let pixels: Vec<(Coord, u8)> = (0..5).map(|x| (store.coord(x, 9), 7)).collect();
        let placer = FillPlacer {
            name: "Mia".into(),
            address: address_of("192.0.2.50"),
        };
        let filled = store.store.fill(&pixels, &placer).await.unwrap();
        assert_eq!(
            (filled.first_seq, filled.last_seq),
            (before + 1, before + 5),
            "{}",
            store.name
        );
        let snapshot = store.store.snapshot().await.unwrap();
        assert_eq!(snapshot.seq, before + 5, "{}", store.name);
        for (coord, color) in &pixels {
            let pixel = snapshot.chunks.pixel(coord.x, coord.y);
            assert_eq!(pixel, *color, "{}", store.name);
        }
        let History::Placements(history) = store
            .store
            .history(snapshot.epoch, before, 100)
            .await
            .unwrap()
        else {
            panic!("{}: no history", store.name);
        };
        assert_eq!(history.len(), 5, "{}", store.name);
        assert!(history.iter().all(|u| u.tile.y == 9 && u.tile.color == 7));
        // Who placed a pixel: the moderator, by name.
        let record = store
            .store
            .pixel(pixels[0].0)
            .await
            .unwrap()
            .expect("a record");
        assert_eq!(record.placed_by.as_deref(), Some("Mia"), "{}", store.name);
    }
}

#[tokio::test]
async fn an_address_is_given_so_many_new_sessions() {
    for store in backends(&[]).await {
        let (crowded, other) = (address_of("192.0.2.77"), address_of("192.0.2.78"));
        for _ in 0..3 {
            assert!(
                store.store.admit_new_session(crowded, 3).await.unwrap(),
                "{}",
                store.name
            );
        }
        assert!(
            !store.store.admit_new_session(crowded, 3).await.unwrap(),
            "{}",
            store.name
        );
        assert!(
            store.store.admit_new_session(other, 3).await.unwrap(),
            "{}",
            store.name
        );
        assert!(
            store.store.admit_new_session(crowded, 0).await.unwrap(),
            "{}: 0 is no limit",
            store.name
        );
    }
}

#[tokio::test]
async fn a_solved_puzzle_verifies_one_session_which_places_outside_the_budget() {
    let vars = [
        LONG_COOLDOWN,
        ("PLACEMENTS_PER_ADDRESS", "1"),
        ("CHALLENGE", "suspicious"),
    ];
    for store in backends(&vars).await {
        let (first, verified, late) = (
            SessionId::generate(),
            SessionId::generate(),
            SessionId::generate(),
        );
        let valid = Duration::from_secs(600);
        assert!(
            store
                .store
                .redeem_puzzle(&verified, "puzzle-1", valid)
                .await
                .unwrap(),
            "{}",
            store.name
        );
        assert!(
            !store
                .store
                .redeem_puzzle(&late, "puzzle-1", valid)
                .await
                .unwrap(),
            "{}: a puzzle verifies once",
            store.name
        );
        assert!(
            accepted(store.place(&first, "192.0.2.30", 1).await),
            "{}",
            store.name
        );
        assert_eq!(
            store.place(&late, "192.0.2.30", 2).await,
            PlaceOutcome::ChallengeRequired
        );
        assert!(
            accepted(store.place(&verified, "192.0.2.30", 3).await),
            "{}",
            store.name
        );
    }
}

#[tokio::test]
async fn names_and_the_shared_secret_are_kept() {
    for store in backends(&[]).await {
        let (named, other) = (SessionId::generate(), SessionId::generate());
        let name = app::name::DisplayName::parse("Mia").unwrap();
        store.store.set_display_name(&named, &name).await.unwrap();
        assert_eq!(
            store.store.display_name(&named).await.unwrap().as_deref(),
            Some("Mia")
        );
        assert_eq!(
            store.store.display_name(&other).await.unwrap(),
            None,
            "{}",
            store.name
        );
        let first = store.store.shared_secret("first-candidate").await.unwrap();
        let second = store.store.shared_secret("second-candidate").await.unwrap();
        assert_eq!(
            (first.as_str(), second.as_str()),
            ("first-candidate", "first-candidate")
        );
    }
}

#[tokio::test]
async fn an_account_is_one_player_on_every_device() {
    for store in backends(&[]).await {
        let (first, second) = (SessionId::generate(), SessionId::generate());
        let account = AccountId::new("https://id.example", "alice");
        let store_name = store.name;
        let store = &store.store;
        // New to the deployment: the session it signs in from is its player.
        assert_eq!(
            store.sign_in(&account, "local", &first).await.unwrap(),
            first
        );
        // On another device: that device is handed the same player.
        assert_eq!(
            store.sign_in(&account, "local", &second).await.unwrap(),
            first,
            "{store_name}"
        );
        let linked = store.linked(&first).await.unwrap().expect("signed in");
        assert_eq!(
            (linked.provider.as_str(), &linked.account),
            ("local", &account)
        );
        assert_eq!(store.linked(&second).await.unwrap(), None, "{store_name}");
        // Another issuer's subject of the same name is another account.
        let elsewhere = AccountId::new("https://other.example", "alice");
        assert_eq!(
            store.sign_in(&elsewhere, "other", &second).await.unwrap(),
            second
        );
    }
}

#[tokio::test]
async fn deleting_an_account_erases_the_players_name_and_figures_and_keeps_the_pixels() {
    for store in backends(&[NO_BUDGET, ("COOLDOWN_MS", "0")]).await {
        let (alice, bob) = (SessionId::generate(), SessionId::generate());
        let name = app::name::DisplayName::parse("Alice").unwrap();
        store.store.set_display_name(&alice, &name).await.unwrap();
        assert!(accepted(store.place(&alice, "192.0.2.1", 1).await));
        assert!(accepted(store.place(&bob, "192.0.2.2", 2).await));
        store.store.fold_boards().await.unwrap();
        let account = AccountId::new("https://id.example", "alice");
        store
            .store
            .sign_in(&account, "local", &alice)
            .await
            .unwrap();
        assert!(
            !store.store.delete_account(&bob).await.unwrap(),
            "not signed in"
        );

        assert!(store.store.delete_account(&alice).await.unwrap());
        store.store.forget_player(&alice.handle()).await.unwrap();
        let (name, handle) = (store.name, alice.handle());
        assert!(store.store.is_erased(&handle).await.unwrap());
        assert!(!store.store.is_erased(&bob.handle()).await.unwrap());
        assert_eq!(store.store.linked(&alice).await.unwrap(), None, "{name}");
        assert_eq!(
            store.store.display_name(&alice).await.unwrap(),
            None,
            "{name}"
        );
        assert!(
            store.store.names(&handle).await.unwrap().is_empty(),
            "{name}"
        );
        assert_eq!(
            store.store.player(&handle).await.unwrap(),
            Default::default()
        );
        let board = store
            .store
            .leaderboard(Board::Placed(Period::All), 10)
            .await
            .unwrap();
        assert_eq!(board, [(bob.handle(), 1)], "{name}");
        // The pixel stays, without the name.
        let pixel = store.store.pixel(store.coord(1, 0)).await.unwrap().unwrap();
        assert_eq!((pixel.placed_by, pixel.seq), (None, 1), "{name}");
        // Signing in again makes a new player of the session it comes from.
        let again = SessionId::generate();
        assert_eq!(
            store
                .store
                .sign_in(&account, "local", &again)
                .await
                .unwrap(),
            again
        );
    }
}

fn chat_post(session: &SessionId, address: &str, text: &str, per_session: u32) -> ChatPost {
    ChatPost {
        session: session.clone(),
        address: address_of(address),
        text: app::chat::ChatText::parse(text).unwrap(),
        per_session,
        per_address: per_session * 3,
        window: Duration::from_secs(60),
        challenge_always: false,
        faction: None,
    }
}

#[tokio::test]
async fn the_chat_keeps_the_newest_under_its_limits_mutes_and_bans() {
    for store in backends(&[]).await {
        let name = store.name;
        let store = &store.store;
        let (ada, bob) = (SessionId::generate(), SessionId::generate());
        store
            .set_display_name(&ada, &app::name::DisplayName::parse("Ada").unwrap())
            .await
            .unwrap();
        let mut ids = Vec::new();
        for n in 0..CHAT_KEPT + 5 {
            // Each from its own address and session: only the kept count matters here.
            let from = SessionId::generate();
            let address = format!("10.0.{}.{}", n / 250, n % 250);
            match store
                .post_chat(&chat_post(&from, &address, &format!("m{n}"), 10))
                .await
                .unwrap()
            {
                ChatOutcome::Posted(line) => ids.push(line.id),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{name}: ids increase");
        let recent = store.recent_chat(None, CHAT_KEPT + 10).await.unwrap();
        assert_eq!(recent.len(), CHAT_KEPT, "{name}: the newest are kept");
        assert_eq!(recent.last().unwrap().text, format!("m{}", CHAT_KEPT + 4));
        assert_eq!(recent[0].text, "m5", "{name}: oldest first");

        // A session's limit, then its address's (shared by its sessions).
        let posted = |o: &ChatOutcome| matches!(o, ChatOutcome::Posted(_));
        for _ in 0..2 {
            assert!(posted(
                &store
                    .post_chat(&chat_post(&ada, "192.0.2.1", "hi", 2))
                    .await
                    .unwrap()
            ));
        }
        let third = store
            .post_chat(&chat_post(&ada, "192.0.2.1", "hi", 2))
            .await
            .unwrap();
        assert!(
            matches!(third, ChatOutcome::RateLimited(wait) if wait <= Duration::from_secs(60)),
            "{name}: {third:?}"
        );
        let line = match store
            .post_chat(&chat_post(&bob, "192.0.2.2", "named?", 2))
            .await
            .unwrap()
        {
            ChatOutcome::Posted(line) => line,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!((line.name, line.player), (None, bob.handle()));
        let recent = store.recent_chat(None, 3).await.unwrap();
        assert_eq!(
            recent[0].name.as_deref(),
            Some("Ada"),
            "{name}: the author's name then"
        );

        // A removal; a mute; a shadow ban shows the author alone.
        assert!(store.remove_chat(line.id, None).await.unwrap());
        assert!(!store.remove_chat(line.id, None).await.unwrap());
        assert!(!store
            .recent_chat(None, 5)
            .await
            .unwrap()
            .iter()
            .any(|l| l.id == line.id));
        store
            .mute(&bob.handle(), Duration::from_secs(60))
            .await
            .unwrap();
        let muted = store
            .post_chat(&chat_post(&bob, "192.0.2.2", "hey", 2))
            .await
            .unwrap();
        assert!(matches!(muted, ChatOutcome::Muted(_)), "{name}: {muted:?}");
        assert!(store.unmute(&bob.handle()).await.unwrap());
        let shadow = BanTarget::Session(bob.handle());
        store
            .ban(&shadow, Duration::from_secs(60), true)
            .await
            .unwrap();
        let shadowed = store
            .post_chat(&chat_post(&bob, "192.0.2.2", "hidden", 2))
            .await
            .unwrap();
        assert!(
            matches!(shadowed, ChatOutcome::Shadowed(_)),
            "{name}: {shadowed:?}"
        );
        assert!(!store
            .recent_chat(None, 5)
            .await
            .unwrap()
            .iter()
            .any(|l| l.text == "hidden"));
        store
            .ban(&shadow, Duration::from_secs(60), false)
            .await
            .unwrap();
        let banned = store
            .post_chat(&chat_post(&bob, "192.0.2.2", "x", 2))
            .await
            .unwrap();
        assert!(
            matches!(banned, ChatOutcome::Banned(_)),
            "{name}: {banned:?}"
        );
    }
}

#[tokio::test]
async fn the_archive_keeps_the_newest_and_one_instance_takes_each_turn() {
    for store in backends(&[]).await {
        let interval = Duration::from_secs(600);
        assert!(
            store.store.archive_turn(interval).await.unwrap(),
            "{}",
            store.name
        );
        assert!(
            !store.store.archive_turn(interval).await.unwrap(),
            "{}: one turn",
            store.name
        );
        let keep = ArchiveKeep {
            snapshots: 2,
            bytes: 1 << 20,
        };
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for seq in [10, 20, 30] {
            let png = bytes::Bytes::from(vec![seq as u8; 100]);
            let at = start + Duration::from_secs(seq);
            let canvas = ArchivedCanvas::Whole(png);
            store.store.archive(seq, at, canvas, keep).await.unwrap();
        }
        let archived: Vec<u64> = store
            .store
            .archived()
            .await
            .unwrap()
            .iter()
            .map(|entry| entry.seq)
            .collect();
        assert_eq!(
            archived,
            [30, 20],
            "{}: the newest two, newest first",
            store.name
        );
        assert_eq!(
            store.store.archived_png(20).await.unwrap().as_deref(),
            Some(&[20u8; 100][..])
        );
        assert_eq!(
            store.store.archived_png(10).await.unwrap(),
            None,
            "{}: dropped",
            store.name
        );
    }
}

#[tokio::test]
async fn a_canvas_archived_by_chunk_shares_unchanged_chunks_and_drops_them_with_the_last_holder() {
    for store in backends(&[]).await {
        let keep = ArchiveKeep {
            snapshots: 2,
            bytes: 1 << 20,
        };
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let (a, b, c) = (
            ChunkId { cx: 0, cy: 0 },
            ChunkId { cx: 3, cy: 1 },
            ChunkId { cx: 255, cy: 255 },
        );
        let png = |tag: u8| bytes::Bytes::from(vec![tag; 50]);
        let entry = |chunk, version, stored_with| ArchivedChunk {
            chunk,
            version,
            stored_with,
        };
        // Grown from a canvas sent whole: its last whole archive first.
        let whole = ArchivedCanvas::Whole(png(5));
        store.store.archive(5, at, whole, keep).await.unwrap();
        let rounds = [
            (
                10,
                vec![entry(a, 9, 10), entry(b, 7, 10)],
                vec![(a, png(1)), (b, png(2))],
            ),
            (
                20,
                vec![entry(a, 19, 20), entry(b, 7, 10)],
                vec![(a, png(3))],
            ),
            (
                30,
                vec![entry(a, 19, 20), entry(b, 7, 10), entry(c, 30, 30)],
                vec![(c, png(4))],
            ),
        ];
        for (seq, chunks, pngs) in rounds {
            let canvas = ArchivedCanvas::ByChunk { chunks, pngs };
            store.store.archive(seq, at, canvas, keep).await.unwrap();
        }
        let archived: Vec<(u64, bool)> = store
            .store
            .archived()
            .await
            .unwrap()
            .iter()
            .map(|entry| (entry.seq, entry.by_chunk))
            .collect();
        assert_eq!(archived, [(30, true), (20, true)], "{}", store.name);
        assert_eq!(
            store.store.archived_chunks(20).await.unwrap(),
            Some(vec![entry(a, 19, 20), entry(b, 7, 10)]),
            "{}",
            store.name
        );
        assert_eq!(store.store.archived_chunks(10).await.unwrap(), None);
        let png_of = |chunk, stored_with| store.store.archived_chunk_png(chunk, stored_with);
        assert_eq!(
            png_of(b, 10).await.unwrap(),
            Some(png(2)),
            "{}: still held by the canvases at 20 and 30",
            store.name
        );
        assert_eq!(
            png_of(a, 10).await.unwrap(),
            None,
            "{}: held only by the dropped canvas at 10",
            store.name
        );
        assert_eq!(png_of(a, 20).await.unwrap(), Some(png(3)));
        assert_eq!(png_of(c, 30).await.unwrap(), Some(png(4)));
        assert_eq!(store.store.archived_png(30).await.unwrap(), None);
    }
}

#[tokio::test]
async fn users_online_are_summed_over_instances() {
    for store in backends(&[]).await {
        let ttl = Duration::from_secs(60);
        store.store.report_online("a", 3, ttl).await.unwrap();
        assert_eq!(
            store.store.report_online("b", 4, ttl).await.unwrap(),
            7,
            "{}",
            store.name
        );
        assert_eq!(
            store.store.report_online("a", 1, ttl).await.unwrap(),
            5,
            "{}",
            store.name
        );
    }
}

#[tokio::test]
async fn reports_queue_up_and_are_resolved_and_the_audit_log_reads_newest_first() {
    for store in backends(&[]).await {
        let report = |x| server::model::Report {
            id: String::new(),
            at: SystemTime::now(),
            x,
            y: 2,
            width: 3,
            height: 4,
            reason: format!("report {x}"),
            reporter: "0123456789abcdef".into(),
            address: "192.0.2.1".into(),
            canvas: (x == 2).then(|| "moon".to_owned()),
            // The first reports a chat message too, kept with it.
            message: (x == 1).then(|| app::protocol::ChatLine {
                id: 7,
                at_ms: 1_700_000_000_000,
                player: "0123456789abcdef".into(),
                name: None,
                text: "rude, words".into(),
            }),
            // Posted in faction 4's channel.
            message_faction: (x == 1).then_some(4),
        };
        store.store.report(&report(1)).await.unwrap();
        store.store.report(&report(2)).await.unwrap();
        let open = store.store.reports(10).await.unwrap();
        let reasons: Vec<_> = open.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            ["report 2", "report 1"],
            "{}: newest first",
            store.name
        );
        let canvases: Vec<_> = open.iter().map(|r| r.canvas.as_deref()).collect();
        assert_eq!(canvases, [Some("moon"), None], "{}", store.name);
        assert_eq!(open[1].message, report(1).message, "{}", store.name);
        assert_eq!(open[1].message_faction, Some(4), "{}", store.name);
        assert_eq!(open[0].message, None, "{}", store.name);
        assert!(
            store.store.resolve_report(&open[0].id).await.unwrap(),
            "{}",
            store.name
        );
        assert!(
            !store.store.resolve_report(&open[0].id).await.unwrap(),
            "{}: once",
            store.name
        );
        let left: Vec<_> = store
            .store
            .reports(10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.reason)
            .collect();
        assert_eq!(left, ["report 1"], "{}", store.name);

        for action in ["freeze", "ban", "fill"] {
            let entry = server::model::AuditEntry {
                at: SystemTime::now(),
                by: "Mia".into(),
                address: "192.0.2.1".into(),
                action: action.into(),
                details: serde_json::json!({ "action": action }),
            };
            store.store.record_audit(&entry).await.unwrap();
        }
        let log: Vec<_> = store
            .store
            .audit_log(2)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            log,
            ["fill", "ban"],
            "{}: the newest two, newest first",
            store.name
        );
    }
}

#[tokio::test]
async fn a_range_ban_is_listed_with_its_end_until_lifted() {
    for store in backends(&[NO_BUDGET]).await {
        let range: AddressRange = "203.0.113.0/24".parse().unwrap();
        let shadowed: AddressRange = "2001:db8::/48".parse().unwrap();
        let ban = |target, minutes: u64, shadow| {
            let store = store.store.clone();
            async move {
                let length = Duration::from_secs(minutes * 60);
                store
                    .ban(&BanTarget::Range(target), length, shadow)
                    .await
                    .unwrap();
            }
        };
        ban(range, 10, false).await;
        ban(shadowed, 1, true).await;
        let mut bans = store.store.range_bans().await.unwrap();
        bans.sort_by_key(|ban| ban.until);
        let listed: Vec<_> = bans.iter().map(|ban| (ban.range, ban.shadow)).collect();
        assert_eq!(listed, [(shadowed, true), (range, false)], "{}", store.name);
        let left = bans[1].until.duration_since(SystemTime::now()).unwrap();
        assert!(
            left > Duration::from_secs(590) && left <= Duration::from_secs(600),
            "{}: {left:?}",
            store.name
        );
        let target = BanTarget::Range(range);
        assert!(
            store.store.lift_ban(&target).await.unwrap(),
            "{}",
            store.name
        );
        assert!(
            !store.store.lift_ban(&target).await.unwrap(),
            "{}",
            store.name
        );
        let left: Vec<_> = store
            .store
            .range_bans()
            .await
            .unwrap()
            .iter()
            .map(|b| b.range)
            .collect();
        assert_eq!(left, [shadowed], "{}", store.name);
    }
}

#[tokio::test]
async fn the_logged_history_names_each_placer_so_a_rollback_can_undo_one() {
    for store in backends(&[NO_BUDGET, ("COOLDOWN_MS", "0")]).await {
        let (vandal, neighbour) = (SessionId::generate(), SessionId::generate());
        let (theirs, ours) = ("198.51.100.9", "192.0.2.1");
        // Pixel 1: the neighbour's 3 under the vandal's 5 (put back);
        // pixel 2: the vandal's 5 under the neighbour's 7 (left alone);
        // pixel 3: the vandal's 5 on the blank canvas (back to blank).
        for (session, address, x, color) in [
            (&neighbour, ours, 1, 3),
            (&vandal, theirs, 1, 5),
            (&vandal, theirs, 2, 5),
            (&neighbour, ours, 2, 7),
            (&vandal, theirs, 3, 5),
        ] {
            assert!(accepted(
                store.place_color(session, address, x, color).await
            ));
        }
        let history = store.store.logged_history().await.unwrap();
        let seqs: Vec<u64> = history.iter().map(|logged| logged.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5], "{}", store.name);
        assert!(
            history.iter().all(|logged| logged.at.is_some()),
            "{}",
            store.name
        );
        let placer = Placer {
            session: vandal.handle(),
            address: theirs.to_owned(),
        };
        assert_eq!(history[1].placer.as_ref(), Some(&placer), "{}", store.name);
        let since = SystemTime::now() - Duration::from_secs(60);
        let plan = rollback::plan(&history, since, |p| p.session == vandal.handle());
        let mut restore = plan.restore.clone();
        restore.sort_by_key(|tile| tile.x);
        let tile = |x, color| Tile { x, y: 0, color };
        assert_eq!(restore, [tile(1, 3), tile(3, 0)], "{}", store.name);
        assert_eq!(
            (plan.found, plan.overwritten, plan.beyond_history),
            (3, 1, 0),
            "{}",
            store.name
        );
    }
}

#[tokio::test]
async fn factions_keep_one_owner_and_each_player_in_one_faction() {
    use app::faction::{FactionColor, FactionName, FactionTag, Role};
    use server::model::FactionRefusal;
    let name = |n: &str| FactionName::parse(n).unwrap();
    let tag = |t: &str| FactionTag::parse(t).unwrap();
    let blue = FactionColor::parse("#1e90ff").unwrap();
    for store in backends(&[NO_BUDGET, ("COOLDOWN_MS", "0")]).await {
        let which = store.name;
        let s = &store.store;
        let [ann, bob, cy, dee] = [(); 4].map(|_| SessionId::generate().handle());
        let id = s
            .create_faction(&ann, &name("Blue Corner"), &tag("blu"), &blue)
            .await
            .unwrap()
            .unwrap();
        // A tag is unique whatever its case; a founder founds one at a time.
        let (other, second) = (name("Other"), name("Second"));
        let again = s.create_faction(&bob, &other, &tag("BLU"), &blue).await;
        assert_eq!(again.unwrap(), Err(FactionRefusal::TagTaken), "{which}");
        let twice = s.create_faction(&ann, &second, &tag("SEC"), &blue).await;
        assert_eq!(twice.unwrap(), Err(FactionRefusal::InAFaction));

        // Invitations: the owner's; a stranger's is refused.
        let code = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            s.invite(&bob, code).await.unwrap(),
            Err(FactionRefusal::NotInAFaction)
        );
        assert_eq!(s.invite(&ann, code).await.unwrap(), Ok(id), "{which}");
        let wrong = s.join_faction(&bob, "ffffffffffffffffffffffffffffffff");
        assert_eq!(wrong.await.unwrap(), Err(FactionRefusal::NoInvitation));
        for member in [&bob, &cy, &dee] {
            assert_eq!(
                s.join_faction(member, code).await.unwrap(),
                Ok(id),
                "{which}"
            );
        }
        assert_eq!(
            s.join_faction(&bob, code).await.unwrap(),
            Err(FactionRefusal::InAFaction)
        );
        // A member invites nobody, nor revokes invitations.
        assert_eq!(
            s.invite(&bob, code).await.unwrap(),
            Err(FactionRefusal::NotAllowed)
        );
        assert_eq!(
            s.revoke_invitations(&bob).await.unwrap(),
            Err(FactionRefusal::NotAllowed)
        );
        // Revoked, an owner's invitations let nobody in; a new one does.
        let eve = SessionId::generate().handle();
        assert_eq!(s.revoke_invitations(&ann).await.unwrap(), Ok(id));
        assert_eq!(
            s.join_faction(&eve, code).await.unwrap(),
            Err(FactionRefusal::NoInvitation),
            "{which}"
        );
        let fresh = "fedcba9876543210fedcba9876543210";
        assert_eq!(s.invite(&ann, fresh).await.unwrap(), Ok(id));
        assert_eq!(
            s.join_faction(&eve, fresh).await.unwrap(),
            Ok(id),
            "{which}"
        );
        assert_eq!(s.leave_faction(&eve).await.unwrap(), Ok(id));

        // Roles: the owner names an officer; an officer removes a member
        // but names nobody; nobody changes the owner.
        s.set_role(&ann, &bob, Some(Role::Officer))
            .await
            .unwrap()
            .unwrap();
        let promote = s.set_role(&bob, &cy, Some(Role::Officer));
        assert_eq!(
            promote.await.unwrap(),
            Err(FactionRefusal::NotAllowed),
            "{which}"
        );
        let depose = s.set_role(&bob, &ann, None);
        assert_eq!(depose.await.unwrap(), Err(FactionRefusal::NotAllowed));
        s.set_role(&bob, &dee, None).await.unwrap().unwrap();
        let record = s.faction(id).await.unwrap().unwrap();
        assert_eq!(
            record.members,
            [
                (ann.clone(), Role::Owner),
                (bob.clone(), Role::Officer),
                (cy.clone(), Role::Member)
            ],
            "{which}: the owner first, then officers, then members"
        );
        assert_eq!(
            (record.tag.as_str(), record.color.as_str()),
            ("BLU", "#1e90ff")
        );

        // Badges: one read for many players.
        let badges = s.badges(&[cy.clone(), dee.clone()]).await.unwrap();
        assert_eq!(
            badges[0].as_ref().map(|b| (b.faction, b.tag.as_str())),
            Some((id, "BLU"))
        );
        assert_eq!(badges[1], None, "{which}: a removed member has no badge");

        // Members' placements count for the faction (on the Redis store,
        // once the boards are folded).
        let placer = SessionId::generate();
        let placer_handle = placer.handle();
        assert_eq!(s.join_faction(&placer_handle, fresh).await.unwrap(), Ok(id));
        for x in [1, 2, 3] {
            assert!(accepted(store.place(&placer, "192.0.2.1", x).await));
        }
        assert!(accepted(
            store.place(&SessionId::generate(), "192.0.2.2", 4).await
        ));
        s.fold_boards().await.unwrap();
        for period in [Period::All, Period::Today, Period::ThisWeek] {
            assert_eq!(
                s.faction_board(period, 10).await.unwrap(),
                [(id, 3)],
                "{which}"
            );
        }

        // The faction's channel: its members post there, with their tag;
        // others are refused; the global channel shows the tag too.
        let mut to_faction = chat_post(&placer, "192.0.2.7", "rally at (3, 4)", 10);
        to_faction.faction = Some(id);
        match s.post_chat(&to_faction).await.unwrap() {
            ChatOutcome::Posted(line) => assert_eq!(line.name.as_deref(), Some("[BLU]"), "{which}"),
            other => panic!("{which}: {other:?}"),
        }
        let stranger = SessionId::generate();
        let mut intruding = chat_post(&stranger, "192.0.2.8", "let me in", 10);
        intruding.faction = Some(id);
        let refused = s.post_chat(&intruding).await.unwrap();
        assert_eq!(refused, ChatOutcome::NotInFaction, "{which}");
        let channel = s.recent_chat(Some(id), 10).await.unwrap();
        assert_eq!(channel.len(), 1, "{which}");
        // Removed by a moderator from that channel, not from another.
        assert!(
            !s.remove_chat(channel[0].id, None).await.unwrap(),
            "{which}"
        );
        assert!(
            s.remove_chat(channel[0].id, Some(id)).await.unwrap(),
            "{which}"
        );
        assert!(s.recent_chat(Some(id), 10).await.unwrap().is_empty());
        assert!(s
            .recent_chat(None, 10)
            .await
            .unwrap()
            .iter()
            .all(|line| line.text != "rally at (3, 4)"));

        // The owner hands over and leaves; the last one out disbands it
        // and its tag is free again.
        s.set_role(&ann, &bob, Some(Role::Owner))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.leave_faction(&ann).await.unwrap(), Ok(id));
        assert_eq!(
            s.leave_faction(&ann).await.unwrap(),
            Err(FactionRefusal::NotInAFaction)
        );
        assert_eq!(s.leave_faction(&bob).await.unwrap(), Ok(id), "{which}");
        let record = s.faction(id).await.unwrap().unwrap();
        assert_eq!(
            record.members[0].1,
            Role::Owner,
            "{which}: an heir is named"
        );
        for member in [&cy, &placer_handle] {
            assert_eq!(s.leave_faction(member).await.unwrap(), Ok(id));
        }
        assert_eq!(s.faction(id).await.unwrap(), None, "{which}: disbanded");
        let refound = s
            .create_faction(&dee, &name("Blue Again"), &tag("BLU"), &blue)
            .await;
        assert!(refound.unwrap().is_ok(), "{which}: the tag is free");
        let stale = s.join_faction(&bob, code);
        assert_eq!(
            stale.await.unwrap(),
            Err(FactionRefusal::NoInvitation),
            "{which}"
        );
    }
}
