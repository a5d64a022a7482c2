// KafkaPeer — the official Java client as a line-oriented peer for ferrokafka's interop tests.
//
// Built and run by scripts/java-peer.sh (javac against kafka-clients and kafka-streams).
//
//   produce <bootstrap> <topic> [key=value ...]
//       stdin, one record per line:  partition \t timestamp_ms \t key \t value \t headers
//       stdout, one line per record after send().get():  partition \t offset \t timestamp
//   consume <bootstrap> <topic> <partition> <start_offset> <count> <timeout_ms> [key=value ...]
//       manual assign (no group) + seek; start_offset may also be `earliest` or `latest`;
//       count < 0 means "everything until the timeout".
//       stdout: partition \t offset \t timestamp \t timestampType \t key \t value \t headers
//   round-trip <bootstrap> <topic> <timeout_ms> [key=value ...]
//       produce (stdin and its stdout lines), then, in the same JVM, consume what was
//       delivered: from the first delivered offset, as many records as were sent (all to one
//       partition); key=value arguments go to both clients. One JVM start instead of two.
//   group-consume <bootstrap> <topic> <group> <timeout_ms> [key=value ...]
//       subscribe in consumer group <group> (manual commits, earliest reset), commitSync after
//       every poll that returned records; stop at EOF on stdin: commit, close (LeaveGroup),
//       print `closed`, exit 0. Exit 3 if stdin is still open at the timeout.
//       stdout: `assigned \t <partitions, comma-separated, or ->` whenever the assignment
//       changes (`-` when it is revoked), `record \t <the 7 fields of consume>` per record.
//   admin <bootstrap> <topic> <group>
//       the AdminClient's calls in turn on a topic it creates (2 partitions) and a group it
//       commits for, printing one line per step, `step \t outcome`; an outcome is a value
//       or the exception's simple class name. The steps and their expected outcomes are in
//       interop-tests/tests/admin_java.rs.
//   streams <bootstrap> <application_id> <input> <output> [key=value ...]
//       a Kafka Streams word count: lines (values of <input>) split into lower-case words,
//       re-keyed by word (a repartition topic, `<application_id>-words-repartition`), counted
//       in an in-memory store backed by a changelog topic (`<application_id>-counts-changelog`),
//       each new count written to <output> (key: the word, value: the count in decimal).
//       processing.guarantee=exactly_once_v2, commit.interval.ms=100 and
//       repartition.purge.interval.ms=500 unless key=value says otherwise. Prints
//       `state 	 <STATE>` at every state change; runs until stdin closes, then closes the
//       application and exits 0 (1 if it ended in ERROR).
//   eos-loop <bootstrap> <input> <output> <group> <records> <span_ms> <timeout_ms> [key=value ...]
//       the exactly-once consume-transform-produce loop Java users write, for the perf tool
//       (bench/src/semantics.rs): a KafkaConsumer in group <group> (subscribe, earliest,
//       read_committed, no auto-commit) and a transactional KafkaProducer (transactional.id
//       <group>-txn, linger.ms=5, batch.size=16384 unless key=value says otherwise; key=value
//       goes to both clients). Once records arrive: begin, poll and send each value to
//       <output> until <span_ms> have passed, sendOffsetsToTransaction (the consumer's
//       positions, consumer.groupMetadata()), commit; until <records> inputs are committed.
//       The clock and the process CPU start at the first record. Prints one line
//       `eos \t <records committed> \t <elapsed ns> \t <cpu ns> \t <peak RSS KiB>`; exit 3 if
//       <timeout_ms> passed first.
//   txn-fence <bootstrap> <topic> <transactional_id> [key=value ...]
//       zombie fencing as an application sees it, on <topic> (2 partitions): producer A
//       (initTransactions, beginTransaction) sends `a-1` to partition 0 and waits for it;
//       producer B with the same transactional id calls initTransactions, which fences A; A
//       sends `a-2` to partition 1 (new to its transaction: a transaction version 1 client
//       adds it with AddPartitionsToTxn first, a version 2 client just produces), then calls
//       commitTransaction; B commits a transaction of `b-1` and aborts one of `b-2`, both to
//       partition 0; a read_committed consumer reads partition 0 up to its last stable offset.
//       stdout, one `step \t outcome` line each, the outcome `ok`, `ok <offset>` or the
//       simple class name of the exception (of send().get()'s cause for sends):
//       a-send-1, b-init, a-send-2, a-commit, b-commit, b-abort, and `read \t <values,
//       comma-separated, or ->`. key=value arguments go to both producers.
//
// Encodings: partition/timestamp `-` = none. key/value: standard base64 (padded on output,
// padding optional on input) or `~` = null. headers: `-` = none, else comma-separated
// `b64(key)=b64(value)` in order (duplicate keys kept), value `~` = null. The separator is
// the last `=` of the first run of `=` signs (base64 padding of the key comes before it).
// timestampType is CreateTime, LogAppendTime or NoTimestampType.
// key=value arguments go into the Java client's config verbatim (acks=all, compression.type=lz4...).
// produce with transactional.id=...: all of stdin is one transaction, committed at EOF, or
// aborted with peer.abort=true (the peer's own option; not passed to the client). With
// peer.send.offsets=<group>:<topic>:<partition>:<offset> the transaction also carries that
// consumer-group offset (sendOffsetsToTransaction, group metadata of the group id alone).
//
// Exit codes: 0 done; 1 error (exception on stderr); 2 usage; 3 consume timed out before
// `count` records (what arrived was printed).
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

