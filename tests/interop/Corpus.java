// Writes records with Kafka's own Java producer, for kpoc's foreign-records corpus.
//
// Run as a single-file program: java -cp '<kafka libs>/*' Corpus.java BOOTSTRAP TOPIC < lines
// Each input line is MODE \t KEY \t VALUE \t HEADERS, where MODE is a compression codec (none,
// gzip, snappy, lz4, zstd) or a transaction outcome (commit, abort: one transaction per line);
// KEY and VALUE are base64 or "-" for null; HEADERS is "" or "name:value,..." with both base64
// (value "-" for null). Each record goes to partition 0; one output line per record:
// MODE \t PARTITION \t OFFSET, after the broker acknowledged it.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class Corpus {
    static byte[] bytes(String field) {
        return field.equals("-") ? null : Base64.getDecoder().decode(field);
    }

    static KafkaProducer<byte[], byte[]> producer(String bootstrap, String mode) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("linger.ms", "0");
        p.put("max.block.ms", "60000");
        p.put("delivery.timeout.ms", "60000");
        boolean txn = mode.equals("commit") || mode.equals("abort");
        p.put("compression.type", txn ? "none" : mode);
        if (txn) {
            p.put("transactional.id", "kpoc-corpus-" + UUID.randomUUID());
        }
        KafkaProducer<byte[], byte[]> producer =
            new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        if (txn) {
            producer.initTransactions();
        }
        return producer;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        Map<String, KafkaProducer<byte[], byte[]>> producers = new HashMap<>();
        BufferedReader in = new BufferedReader(
            new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        try {
            String line;
            while ((line = in.readLine()) != null) {
                String[] f = line.split("\t", -1);
                String mode = f[0];
                boolean txn = mode.equals("commit") || mode.equals("abort");
                KafkaProducer<byte[], byte[]> producer =
                    producers.computeIfAbsent(txn ? "commit" : mode, m -> producer(bootstrap, m));
                ProducerRecord<byte[], byte[]> record =
                    new ProducerRecord<>(topic, 0, bytes(f[1]), bytes(f[2]));
                if (!f[3].isEmpty()) {
                    for (String h : f[3].split(",")) {
                        String[] kv = h.split(":", -1);
                        String name = new String(bytes(kv[0]), StandardCharsets.UTF_8);
                        record.headers().add(name, bytes(kv[1]));
                    }
                }
                if (txn) {
                    producer.beginTransaction();
                }
                RecordMetadata md = producer.send(record).get();
                if (mode.equals("commit")) {
                    producer.commitTransaction();
                } else if (mode.equals("abort")) {
                    producer.abortTransaction();
                }
                System.out.println(mode + "\t" + md.partition() + "\t" + md.offset());
            }
        } finally {
            for (KafkaProducer<byte[], byte[]> p : producers.values()) {
                p.close();
            }
        }
    }
}
