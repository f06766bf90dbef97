//! Command-line options. They follow the external load generator the issues'
//! figures come from (`-c`, `-p`, `-r`, `-w`, `-d`, `--ramp`, `--verify`,
//! `--pids`…), so `scripts/bench` can drive either one.

use std::time::Duration;

pub const USAGE: &str = "\
canvas-load [OPTIONS] <TARGET_URL>...

Opens persistent WebSocket clients spread over the targets (instances of one
deployment), has some of them place tiles, and measures what the protocol
promises: every client receives every tile, in seq order, promptly.

  -c, --clients N           WebSocket clients (100)
  -p, --placers K           clients 0..K-1 also place tiles (10)
  -r, --rate R              placements/s over all placers, open loop; 0: closed
                            loop, each placer keeps --window in flight (1000)
  -w, --window W            placements in flight per placer with --rate 0 (32)
  -d, --duration S          measured seconds (10)
      --warmup S            seconds of placing before the window (2)
      --ramp S              spread the connections over S seconds (0)
      --colors C            colors 0..C-1 are placed (16)
      --verify              after the run, wait for quiet, then check that every
                            tracked client's canvas equals every target's
                            /api/canvas and every client is at the final seq
      --audit               with --verify: every placement acknowledged as
                            accepted must be in the deployment's history at
                            its seq with its tile (read through
                            /api/placements of the first target)
      --track T             clients that keep a whole canvas (2 per target with
                            --verify)
      --quiet-ms MS         quiet that ends the run (1000)
      --verify-timeout S    longest wait for quiet (30)
      --pids P,P            server processes whose memory and CPU are sampled
      --connect-concurrency N  handshakes in flight at once (256)
      --http-rate R         also fetch /api/canvas and /api/canvas.png, R
                            requests/s in all, while placing (a snapshot
                            flood); reports statuses, X-Cache and latency
      --source-ips N        connect from 127.0.0.2 … 127.0.0.(N+1), client i
                            from the (i mod N)-th (a proxy that limits per
                            address sees N addresses); loopback targets only
      --view V              each client watches the chunks of a random V x V
                            view instead of the whole canvas (Watch, ViewTiles);
                            the observers watch the view at (0, 0), and only
                            placements there count for visibility; with
                            --verify the tracked clients keep their chunks
                            and compare them with /api/chunks (0: whole canvas)
      --chat-rate R         also post R chat messages/s (Chat frames) while
                            placing, from clients other than the placers, each
                            at most one every 2 s; reports what was posted,
                            refused and delivered (ChatLine frames). The
                            server's chat limits must allow it (CHAT_PER_MINUTE)
      --no-progress         no progress lines on stderr

The last line of stdout is one JSON object with every figure. Exit codes: 0
ok, 1 verification failed, 2 bad arguments or no client could connect.";