public final class KafkaPeer {
    static final int EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3;

    // Autoflush: a test may feed one record and wait for its answer line.
    static final PrintStream OUT =
            new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);

    public static void main(String[] args) {
        int code;
        try {
            code = run(args);
        } catch (UsageException e) {
            System.err.println("usage error: " + e.getMessage());
            System.err.println("usage: KafkaPeer produce <bootstrap> <topic> [k=v ...]");
            System.err.println("       KafkaPeer consume <bootstrap> <topic> <partition> <start_offset> <count> <timeout_ms> [k=v ...]");
            System.err.println("       KafkaPeer round-trip <bootstrap> <topic> <timeout_ms> [k=v ...]");
            System.err.println("       KafkaPeer group-consume <bootstrap> <topic> <group> <timeout_ms> [k=v ...]");
            System.err.println("       KafkaPeer admin <bootstrap> <topic> <group>");
            System.err.println("       KafkaPeer streams <bootstrap> <application_id> <input> <output> [k=v ...]");
            System.err.println("       KafkaPeer eos-loop <bootstrap> <input> <output> <group> <records> <span_ms> <timeout_ms> [k=v ...]");
            System.err.println("       KafkaPeer txn-fence <bootstrap> <topic> <transactional_id> [k=v ...]");
            code = EXIT_USAGE;
        } catch (ExecutionException e) {
            (e.getCause() != null ? e.getCause() : e).printStackTrace();
            code = EXIT_ERROR;
        } catch (Exception e) {
            e.printStackTrace();
            code = EXIT_ERROR;
        }
        OUT.flush();
        System.exit(code);
    }

    static int run(String[] args) throws Exception {
        if (args.length < 1) throw new UsageException("no mode");
        switch (args[0]) {
            case "produce":
                if (args.length < 3) throw new UsageException("produce needs <bootstrap> <topic>");
                return produce(args[1], args[2], config(args, 3), new ArrayList<>());
            case "consume":
                if (args.length < 7) throw new UsageException("consume needs 6 arguments");
                return consume(args[1], args[2], Integer.parseInt(args[3]), args[4],
                        Long.parseLong(args[5]), Long.parseLong(args[6]), config(args, 7));
            case "round-trip":
                if (args.length < 4) throw new UsageException("round-trip needs <bootstrap> <topic> <timeout_ms>");
                return roundTrip(args[1], args[2], Long.parseLong(args[3]), config(args, 4));
            case "group-consume":
                if (args.length < 5) throw new UsageException("group-consume needs 4 arguments");
                return groupConsume(args[1], args[2], args[3], Long.parseLong(args[4]), config(args, 5));
            case "admin":
                if (args.length < 4) throw new UsageException("admin needs <bootstrap> <topic> <group>");
                return AdminSteps.run(args[1], args[2], args[3]);
            case "streams":
                if (args.length < 5) throw new UsageException("streams needs 4 arguments");
                return WordCount.run(args[1], args[2], args[3], args[4], config(args, 5));
            case "eos-loop":
                if (args.length < 8) throw new UsageException("eos-loop needs 7 arguments");
                return EosLoop.run(args[1], args[2], args[3], args[4], Long.parseLong(args[5]),
                        Long.parseLong(args[6]), Long.parseLong(args[7]), config(args, 8));
            case "txn-fence":
                if (args.length < 4) throw new UsageException("txn-fence needs <bootstrap> <topic> <transactional_id>");
                return txnFence(args[1], args[2], args[3], config(args, 4));
            default:
                throw new UsageException("unknown mode " + args[0]);
        }
    }

    static Properties config(String[] args, int from) throws UsageException {
        Properties p = new Properties();
        for (int i = from; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) throw new UsageException("option is not key=value: " + args[i]);
            p.setProperty(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        return p;
    }

    // Appends what was delivered to `delivered`, in order.
    static int produce(String bootstrap, String topic, Properties opts,
                       List<RecordMetadata> delivered) throws Exception {
        Properties p = new Properties();
        p.setProperty("bootstrap.servers", bootstrap);
        p.putAll(opts);
        boolean abort = Boolean.parseBoolean((String) p.remove("peer.abort"));
        String sendOffsets = (String) p.remove("peer.send.offsets");
        boolean transactional = p.containsKey("transactional.id");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            if (transactional) {
                producer.initTransactions();
                producer.beginTransaction();
            }
            String line;
            int lineNo = 0;
            while ((line = in.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) continue;
                String[] f = line.split("\t", -1);
                if (f.length != 5) throw new UsageException("stdin line " + lineNo + ": want 5 tab-separated fields, got " + f.length);
                Integer partition = f[0].equals("-") ? null : Integer.valueOf(f[0]);
                Long timestamp = f[1].equals("-") ? null : Long.valueOf(f[1]);
                ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(
                        topic, partition, timestamp, decode(f[2]), decode(f[3]), parseHeaders(f[4]));
                RecordMetadata md = producer.send(record).get();
                delivered.add(md);
                OUT.println(md.partition() + "\t" + md.offset() + "\t" + md.timestamp());
            }
            if (transactional && sendOffsets != null) {
                String[] f = sendOffsets.split(":", -1);
                if (f.length != 4) throw new UsageException("peer.send.offsets wants group:topic:partition:offset");
                producer.sendOffsetsToTransaction(
                        Map.of(new TopicPartition(f[1], Integer.parseInt(f[2])), new OffsetAndMetadata(Long.parseLong(f[3]))),
                        new ConsumerGroupMetadata(f[0]));
            }
            if (transactional && abort) producer.abortTransaction();
            else if (transactional) producer.commitTransaction();
        }
        return EXIT_OK;
    }

    static int txnFence(String bootstrap, String topic, String transactionalId, Properties opts)
            throws Exception {
        Properties p = new Properties();
        p.setProperty("bootstrap.servers", bootstrap);
        p.setProperty("transactional.id", transactionalId);
        p.setProperty("linger.ms", "0");
        p.putAll(opts);
        KafkaProducer<byte[], byte[]> a =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        KafkaProducer<byte[], byte[]> b =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        try {
            a.initTransactions();
            a.beginTransaction();
            OUT.println("a-send-1\t" + sendOutcome(a, topic, 0, "a-1"));
            b.initTransactions();
            OUT.println("b-init\tok");
            OUT.println("a-send-2\t" + sendOutcome(a, topic, 1, "a-2"));
            String commit = "ok";
            try {
                a.commitTransaction();
            } catch (Exception e) {
                commit = e.getClass().getSimpleName();
            }
            OUT.println("a-commit\t" + commit);
            b.beginTransaction();
            String committed = sendOutcome(b, topic, 0, "b-1");
            b.commitTransaction();
            OUT.println("b-commit\t" + (committed.startsWith("ok") ? "ok" : committed));
            b.beginTransaction();
            String aborted = sendOutcome(b, topic, 0, "b-2");
            b.abortTransaction();
            OUT.println("b-abort\t" + (aborted.startsWith("ok") ? "ok" : aborted));
        } finally {
            a.close(Duration.ofSeconds(5));
            b.close(Duration.ofSeconds(5));
        }
        Properties c = new Properties();
        c.setProperty("bootstrap.servers", bootstrap);
        c.setProperty("enable.auto.commit", "false");
        c.setProperty("isolation.level", "read_committed");
        TopicPartition tp = new TopicPartition(topic, 0);
        List<String> values = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 30_000;
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            // read_committed: the end is the last stable offset.
            long end = consumer.endOffsets(List.of(tp)).get(tp);
            while (consumer.position(tp) < end) {
                if (System.currentTimeMillis() > deadline) return EXIT_TIMEOUT;
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    values.add(new String(r.value(), StandardCharsets.UTF_8));
                }
            }
        }
        OUT.println("read\t" + (values.isEmpty() ? "-" : String.join(",", values)));
        return EXIT_OK;
    }

    // `ok <offset>` once the record is written, else the simple class name of the cause.
    static String sendOutcome(KafkaProducer<byte[], byte[]> producer, String topic, int partition,
                              String value) {
        try {
            RecordMetadata md = producer.send(new ProducerRecord<>(
                    topic, partition, null, value.getBytes(StandardCharsets.UTF_8))).get();
            return "ok " + md.offset();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            return cause.getClass().getSimpleName();
        } catch (Exception e) {
            return e.getClass().getSimpleName();
        }
    }

    static int consume(String bootstrap, String topic, int partition, String start,
                       long count, long timeoutMs, Properties opts) {
        Properties p = new Properties();
        p.setProperty("bootstrap.servers", bootstrap);
        p.setProperty("enable.auto.commit", "false");
        p.setProperty("auto.offset.reset", "none"); // an out-of-range start is an error, not a jump
        p.putAll(opts);
        TopicPartition tp = new TopicPartition(topic, partition);
        long got = 0;
        long deadline = System.currentTimeMillis() + timeoutMs;
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.assign(List.of(tp));
            switch (start) {
                case "earliest": consumer.seekToBeginning(List.of(tp)); break;
                case "latest": consumer.seekToEnd(List.of(tp)); break;
                default: consumer.seek(tp, Long.parseLong(start));
            }
            while (count < 0 || got < count) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) break;
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(Math.min(left, 200)))) {
                    OUT.println(r.partition() + "\t" + r.offset() + "\t" + r.timestamp() + "\t"
                            + r.timestampType() + "\t" + encode(r.key()) + "\t" + encode(r.value())
                            + "\t" + formatHeaders(r.headers()));
                    got++;
                    if (count >= 0 && got >= count) break;
                }
            }
        }
        return count < 0 || got >= count ? EXIT_OK : EXIT_TIMEOUT;
    }

    static int roundTrip(String bootstrap, String topic, long timeoutMs, Properties opts)
            throws Exception {
        List<RecordMetadata> delivered = new ArrayList<>();
        produce(bootstrap, topic, opts, delivered);
        if (delivered.isEmpty()) return EXIT_OK;
        RecordMetadata first = delivered.get(0);
        for (RecordMetadata md : delivered) {
            if (md.partition() != first.partition()) {
                throw new UsageException("round-trip writes one partition, not " + md.partition()
                        + " and " + first.partition());
            }
        }
        return consume(bootstrap, topic, first.partition(), Long.toString(first.offset()),
                delivered.size(), timeoutMs, opts);
    }

    static int groupConsume(String bootstrap, String topic, String group, long timeoutMs,
                            Properties opts) {
        Properties p = new Properties();
        p.setProperty("bootstrap.servers", bootstrap);
        p.setProperty("group.id", group);
        p.setProperty("enable.auto.commit", "false");
        p.setProperty("auto.offset.reset", "earliest");
        p.putAll(opts);
        // EOF on stdin is the test's way of saying "leave the group now".
        AtomicBoolean stop = new AtomicBoolean(false);
        Thread stdinWatcher = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // discard
                }
            } catch (IOException e) {
                // treat as EOF
            }
            stop.set(true);
        });
        stdinWatcher.setDaemon(true);
        stdinWatcher.start();
        long deadline = System.currentTimeMillis() + timeoutMs;
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    printAssignment(consumer.assignment(), partitions);
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    printAssignment(consumer.assignment(), List.of());
                }
            });
            while (!stop.get()) {
                if (System.currentTimeMillis() > deadline) return EXIT_TIMEOUT;
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(50));
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    OUT.println("record\t" + r.partition() + "\t" + r.offset() + "\t" + r.timestamp()
                            + "\t" + r.timestampType() + "\t" + encode(r.key()) + "\t"
                            + encode(r.value()) + "\t" + formatHeaders(r.headers()));
                }
                if (!records.isEmpty()) consumer.commitSync();
            }
            consumer.commitSync();
        }
        OUT.println("closed");
        return EXIT_OK;
    }

    // Prints the assignment that remains once `leaving` is gone.
    static void printAssignment(Collection<TopicPartition> assigned, Collection<TopicPartition> leaving) {
        TreeSet<Integer> partitions = new TreeSet<>();
        for (TopicPartition tp : assigned) {
            if (!leaving.contains(tp)) partitions.add(tp.partition());
        }
        StringBuilder sb = new StringBuilder();
        for (int partition : partitions) {
            if (sb.length() > 0) sb.append(',');
            sb.append(partition);
        }
        OUT.println("assigned\t" + (sb.length() == 0 ? "-" : sb.toString()));
    }

    static byte[] decode(String s) {
        return s.equals("~") ? null : Base64.getDecoder().decode(s);
    }

    static String encode(byte[] b) {
        return b == null ? "~" : Base64.getEncoder().encodeToString(b);
    }

    static List<Header> parseHeaders(String s) throws UsageException {
        List<Header> headers = new ArrayList<>();
        if (s.equals("-")) return headers;
        for (String pair : s.split(",", -1)) {
            int sep = pair.indexOf('=');
            if (sep < 0) throw new UsageException("header is not b64(key)=b64(value): " + pair);
            while (sep + 1 < pair.length() && pair.charAt(sep + 1) == '=') sep++;
            String key = new String(Base64.getDecoder().decode(pair.substring(0, sep)), StandardCharsets.UTF_8);
            headers.add(new RecordHeader(key, decode(pair.substring(sep + 1))));
        }
        return headers;
    }

    static String formatHeaders(Iterable<Header> headers) {
        StringBuilder sb = new StringBuilder();
        for (Header h : headers) {
            if (sb.length() > 0) sb.append(',');
            sb.append(encode(h.key().getBytes(StandardCharsets.UTF_8))).append('=').append(encode(h.value()));
        }
        return sb.length() == 0 ? "-" : sb.toString();
    }

    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }
}

