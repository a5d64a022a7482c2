//! The suite's secured section: producer and consumer throughput over a SASL_SSL listener
//! (TLS, SCRAM-SHA-512), ferrokafka against librdkafka, and client connection set-up per
//! listener.
//!
//! Each case runs on one fresh mini-broker with a PLAINTEXT and a SASL_SSL listener: every
//! client runs over both in every repetition (interleaved, the order rotating), so the cost of
//! TLS is read within one broker process and one stretch of time. Topics and data are made
//! over PLAINTEXT. Producer cases: 100 B and 1 KiB, `acks=1` and `acks=all` with idempotence,
//! one partition, no compression; consumer: 100 B and 1 KiB over 6 partitions, assign mode.
//! rskafka is not in this section (it is built here without TLS or SASL).

use crate::broker::{sibling, MiniBrokerProcess};
use crate::connect;
use crate::consumer;
use crate::producer;
use crate::report::{Row, Sample, Secured, SecuredRow};
use crate::security::{Endpoint, Security};

use super::{create_topic, rotated, zip_clients, ProducerCase, Runner, CONSUMER_PARTITIONS};

/// The secured listener of this section.
pub(super) const SECURITY: Security = Security::SaslSslScram;
/// The listeners of the throughput rows, by index: PLAINTEXT, then the secured one.
const LISTENERS: [Security; 2] = [Security::Plaintext, SECURITY];
/// Listeners of the connection set-up table.
pub(super) const SET_UP: [Security; 3] = [Security::Plaintext, Security::Ssl, SECURITY];
/// Connection set-up runs per repetition of the suite (each is short).
pub(super) const SET_UPS_PER_RUN: usize = 4;

/// The producer cases of this section.
pub(super) fn producer_cases() -> Vec<ProducerCase> {
    let mut cases = Vec::new();
    for acks in ["1", "all"] {
        for size in [100, 1024] {
            cases.push(ProducerCase {
                size,
                acks,
                partitions: 1,
                compression: "none",
            });
        }
    }
    cases
}

/// Record sizes of the consumer rows.
pub(super) const CONSUMER_SIZES: [usize; 2] = [100, 1024];

/// Runs that [`Runner::secured`] will make (for the progress count).
pub(super) fn run_count(runner: &Runner<'_>) -> usize {
    let plan = runner.plan;
    2 * plan.runs
        * (producer_cases().len() * plan.secured_producer_clients.len()
            + CONSUMER_SIZES.len() * plan.secured_consumer_clients.len())
        + plan.runs * SET_UPS_PER_RUN * SET_UP.len() * connect::CLIENTS.len()
}

/// One fresh broker with a PLAINTEXT and a secured listener, and both endpoints.
fn start() -> Result<(MiniBrokerProcess, Endpoint, Endpoint), String> {
    let broker =
        MiniBrokerProcess::start_with(&sibling("mini-broker"), &[Security::Plaintext, SECURITY])
            .map_err(|e| format!("mini-broker: {e}"))?;
    let plain = broker.endpoint(Security::Plaintext)?;
    let secured = broker.endpoint(SECURITY)?;
    Ok((broker, plain, secured))
}