#[derive(Debug, Clone)]
pub struct Options {
    pub targets: Vec<String>,
    pub clients: usize,
    pub placers: usize,
    pub rate: f64,
    pub window: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub ramp: Duration,
    pub colors: u8,
    pub verify: bool,
    pub audit: bool,
    pub track: usize,
    pub quiet: Duration,
    pub verify_timeout: Duration,
    pub pids: Vec<u32>,
    pub connect_concurrency: usize,
    pub progress: bool,
    pub http_rate: f64,
    pub source_ips: usize,
    /// The side of each client's view when clients watch chunks; 0: they
    /// take the whole canvas.
    pub view: u32,
    /// Chat messages posted a second while placing (0: none).
    pub chat_rate: f64,
}

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Options {
            targets: Vec::new(),
            clients: 100,
            placers: 10,
            rate: 1000.0,
            window: 32,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            ramp: Duration::ZERO,
            colors: 16,
            verify: false,
            audit: false,
            track: usize::MAX,
            quiet: Duration::from_millis(1000),
            verify_timeout: Duration::from_secs(30),
            pids: Vec::new(),
            connect_concurrency: 256,
            progress: true,
            http_rate: 0.0,
            source_ips: 0,
            view: 0,
            chat_rate: 0.0,
        };
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "-c" | "--clients" => options.clients = number(&value(&arg)?)?,
                "-p" | "--placers" => options.placers = number(&value(&arg)?)?,
                "-r" | "--rate" => options.rate = number(&value(&arg)?)?,
                "-w" | "--window" => options.window = number(&value(&arg)?)?,
                "-d" | "--duration" => options.duration = seconds(&value(&arg)?)?,
                "--warmup" => options.warmup = seconds(&value(&arg)?)?,
                "--ramp" => options.ramp = seconds(&value(&arg)?)?,
                "--colors" => options.colors = number(&value(&arg)?)?,
                "--verify" => options.verify = true,
                "--audit" => options.audit = true,
                "--track" => options.track = number(&value(&arg)?)?,
                "--quiet-ms" => {
                    options.quiet = Duration::from_millis(number(&value(&arg)?)?);
                }
                "--verify-timeout" => options.verify_timeout = seconds(&value(&arg)?)?,
                "--pids" => {
                    options.pids = value(&arg)?
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(number)
                        .collect::<Result<_, _>>()?;
                }
                "--connect-concurrency" => options.connect_concurrency = number(&value(&arg)?)?,
                "--no-progress" => options.progress = false,
                "--http-rate" => options.http_rate = number(&value(&arg)?)?,
                "--view" => options.view = number(&value(&arg)?)?,
                "--chat-rate" => options.chat_rate = number(&value(&arg)?)?,
                "--source-ips" => options.source_ips = number(&value(&arg)?)?,
                "-h" | "--help" => return Err(USAGE.to_owned()),
                flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
                target => options
                    .targets
                    .push(target.trim_end_matches('/').to_owned()),
            }
        }
        if options.targets.is_empty() {
            return Err("at least one target URL is needed".into());
        }
        if !options.targets.iter().all(|t| t.starts_with("http://")) {
            return Err("targets are http:// URLs".into());
        }
        if options.placers > options.clients {
            return Err("--placers cannot exceed --clients".into());
        }
        if options.rate < 0.0 || options.window == 0 || options.colors == 0 {
            return Err("--rate must be >= 0, --window and --colors >= 1".into());
        }
        if options.http_rate < 0.0 || options.source_ips > 250 {
            return Err("--http-rate must be >= 0 and --source-ips at most 250".into());
        }
        if options.track == usize::MAX {
            options.track = if options.verify {
                2 * options.targets.len()
            } else {
                0
            };
        }
        options.track = options.track.min(options.clients - options.placers);
        options.connect_concurrency = options.connect_concurrency.max(1);
        Ok(options)
    }
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = number(text)?;
    if !(0.0..1e6).contains(&value) {
        return Err(format!("not a duration in seconds: {text}"));
    }
    Ok(Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Options, String> {
        Options::parse(args.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn reads_the_external_generators_options() {
        let options = parse(
            "http://a:1 http://b:2/ -c 40 -p 20 -r 0 -w 1 -d 2.5 --ramp 1 --verify --pids 7,8",
        )
        .unwrap();
        assert_eq!(options.targets, ["http://a:1", "http://b:2"]);
        assert_eq!(
            (options.clients, options.placers, options.window),
            (40, 20, 1)
        );
        assert_eq!(options.rate, 0.0);
        assert_eq!(options.duration, Duration::from_millis(2500));
        assert_eq!(options.track, 4);
        assert_eq!(options.pids, [7, 8]);
    }

    #[test]
    fn refuses_what_cannot_run() {
        assert!(parse("-c 5").is_err());
        assert!(parse("http://a -c 5 -p 6").is_err());
        assert!(parse("ws://a").is_err());
        assert!(parse("http://a --bogus").is_err());
        assert!(parse("http://a -d -1").is_err());
    }
}