// The `admin` mode: the AdminClient against one broker, step by step.
final class AdminSteps {
    interface Step { Object run() throws Exception; }

    static void step(String name, Step body) {
        Object outcome;
        try {
            outcome = body.run();
        } catch (java.util.concurrent.ExecutionException e) {
            outcome = (e.getCause() != null ? e.getCause() : e).getClass().getSimpleName();
        } catch (Exception e) {
            outcome = e.getClass().getSimpleName();
        }
        KafkaPeer.OUT.println(name + "\t" + outcome);
    }

    static int run(String bootstrap, String topic, String group) throws Exception {
        java.util.Properties p = new java.util.Properties();
        p.setProperty("bootstrap.servers", bootstrap);
        org.apache.kafka.common.TopicPartition p0 = new org.apache.kafka.common.TopicPartition(topic, 0);
        org.apache.kafka.common.config.ConfigResource resource = new org.apache.kafka.common.config.ConfigResource(
                org.apache.kafka.common.config.ConfigResource.Type.TOPIC, topic);
        long ts0 = 1_700_000_000_000L;
        try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(p)) {
            step("create-topic", () -> {
                admin.createTopics(java.util.List.of(new org.apache.kafka.clients.admin.NewTopic(topic, 2, (short) 1))).all().get();
                return "ok";
            });
            step("create-topic-again", () -> {
                admin.createTopics(java.util.List.of(new org.apache.kafka.clients.admin.NewTopic(topic, 2, (short) 1))).all().get();
                return "ok";
            });
            step("describe-cluster", () -> admin.describeCluster().nodes().get().isEmpty() ? "no brokers" : "brokers");
            step("describe-topic", () -> "partitions=" + admin.describeTopics(java.util.List.of(topic))
                    .allTopicNames().get().get(topic).partitions().size());
            step("create-partitions", () -> {
                admin.createPartitions(java.util.Map.of(topic, org.apache.kafka.clients.admin.NewPartitions.increaseTo(3))).all().get();
                return "ok";
            });
            // Five records at known times, idempotent (the Java default), one batch each.
            java.util.Properties pp = new java.util.Properties();
            pp.setProperty("bootstrap.servers", bootstrap);
            pp.setProperty("linger.ms", "0");
            try (KafkaProducer<byte[], byte[]> producer =
                    new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
                for (int i = 0; i < 5; i++) {
                    producer.send(new ProducerRecord<>(topic, 0, ts0 + 100L * i, null, new byte[] {(byte) i})).get();
                }
            }
            step("list-offsets", () -> {
                StringBuilder b = new StringBuilder();
                for (org.apache.kafka.clients.admin.OffsetSpec spec : java.util.List.of(
                        org.apache.kafka.clients.admin.OffsetSpec.earliest(),
                        org.apache.kafka.clients.admin.OffsetSpec.latest(),
                        org.apache.kafka.clients.admin.OffsetSpec.forTimestamp(ts0 + 150),
                        org.apache.kafka.clients.admin.OffsetSpec.maxTimestamp())) {
                    b.append(admin.listOffsets(java.util.Map.of(p0, spec)).partitionResult(p0).get().offset()).append(' ');
                }
                return b.toString().trim();
            });
            step("delete-records", () -> "low=" + admin.deleteRecords(java.util.Map.of(p0,
                    org.apache.kafka.clients.admin.RecordsToDelete.beforeOffset(2))).lowWatermarks().get(p0).get().lowWatermark());
            step("delete-records-beyond", () -> "low=" + admin.deleteRecords(java.util.Map.of(p0,
                    org.apache.kafka.clients.admin.RecordsToDelete.beforeOffset(99))).lowWatermarks().get(p0).get().lowWatermark());
            step("alter-config", () -> {
                admin.incrementalAlterConfigs(java.util.Map.of(resource, java.util.List.of(
                        new org.apache.kafka.clients.admin.AlterConfigOp(new org.apache.kafka.clients.admin.ConfigEntry("retention.ms", "630720000000"),
                                org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET)))).all().get();
                return "ok";
            });
            step("describe-config", () -> {
                // A KRaft broker shows an accepted change a moment later: bounded wait.
                long deadline = System.currentTimeMillis() + 15_000;
                String value;
                do {
                    value = admin.describeConfigs(java.util.List.of(resource)).all().get().get(resource).get("retention.ms").value();
                    if (value.equals("630720000000")) break;
                    Thread.sleep(50);
                } while (System.currentTimeMillis() < deadline);
                return "retention.ms=" + value;
            });
            step("alter-config-invalid", () -> {
                admin.incrementalAlterConfigs(java.util.Map.of(resource, java.util.List.of(
                        new org.apache.kafka.clients.admin.AlterConfigOp(new org.apache.kafka.clients.admin.ConfigEntry("retention.ms", "soon"),
                                org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET)))).all().get();
                return "ok";
            });
            step("describe-producers", () -> {
                java.util.List<org.apache.kafka.clients.admin.ProducerState> states =
                        admin.describeProducers(java.util.List.of(p0)).partitionResult(p0).get().activeProducers();
                return "count=" + states.size() + " lastSequence=" + (states.isEmpty() ? "-" : states.get(0).lastSequence());
            });
            step("describe-log-dirs", () -> {
                java.util.Collection<Integer> ids = new ArrayList<>();
                for (org.apache.kafka.common.Node n : admin.describeCluster().nodes().get()) ids.add(n.id());
                boolean held = false;
                for (java.util.Map<String, org.apache.kafka.clients.admin.LogDirDescription> dirs :
                        admin.describeLogDirs(ids).allDescriptions().get().values()) {
                    for (org.apache.kafka.clients.admin.LogDirDescription d : dirs.values()) {
                        held |= d.replicaInfos().containsKey(p0);
                    }
                }
                return "holds-partition=" + held;
            });
            step("elect-leaders", () -> {
                java.util.Optional<Throwable> r = admin.electLeaders(org.apache.kafka.common.ElectionType.PREFERRED,
                        java.util.Set.of(p0)).partitions().get().get(p0);
                return r.map(t -> t.getClass().getSimpleName()).orElse("elected");
            });
            step("alter-group-offsets", () -> {
                admin.alterConsumerGroupOffsets(group, java.util.Map.of(p0, new OffsetAndMetadata(3))).all().get();
                return "ok";
            });
            step("list-group-offsets", () -> "p0=" + admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get().get(p0).offset());
            step("list-groups", () -> {
                boolean listed = false;
                for (org.apache.kafka.clients.admin.ConsumerGroupListing l : admin.listConsumerGroups().all().get()) {
                    listed |= l.groupId().equals(group);
                }
                return "listed=" + listed;
            });
            step("describe-group", () -> "state=" + admin.describeConsumerGroups(java.util.List.of(group))
                    .describedGroups().get(group).get().groupState());
            step("delete-group-offsets", () -> {
                admin.deleteConsumerGroupOffsets(group, java.util.Set.of(p0)).all().get();
                return "ok";
            });
            step("delete-group", () -> {
                admin.deleteConsumerGroups(java.util.List.of(group)).all().get();
                return "ok";
            });
            step("delete-group-again", () -> {
                admin.deleteConsumerGroups(java.util.List.of(group)).all().get();
                return "ok";
            });
            step("list-transactions", () -> {
                admin.listTransactions().all().get();
                return "ok";
            });
            step("describe-transaction-unknown", () -> {
                admin.describeTransactions(java.util.List.of(group + "-no-such-id")).all().get();
                return "ok";
            });
            step("list-internal-topics", () -> {
                for (org.apache.kafka.clients.admin.TopicListing l : admin.listTopics(
                        new org.apache.kafka.clients.admin.ListTopicsOptions().listInternal(true)).listings().get()) {
                    if (l.name().equals("__consumer_offsets")) return "consumer-offsets-internal=" + l.isInternal();
                }
                return "no __consumer_offsets";
            });
            org.apache.kafka.common.config.ConfigResource groupResource = new org.apache.kafka.common.config.ConfigResource(
                    org.apache.kafka.common.config.ConfigResource.Type.GROUP, group);
            step("describe-group-config", () -> "consumer.session.timeout.ms=" + admin.describeConfigs(
                    java.util.List.of(groupResource)).all().get().get(groupResource).get("consumer.session.timeout.ms").value());
            step("alter-group-config", () -> {
                admin.incrementalAlterConfigs(java.util.Map.of(groupResource, java.util.List.of(
                        new org.apache.kafka.clients.admin.AlterConfigOp(new org.apache.kafka.clients.admin.ConfigEntry("consumer.heartbeat.interval.ms", "6000"),
                                org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET)))).all().get();
                return "ok";
            });
            step("alter-group-config-invalid", () -> {
                admin.incrementalAlterConfigs(java.util.Map.of(groupResource, java.util.List.of(
                        new org.apache.kafka.clients.admin.AlterConfigOp(new org.apache.kafka.clients.admin.ConfigEntry("consumer.session.timeout.ms", "1"),
                                org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET)))).all().get();
                return "ok";
            });
            String user = group + "-user";
            step("upsert-scram-credential", () -> {
                admin.alterUserScramCredentials(java.util.List.of(new org.apache.kafka.clients.admin.UserScramCredentialUpsertion(
                        user, new org.apache.kafka.clients.admin.ScramCredentialInfo(
                                org.apache.kafka.clients.admin.ScramMechanism.SCRAM_SHA_256, 4096), "user-secret"))).all().get();
                return "ok";
            });
            step("describe-scram-credential", () -> {
                // A KRaft broker learns of the credential a moment after the controller took it.
                long deadline = System.currentTimeMillis() + 15_000;
                while (true) {
                    try {
                        org.apache.kafka.clients.admin.UserScramCredentialsDescription d =
                                admin.describeUserScramCredentials(java.util.List.of(user)).description(user).get();
                        org.apache.kafka.clients.admin.ScramCredentialInfo info = d.credentialInfos().get(0);
                        return info.mechanism() + "/" + info.iterations();
                    } catch (java.util.concurrent.ExecutionException e) {
                        if (System.currentTimeMillis() > deadline) throw e;
                        Thread.sleep(50);
                    }
                }
            });
            step("delete-scram-credential", () -> {
                admin.alterUserScramCredentials(java.util.List.of(new org.apache.kafka.clients.admin.UserScramCredentialDeletion(
                        user, org.apache.kafka.clients.admin.ScramMechanism.SCRAM_SHA_256))).all().get();
                return "ok";
            });
            step("describe-scram-credential-unknown", () -> {
                admin.describeUserScramCredentials(java.util.List.of(group + "-nobody")).description(group + "-nobody").get();
                return "ok";
            });
            step("delete-topic", () -> {
                admin.deleteTopics(java.util.List.of(topic)).all().get();
                return "ok";
            });
        }
        return KafkaPeer.EXIT_OK;
    }
}

