//! The secured section of the report: throughput over SASL_SSL beside PLAINTEXT on the same
//! broker, its targets, and client connection set-up per listener. The section is whole in
//! itself (its own command line, times and failures), so that `suite --secured-only` can put
//! a new one into an existing `latest.md` in place of the old.

use std::fmt::Write as _;
use std::path::Path;

use super::{human_rate, or_dash, spread, write_file, Matrix, Row, Sample, Target};
use crate::connect::{self, SetUpRow};

/// How the section's heading starts; what `--secured-only` looks for.
const HEADING: &str = "## Over TLS";

/// One case over PLAINTEXT and over the secured listener, the same clients in both.
pub(crate) struct SecuredRow {
    pub(crate) plain: Row,
    pub(crate) secured: Row,
}

/// What the secured section measured.
pub(crate) struct Secured {
    /// How tables name the secured listener ("SASL_SSL, SCRAM-SHA-512").
    pub(crate) security: String,
    pub(crate) started: String,
    pub(crate) finished: String,
    pub(crate) producer: Vec<SecuredRow>,
    pub(crate) consumer: Vec<SecuredRow>,
    pub(crate) set_up: Vec<SetUpRow>,
    pub(crate) set_up_runs: usize,
    /// Runs of this section that failed (left out of the medians).
    pub(crate) failures: Vec<String>,
}

fn rate(s: &Sample) -> f64 {
    s.rate
}

fn cpu(s: &Sample) -> f64 {
    s.cpu_per_m
}

fn broker_cpu(s: &Sample) -> f64 {
    s.broker_cpu_per_m.unwrap_or(f64::NAN)
}

/// The section's targets: ferrokafka over rdkafka, both over the secured listener.
fn targets(s: &Secured) -> Vec<Target> {
    let vs = |rows: &[SecuredRow], ours: &str, size: Option<usize>| {
        rows.iter()
            .filter(|r| size.is_none_or(|n| r.secured.size == n))
            .filter_map(|r| {
                let x = r.secured.ratio(ours, "rdkafka-base", rate)?;
                Some((r.secured.case.clone(), x))
            })
            .collect()
    };
    vec![
        Target {
            what: "producer msgs/s over SASL_SSL at 100 B, ferrokafka vs rdkafka BaseProducer over SASL_SSL",
            goal: 1.0,
            at_most: false,
            measured: vs(&s.producer, "ferrokafka", Some(100)),
        },
        Target {
            what: "producer msgs/s over SASL_SSL at 1 KiB, ferrokafka vs rdkafka BaseProducer over SASL_SSL",
            goal: 1.0,
            at_most: false,
            measured: vs(&s.producer, "ferrokafka", Some(1024)),
        },
        Target {
            what: "consumer msgs/s over SASL_SSL, ferrokafka poll vs rdkafka BaseConsumer over SASL_SSL",
            goal: 1.0,
            at_most: false,
            measured: vs(&s.consumer, "ferrokafka-poll", None),
        },
    ]
}

/// The table of one kind of rows (producer or consumer).
fn table(out: &mut String, rows: &[SecuredRow]) {
    out.push_str(
        "| case | client | PLAINTEXT msgs/s, median (min–max) | SASL_SSL msgs/s, median \
         (min–max) | SASL_SSL / PLAINTEXT | client CPU s / 1M, PLAINTEXT → SASL_SSL | broker CPU \
         s / 1M, PLAINTEXT → SASL_SSL | SASL_SSL msgs/s vs rdkafka-base | SASL_SSL client CPU \
         vs rdkafka-base |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        for (client, samples) in &row.secured.clients {
            let plain = row.plain.client(client).unwrap_or_default();
            let (p, s) = (
                spread(plain.iter().map(rate)),
                spread(samples.iter().map(rate)),
            );
            let med = |x: &[Sample], f: fn(&Sample) -> f64| spread(x.iter().map(f)).median;
            let vs = |metric: fn(&Sample) -> f64| {
                row.secured
                    .ratio(client, "rdkafka-base", metric)
                    .map_or("–".to_owned(), |x| format!("{x:.2}×"))
            };
            let _ = writeln!(
                out,
                "| {} | {client} | {} ({}–{}) | {} ({}–{}) | {:.2}× | {} → {} | {} → {} | {} | {} |",
                row.secured.case,
                human_rate(p.median),
                human_rate(p.min),
                human_rate(p.max),
                human_rate(s.median),
                human_rate(s.min),
                human_rate(s.max),
                s.median / p.median,
                or_dash(med(plain, cpu), 2),
                or_dash(med(samples, cpu), 2),
                or_dash(med(plain, broker_cpu), 2),
                or_dash(med(samples, broker_cpu), 2),
                vs(rate),
                vs(cpu),
            );
        }
    }
}

