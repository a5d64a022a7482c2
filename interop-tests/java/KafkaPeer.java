// KafkaPeer — the official Java client as a line-oriented peer for ferrokafka's interop tests.
//
// Built and run by scripts/java-peer.sh (javac against kafka-clients only; no other libs).
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