// The `streams` mode: a word count with a repartition step and a changelog-backed store.
final class WordCount {
    static int run(String bootstrap, String appId, String input, String output,
                   Properties opts) throws Exception {
        Properties p = new Properties();
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
        p.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG, "500");
        p.put(StreamsConfig.STATE_DIR_CONFIG,
                java.nio.file.Files.createTempDirectory("ferrokafka-streams").toString());
        p.putAll(opts);

        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .flatMapValues(line -> java.util.Arrays.asList(line.toLowerCase().split("\\s+")))
                .filter((key, word) -> !word.isEmpty())
                .selectKey((key, word) -> word)
                .groupByKey(Grouped.with("words", Serdes.String(), Serdes.String()))
                .count(Materialized.<String, Long>as(Stores.inMemoryKeyValueStore("counts"))
                        .withKeySerde(Serdes.String())
                        .withValueSerde(Serdes.Long()))
                .toStream()
                .mapValues(count -> Long.toString(count))
                .to(output, Produced.with(Serdes.String(), Serdes.String()));

        KafkaStreams streams = new KafkaStreams(builder.build(), p);
        streams.setStateListener((now, before) -> KafkaPeer.OUT.println("state\t" + now));
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();
        while (System.in.read() != -1) {
            // Runs until the test closes stdin.
        }
        boolean ended = streams.state() == KafkaStreams.State.ERROR;
        streams.close(Duration.ofSeconds(30));
        return ended ? KafkaPeer.EXIT_ERROR : KafkaPeer.EXIT_OK;
    }
}