/// The whole section, heading included.
pub(crate) fn section(m: &Matrix, s: &Secured) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{HEADING}: {} (mini-broker)\n", s.security);
    let _ = writeln!(
        out,
        "`{}` — {} to {}, on {}.\n",
        m.command, s.started, s.finished, m.machine
    );
    let _ = writeln!(
        out,
        "Each case ran on a fresh mini-broker binary with a PLAINTEXT and a SASL_SSL listener; in \
         each of {} repetitions every client ran once over each listener (interleaved, the order \
         rotating), each run in its own child process, so the cost of TLS is read on one broker \
         in one stretch of time. Both clients get the same keys — `security.protocol=SASL_SSL`, \
         `sasl.mechanism={}`, `sasl.username`, `sasl.password`, `ssl.ca.location` (the broker's \
         self-signed CA, ECDSA P-256; host names checked, both clients' default) — Nagle's \
         algorithm off for both (ferrokafka always sets TCP_NODELAY; librdkafka gets \
         `socket.nagle.disable=true`, see `bench/src/worker.rs`), and the same other settings as the plaintext tables: producer {} records per run, `linger.ms={}`, \
         `batch.size={}`, {} in flight, idempotence with `acks=all`, one partition, no \
         compression; consumer {} records over {} partitions in assign mode with CRC checks. \
         TLS is what the two negotiate (TLS 1.3 from ferrokafka's rustls and librdkafka's \
         OpenSSL alike; the broker's rustls). rskafka is built here without TLS and is not in \
         this section. Set-up: from the client's settings to its first Metadata answer, in a \
         fresh process per run (cold: the process's first client; warm: a second client after \
         the first was closed, no TLS session resumed); see `bench/src/connect.rs`.\n",
        m.runs,
        crate::security::MECHANISM,
        m.producer_records,
        m.linger_ms,
        m.batch_size,
        m.in_flight,
        m.consumer_records,
        m.consumer_partitions,
    );
    out.push_str("### Targets\n\n");
    for t in targets(s) {
        out.push_str(&t.line());
        out.push('\n');
    }
    out.push_str("\n### Producer over SASL_SSL\n\n");
    table(&mut out, &s.producer);
    out.push_str("\n### Consumer over SASL_SSL\n\n");
    table(&mut out, &s.consumer);
    let _ = writeln!(
        out,
        "\n### Connection set-up\n\nOne mini-broker with a PLAINTEXT, an SSL and a SASL_SSL \
         listener; {} runs per client and listener.\n",
        s.set_up_runs
    );
    out.push_str(&connect::table(&s.set_up));
    if !s.failures.is_empty() {
        out.push_str("\n### Failed runs (left out of the medians)\n\n");
        for f in &s.failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    out
}

/// Puts the secured section of `m` into `dir/latest.md` in place of the one there (or before
/// "Not measured" if it has none); returns the section's targets.
pub(crate) fn write_into(m: &Matrix, dir: &Path) -> Result<String, String> {
    let s = m
        .secured
        .as_ref()
        .ok_or("no secured section was measured")?;
    let path = dir.join("latest.md");
    let old = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (run the whole suite once before --secured-only)",
            path.display()
        )
    })?;
    let new = splice(&old, &section(m, s));
    write_file(&path, &new)?;
    Ok(targets(s)
        .iter()
        .map(|t| t.line() + "\n")
        .collect::<String>())
}

/// `doc` with its secured section replaced by `section`, or `section` put in before the
/// "Not measured" section (at the end if there is none).
fn splice(doc: &str, section: &str) -> String {
    let start = doc.find(&format!("\n{HEADING}")).map(|i| i + 1);
    let before_not_measured = doc.find("\n## Not measured").map(|i| i + 1);
    let (head, tail) = match start {
        Some(start) => {
            let end = doc
                .get(start + 1..)
                .and_then(|rest| rest.find("\n## "))
                .map_or(doc.len(), |i| start + 1 + i + 1);
            (&doc[..start], &doc[end..])
        }
        None => {
            let at = before_not_measured.unwrap_or(doc.len());
            (&doc[..at], &doc[at..])
        }
    };
    let mut out = head.to_owned();
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(section);
    if !tail.is_empty() {
        out.push('\n');
    }
    out.push_str(tail);
    out
}

#[cfg(test)]
mod tests {
    use super::splice;

    #[test]
    fn a_new_section_replaces_the_old_one_and_keeps_the_rest() {
        let doc = "# t\n\n## A\n\na\n\n## Over TLS: x\n\nold\n\n## Not measured\n\n- y\n";
        let out = splice(doc, "## Over TLS: z\n\nnew\n");
        assert_eq!(
            out,
            "# t\n\n## A\n\na\n\n## Over TLS: z\n\nnew\n\n## Not measured\n\n- y\n"
        );
    }

    #[test]
    fn a_first_section_goes_before_not_measured() {
        let doc = "# t\n\n## A\n\na\n\n## Not measured\n\n- y\n";
        let out = splice(doc, "## Over TLS: z\n\nnew\n");
        assert_eq!(
            out,
            "# t\n\n## A\n\na\n\n## Over TLS: z\n\nnew\n\n## Not measured\n\n- y\n"
        );
    }
}