impl Runner<'_> {
    /// The whole section.
    pub(super) fn secured(&mut self) -> Result<Secured, String> {
        let mut section = Secured {
            security: SECURITY.label().to_owned(),
            started: crate::report::utc_now(),
            producer: Vec::new(),
            consumer: Vec::new(),
            set_up: Vec::new(),
            set_up_runs: self.plan.runs * SET_UPS_PER_RUN,
            finished: String::new(),
            failures: Vec::new(),
        };
        for case in &producer_cases() {
            section.producer.push(self.secured_producer_row(case)?);
        }
        for size in CONSUMER_SIZES {
            section.consumer.push(self.secured_consumer_row(size)?);
        }
        let progress = &mut self.progress;
        section.set_up = connect::matrix(
            &sibling("mini-broker"),
            &SET_UP,
            section.set_up_runs,
            |row, s| {
                progress.step(&format!(
                    "connection set-up over {} {}: cold {:.2} ms, warm {:.2} ms",
                    row.security.label(),
                    row.client,
                    s.cold.as_secs_f64() * 1e3,
                    s.warm.as_secs_f64() * 1e3
                ));
            },
        )?;
        Ok(section)
    }

    fn secured_producer_row(&mut self, case: &ProducerCase) -> Result<SecuredRow, String> {
        let plan = self.plan;
        let (broker, plain, secured) = start()?;
        let broker = super::Broker::Mini(broker);
        let cells: Vec<(usize, &Endpoint)> = (0..plan.secured_producer_clients.len())
            .flat_map(|c| [(c, &plain), (c, &secured)])
            .collect();
        let mut samples = [
            vec![Vec::new(); plan.secured_producer_clients.len()],
            vec![Vec::new(); plan.secured_producer_clients.len()],
        ];
        for run in 0..plan.runs {
            for (_, (c, endpoint)) in rotated(&cells, run) {
                let Some(client) = plan.secured_producer_clients.get(c).copied() else {
                    continue;
                };
                let over = usize::from(endpoint.bootstrap != plain.bootstrap);
                let topic = format!(
                    "suite-secured-{}-{}",
                    std::process::id(),
                    self.progress.done
                );
                self.rt
                    .block_on(create_topic(&plain.bootstrap, &topic, case.partitions))?;
                let c_case = case.with_records(plan.records);
                let label = LISTENERS[over].protocol();
                let what = || {
                    format!(
                        "producer {} over {label}, run {}/{}, {client}",
                        case.label(),
                        run + 1,
                        plan.runs
                    )
                };
                let sample = self.sample(&broker, what, || {
                    producer::measure(client, endpoint, &topic, &c_case)
                });
                if let Some((s, sample)) =
                    samples.get_mut(over).and_then(|s| s.get_mut(c)).zip(sample)
                {
                    s.push(sample);
                }
            }
        }
        self.retire(broker);
        let [p, s] = samples;
        Ok(pair(
            &case.label(),
            case.size,
            &plan.secured_producer_clients,
            p,
            s,
        ))
    }

    fn secured_consumer_row(&mut self, size: usize) -> Result<SecuredRow, String> {
        let plan = self.plan;
        let (broker, plain, secured) = start()?;
        let broker = super::Broker::Mini(broker);
        let topic = format!("suite-secured-consumer-{size}-{}", std::process::id());
        self.fill(&plain.bootstrap, &topic, size)?;
        let clients = &plan.secured_consumer_clients;
        let cells: Vec<(usize, &Endpoint)> = (0..clients.len())
            .flat_map(|c| [(c, &plain), (c, &secured)])
            .collect();
        let mut samples = [
            vec![Vec::new(); clients.len()],
            vec![Vec::new(); clients.len()],
        ];
        let case = format!("{size} B, {CONSUMER_PARTITIONS} p, assign");
        for run in 0..plan.runs {
            for (_, (c, endpoint)) in rotated(&cells, run) {
                let Some(client) = clients.get(c).copied() else {
                    continue;
                };
                let over = usize::from(endpoint.bootstrap != plain.bootstrap);
                let label = LISTENERS[over].protocol();
                let what = || {
                    format!(
                        "consumer {case} over {label}, run {}/{}, {client}",
                        run + 1,
                        plan.runs
                    )
                };
                let sample = self.sample(&broker, what, || {
                    consumer::measure(
                        client,
                        endpoint,
                        &topic,
                        plan.consumer_records,
                        CONSUMER_PARTITIONS,
                        false,
                    )
                });
                if let Some((s, sample)) =
                    samples.get_mut(over).and_then(|s| s.get_mut(c)).zip(sample)
                {
                    s.push(sample);
                }
            }
        }
        self.retire(broker);
        let [p, s] = samples;
        Ok(pair(&case, size, clients, p, s))
    }
}

/// The PLAINTEXT and the secured row of one case.
fn pair(
    case: &str,
    size: usize,
    clients: &[&'static str],
    plain: Vec<Vec<Sample>>,
    secured: Vec<Vec<Sample>>,
) -> SecuredRow {
    let row = |protocol: &str, samples| Row {
        broker: format!("mini-broker (binary), {protocol}"),
        case: case.to_owned(),
        size,
        clients: zip_clients(clients, samples),
        notes: Vec::new(),
    };
    SecuredRow {
        plain: row("PLAINTEXT", plain),
        secured: row(SECURITY.protocol(), secured),
    }
}
