//! The command line of `cargo xtask bench server`.

use clap::ValueEnum;

/// `cargo xtask bench server [--seconds N] [--only caudal|nginx]`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Length of each measured run, in seconds.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: u64,
    /// Benchmark one server only.
    #[arg(long, value_enum, value_name = "SERVER")]
    pub only: Option<ServerKind>,
    /// Also run caudal with `--protect /media/` and a signed token on every
    /// request, and report its rate against caudal without (the cost of
    /// checking tokens).
    #[arg(long)]
    pub token: bool,
    /// Measure each server this many times per workload, in alternating
    /// order (A B, B A, ...): the table gives each one's median run, and the
    /// ratios are given per round too (runs a few seconds apart differ by
    /// several percent on a small machine).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,
    /// An extra flag for `caudal serve` (repeatable), e.g.
    /// `--caudal-arg=--zero-copy --caudal-arg=off`.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub caudal_arg: Vec<String>,
}

impl Args {
    /// Whether `kind` is benchmarked in this run.
    pub fn includes(&self, kind: ServerKind) -> bool {
        match kind {
            ServerKind::CaudalToken => self.token && self.only != Some(ServerKind::Nginx),
            _ => self.only.is_none_or(|only| only == kind),
        }
    }
}

/// The servers under comparison; nginx is the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServerKind {
    Nginx,
    Caudal,
    /// caudal with `--protect /media/`, every request carrying a token.
    CaudalToken,
}

impl ServerKind {
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Nginx => "nginx",
            ServerKind::Caudal => "caudal",
            ServerKind::CaudalToken => "caudal+token",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The arguments as `bench server` gets them.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
            .map(|cli| cli.args)
    }

    #[test]
    fn parses_options() -> Result<(), clap::Error> {
        let args = parse(&["--seconds", "3", "--only=nginx"])?;
        assert_eq!(args.seconds, 3);
        assert_eq!(args.only, Some(ServerKind::Nginx));
        assert!(!args.includes(ServerKind::Caudal));
        assert!(parse(&["--only", "apache"]).is_err());
        assert!(parse(&["--seconds", "0"]).is_err());
        Ok(())
    }

    #[test]
    fn defaults_to_ten_seconds_of_both_servers() -> Result<(), clap::Error> {
        let args = parse(&[])?;
        assert_eq!(args.seconds, 10);
        assert!(args.includes(ServerKind::Caudal) && args.includes(ServerKind::Nginx));
        Ok(())
    }
}
