# shellcheck shell=bash
# Apache Kafka as a single-node KRaft broker+controller, run from the jars Maven Central publishes
# (see stack/kafka/pom.xml). The jars are fetched once per version and then reused offline.

KAFKA_STACK_DIR="$ROOT_DIR/stack/kafka"
KAFKA_LIBS="$LOCAL_DIR/kafka/libs-$KAFKA_VERSION"
KAFKA_DATA="$LOCAL_DIR/kafka/data"
KAFKA_PID_FILE="$RUN_DIR/kafka.pid"
KAFKA_LOG="$LOCAL_DIR/kafka/kafka.out"
# Any valid 22-character base64url id: each data folder is formatted once with it.
KAFKA_CLUSTER_ID="rsvpTopkLocalCluster01"

ensure_java() {
  ensure_command java openjdk-17-jre-headless
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ { print $2 }')"
  [ "${major%%.*}" -ge 17 ] 2>/dev/null || die "Kafka $KAFKA_VERSION needs Java 17 or newer; found Java ${major:-unknown}"
}

# A JDK (javac), for tests that run a Java program against the broker's client jars.
ensure_jdk() {
  ensure_java
  ensure_command javac openjdk-17-jdk-headless
}

ensure_kafka_jars() {
  [ -f "$KAFKA_LIBS/.complete" ] && return 0
  ensure_command mvn maven
  say "fetching the Kafka $KAFKA_VERSION broker jars from Maven Central (once)"
  rm -rf "$KAFKA_LIBS"
  mvn -B -q -f "$KAFKA_STACK_DIR/pom.xml" dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -Dkafka.libs.dir="$KAFKA_LIBS" >"$LOCAL_DIR/kafka/mvn.log" 2>&1 ||
    { tail -n 30 "$LOCAL_DIR/kafka/mvn.log" >&2; die "mvn dependency:copy-dependencies failed"; }
  [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] || die "the Kafka jars are incomplete in $KAFKA_LIBS"
  touch "$KAFKA_LIBS/.complete"
}

kafka_java() {
  java -Dlog4j2.configurationFile="$KAFKA_STACK_DIR/log4j2.properties" -cp "$KAFKA_LIBS/*" "$@"
}

kafka_up() {
  mkdir -p "$LOCAL_DIR/kafka" "$RUN_DIR"
  if pid_alive "$KAFKA_PID_FILE"; then
    say "  kafka      already running (pid $(head -n1 "$KAFKA_PID_FILE")) on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  ensure_java
  ensure_kafka_jars
  local started
  started="$(now)"
  mkdir -p "$KAFKA_DATA"
  sed -e "s|@PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$KAFKA_DATA|g" "$KAFKA_STACK_DIR/server.properties.template" >"$KAFKA_DATA/server.properties"
  if [ ! -f "$KAFKA_DATA/kraft-logs/meta.properties" ]; then
    kafka_java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 kafka.tools.StorageTool format \
      --standalone -t "$KAFKA_CLUSTER_ID" -c "$KAFKA_DATA/server.properties" >"$LOCAL_DIR/kafka/format.log" 2>&1 ||
      { tail -n 20 "$LOCAL_DIR/kafka/format.log" >&2; die "formatting Kafka's storage failed"; }
  fi
  : >"$KAFKA_LOG"
  # The subshell writes its own pid and then becomes the broker, so the pid file names the JVM.
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$KAFKA_PID_FILE" \
    java -Xms256m -Xmx512m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_STACK_DIR/log4j2.properties" -cp "$KAFKA_LIBS/*" \
    kafka.Kafka "$KAFKA_DATA/server.properties" >>"$KAFKA_LOG" 2>&1 </dev/null &
  # An open port is not readiness: requests hang until the broker is unfenced, which it logs.
  for _ in $(seq 1 600); do
    grep -q 'Kafka Server started' "$KAFKA_LOG" 2>/dev/null && break
    if [ -s "$KAFKA_PID_FILE" ] && ! pid_alive "$KAFKA_PID_FILE"; then
      tail -n 40 "$KAFKA_LOG" >&2
      die "Kafka exited during start-up (log: $KAFKA_LOG)"
    fi
    sleep 0.1
  done
  grep -q 'Kafka Server started' "$KAFKA_LOG" || { tail -n 40 "$KAFKA_LOG" >&2; die "Kafka did not start within 60 s"; }
  # Then a real metadata request through the client the service uses.
  node "$ROOT_DIR/stack/kafka-ready.ts" "127.0.0.1:$KAFKA_PORT" || die "Kafka does not answer metadata requests"
  say "  kafka      started (pid $(head -n1 "$KAFKA_PID_FILE")) on 127.0.0.1:$KAFKA_PORT in $(elapsed "$started") s"
}

kafka_down() {
  if pid_alive "$KAFKA_PID_FILE"; then
    say "  stopping kafka (pid $(head -n1 "$KAFKA_PID_FILE"))"
  fi
  stop_pid_file "$KAFKA_PID_FILE" kafka 60
}

kafka_status() {
  if pid_alive "$KAFKA_PID_FILE"; then
    echo "kafka      up    pid $(head -n1 "$KAFKA_PID_FILE")  127.0.0.1:$KAFKA_PORT  log $KAFKA_LOG"
  else
    echo "kafka      down"
  fi
}