// The `eos-loop` mode: exactly-once consume-transform-produce, timed, for the perf tool.
final class EosLoop {
    static int run(String bootstrap, String input, String output, String group, long records,
                   long spanMs, long timeoutMs, Properties opts) throws Exception {
        Properties c = new Properties();
        c.setProperty("bootstrap.servers", bootstrap);
        c.setProperty("group.id", group);
        c.setProperty("enable.auto.commit", "false");
        c.setProperty("auto.offset.reset", "earliest");
        c.setProperty("isolation.level", "read_committed");
        c.putAll(opts);
        Properties p = new Properties();
        p.setProperty("bootstrap.servers", bootstrap);
        p.setProperty("transactional.id", group + "-txn");
        p.setProperty("linger.ms", "5");
        p.setProperty("batch.size", "16384");
        p.putAll(opts);
        com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        long deadline = System.currentTimeMillis() + timeoutMs;
        long committed = 0, startNs = 0, startCpu = 0;
        boolean started = false;
        try (KafkaConsumer<byte[], byte[]> consumer =
                     new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
             KafkaProducer<byte[], byte[]> producer =
                     new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.initTransactions();
            consumer.subscribe(List.of(input));
            while (committed < records) {
                if (System.currentTimeMillis() > deadline) {
                    System.err.println("eos-loop: " + committed + " of " + records + " in time");
                    return KafkaPeer.EXIT_TIMEOUT;
                }
                ConsumerRecords<byte[], byte[]> batch = consumer.poll(Duration.ofMillis(100));
                if (batch.isEmpty()) continue;
                if (!started) {
                    started = true;
                    startNs = System.nanoTime();
                    startCpu = os.getProcessCpuTime();
                }
                producer.beginTransaction();
                long spanEnd = System.nanoTime() + spanMs * 1_000_000L;
                long inTxn = 0;
                while (true) {
                    for (ConsumerRecord<byte[], byte[]> r : batch) {
                        producer.send(new ProducerRecord<>(output, r.value()));
                        inTxn++;
                    }
                    long left = (spanEnd - System.nanoTime()) / 1_000_000L;
                    if (left <= 0) break;
                    batch = consumer.poll(Duration.ofMillis(left));
                }
                Map<TopicPartition, OffsetAndMetadata> offsets = new java.util.HashMap<>();
                for (TopicPartition tp : consumer.assignment()) {
                    offsets.put(tp, new OffsetAndMetadata(consumer.position(tp)));
                }
                producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
                producer.commitTransaction();
                committed += inTxn;
            }
            long elapsed = System.nanoTime() - startNs;
            long cpu = os.getProcessCpuTime() - startCpu;
            KafkaPeer.OUT.println("eos\t" + committed + "\t" + elapsed + "\t" + cpu + "\t" + peakRssKib());
        }
        return KafkaPeer.EXIT_OK;
    }

    // VmHWM of this process, KiB (0 where /proc is not there).
    static long peakRssKib() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }
}
