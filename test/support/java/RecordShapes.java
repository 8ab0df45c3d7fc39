// Writes Kafka records of every shape the protocol allows, with the Java client from the broker's
// own jars, so the service is tested against records it did not write itself.
//
//   java -cp '<kafka libs>/*' test/support/java/RecordShapes.java <bootstrap> <topic> <file> [transactional]
//
// With "transactional" the records go in one transaction, committed at the end: the broker then
// writes a commit marker (a control record) after them, which consumers never receive.
// <file> holds one record per line, tab-separated: key, value, then header pairs (name, value).
// Each field is "null", "empty", "repeat:<n>:<text>" (the text n times) or "text:<text>".
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class RecordShapes {
  static byte[] field(String spec) {
    if (spec.equals("null")) return null;
    if (spec.equals("empty")) return new byte[0];
    if (spec.startsWith("repeat:")) {
      String[] parts = spec.split(":", 3);
      return parts[2].repeat(Integer.parseInt(parts[1])).getBytes(StandardCharsets.UTF_8);
    }
    if (spec.startsWith("text:")) return spec.substring(5).getBytes(StandardCharsets.UTF_8);
    throw new IllegalArgumentException("bad field: " + spec);
  }

  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    props.put("acks", "all");
    props.put("enable.idempotence", "true");
    props.put("max.request.size", String.valueOf(4 * 1024 * 1024));
    props.put("key.serializer", ByteArraySerializer.class.getName());
    props.put("value.serializer", ByteArraySerializer.class.getName());
    boolean transactional = args.length > 3 && args[3].equals("transactional");
    if (transactional) props.put("transactional.id", "record-shapes-" + args[1]);
    int sent = 0;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      if (transactional) {
        producer.initTransactions();
        producer.beginTransaction();
      }
      for (String line : Files.readAllLines(Path.of(args[2]), StandardCharsets.UTF_8)) {
        if (line.isBlank()) continue;
        String[] fields = line.split("\t", -1);
        List<Header> headers = new ArrayList<>();
        for (int i = 2; i + 1 < fields.length; i += 2) {
          byte[] name = field(fields[i]);
          headers.add(new RecordHeader(new String(name, StandardCharsets.UTF_8), field(fields[i + 1])));
        }
        producer.send(new ProducerRecord<>(args[1], null, field(fields[0]), field(fields[1]), headers)).get();
        sent++;
      }
      if (transactional) producer.commitTransaction();
    }
    System.out.println("sent " + sent);
  }
}
