package graphfraud;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;
import org.neo4j.io.ByteUnit;
import org.neo4j.kernel.internal.Version;

/**
 * Embedded Neo4j Community server exposing Bolt on a loopback address, for tests and development.
 *
 * <pre>
 * java -cp ... graphfraud.Neo4jServer --port 7687 --data DIR [--password PW] [--plugins DIR]
 *     [--host 127.0.0.1] [--pagecache 512m] [--tx-memory 2g]
 * </pre>
 *
 * Stdout carries exactly one line, printed once Bolt accepts connections:
 * {@code neo4j ready bolt://127.0.0.1:PORT (neo4j 5.26.x, gds 2.13.x|gds unavailable)}.
 * Everything else goes to stderr or DIR/logs. Exit codes: 0 after a clean shutdown on
 * SIGTERM/SIGINT, 2 for bad arguments or a busy port, 1 if Neo4j fails to start.
 */
public final class Neo4jServer {

    private static final PrintStream OUT = System.out;
    private static final PrintStream ERR = System.err;

    private Neo4jServer() {}

    public static void main(String[] argv) {
        Args args;
        try {
            args = Args.parse(argv);
        } catch (IllegalArgumentException e) {
            fail(2, e.getMessage());
            return;
        }

        if (!portIsFree(args.host, args.port)) {
            fail(2, "port " + args.port + " on " + args.host + " is already in use");
        }

        Path home = args.data.toAbsolutePath().normalize();
        try {
            Files.createDirectories(home.resolve("logs"));
        } catch (IOException e) {
            fail(2, "cannot create data directory " + home + ": " + e.getMessage());
        }

        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home)
                // Bolt on loopback only, plain text
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(args.host, args.port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(args.host, args.port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                // auth off unless a password was given
                .setConfig(GraphDatabaseSettings.auth_enabled, args.password != null)
                .setConfig(GraphDatabaseSettings.auth_minimum_password_length, 1)
                // memory: a 2-core / 24 GB machine shared with the test suite
                .setConfig(GraphDatabaseSettings.pagecache_memory, args.pagecache)
                .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size, args.txMemory)
                .setConfig(GraphDatabaseSettings.memory_transaction_max_size, args.txMemory / 2)
                // disk: no 256 MB pre-allocated transaction logs per database, short retention
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(64))
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "1 files")
                .setConfig(GraphDatabaseSettings.logs_directory, home.resolve("logs"))
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                // quick stop: the Bolt server otherwise waits 2 x 5 s for idle threads and connections
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(2))
                // procedures (Graph Data Science) from the plugins directory
                .setConfig(GraphDatabaseSettings.procedure_unrestricted, List.of("gds.*"));
        if (args.plugins != null) {
            builder.setConfig(GraphDatabaseSettings.plugin_dir, args.plugins.toAbsolutePath().normalize());
        }

        long t0 = System.nanoTime();
        DatabaseManagementService dbms;
        GraphDatabaseService db;
        try {
            dbms = builder.build();
            db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            if (!db.isAvailable(Duration.ofMinutes(2).toMillis())) {
                throw new IllegalStateException("database '" + db.databaseName() + "' did not become available");
            }
        } catch (Throwable e) {
            fail(1, "neo4j failed to start: " + rootMessage(e) + " (see " + home.resolve("logs") + ")");
            return;
        }

        AtomicBoolean stopped = new AtomicBoolean(false);
        CountDownLatch done = new CountDownLatch(1);
        Runnable stop = () -> {
            if (stopped.compareAndSet(false, true)) {
                ERR.println("neo4j: shutting down");
                try {
                    dbms.shutdown();
                    ERR.println("neo4j: stopped");
                } catch (Throwable e) {
                    ERR.println("neo4j: error during shutdown: " + rootMessage(e));
                } finally {
                    done.countDown();
                }
            } else {
                // a second signal (or the shutdown hook) waits for the first shutdown to finish
                try {
                    done.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        // Fallback for any other JVM exit; the signal handlers below give exit status 0.
        Runtime.getRuntime().addShutdownHook(new Thread(stop, "neo4j-shutdown"));
        installSignalHandler("TERM", stop);
        installSignalHandler("INT", stop);

        try {
            if (args.password != null) {
                setPassword(dbms, args.password);
            }
            waitForBolt(args.host, args.port, Duration.ofSeconds(60));
        } catch (Throwable e) {
            ERR.println("neo4j: " + rootMessage(e));
            stop.run();
            System.exit(1);
        }

        String gds = gdsVersion(db);
        double secs = (System.nanoTime() - t0) / 1e9;
        ERR.printf("neo4j: started in %.1fs, data in %s%n", secs, home);
        OUT.println("neo4j ready bolt://" + hostForUri(args.host) + ":" + args.port
                + " (neo4j " + Version.getNeo4jVersion() + ", "
                + (gds != null ? "gds " + gds : "gds unavailable") + ")");
        OUT.flush();

        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        System.exit(0);
    }

    // ------------------------------------------------------------------ helpers

    private static void installSignalHandler(String name, Runnable stop) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> {
                // run the shutdown off the signal thread, then exit 0
                Thread t = new Thread(() -> {
                    stop.run();
                    System.exit(0);
                }, "neo4j-signal-" + name);
                t.start();
            });
        } catch (Throwable e) {
            // the shutdown hook still stops the database cleanly (exit status 128+signal)
        }
    }

    private static void setPassword(DatabaseManagementService dbms, String password) {
        GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PLAINTEXT PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
        } catch (RuntimeException e) {
            // a restart on the same data folder with the same password: it is set already
            if (!String.valueOf(e.getMessage()).contains("Old password and new password cannot be the same")) {
                throw e;
            }
        }
    }

    private static String gdsVersion(GraphDatabaseService db) {
        try (Transaction tx = db.beginTx(); Result r = tx.execute("CALL gds.version() YIELD gdsVersion")) {
            return r.hasNext() ? String.valueOf(r.next().get("gdsVersion")) : null;
        } catch (Throwable e) {
            return null;
        }
    }

    private static boolean portIsFree(String host, int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getByName(host), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void waitForBolt(String host, int port, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, port), 1000);
                return;
            } catch (IOException e) {
                last = e;
                try {
                    Thread.sleep(50);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        throw new IOException("bolt port " + port + " is not accepting connections"
                + (last != null ? ": " + last.getMessage() : ""));
    }

    private static String hostForUri(String host) {
        return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String msg = root.getMessage();
        return (root.getClass().getSimpleName() + (msg != null ? ": " + msg : "")).replace('\n', ' ');
    }

    private static void fail(int code, String message) {
        ERR.println("neo4j-server: error: " + message);
        ERR.flush();
        System.exit(code);
    }

    // ------------------------------------------------------------------ arguments

    private static final class Args {
        String host = "127.0.0.1";
        int port = -1;
        Path data;
        Path plugins;
        String password;
        long pagecache = ByteUnit.mebiBytes(512);
        long txMemory = ByteUnit.gibiBytes(2);

        static Args parse(String[] argv) {
            Args a = new Args();
            for (int i = 0; i < argv.length; i++) {
                String k = argv[i];
                String v = null;
                int eq = k.indexOf('=');
                if (k.startsWith("--") && eq > 0) {
                    v = k.substring(eq + 1);
                    k = k.substring(0, eq);
                }
                if (k.equals("-h") || k.equals("--help")) {
                    throw new IllegalArgumentException(
                            "usage: Neo4jServer --port PORT --data DIR [--password PW] [--plugins DIR]"
                                    + " [--host 127.0.0.1] [--pagecache 512m] [--tx-memory 2g]");
                }
                if (v == null) {
                    if (i + 1 >= argv.length) {
                        throw new IllegalArgumentException("missing value for " + k);
                    }
                    v = argv[++i];
                }
                switch (k) {
                    case "--port" -> a.port = parsePort(v);
                    case "--data" -> a.data = Path.of(v);
                    case "--plugins" -> a.plugins = v.isEmpty() ? null : Path.of(v);
                    case "--password" -> a.password = v.isEmpty() ? null : v;
                    case "--host" -> a.host = v;
                    case "--pagecache" -> a.pagecache = parseBytes(v);
                    case "--tx-memory" -> a.txMemory = parseBytes(v);
                    default -> throw new IllegalArgumentException("unknown option " + k);
                }
            }
            if (a.port < 0) {
                throw new IllegalArgumentException("--port PORT is required");
            }
            if (a.data == null) {
                throw new IllegalArgumentException("--data DIR is required");
            }
            return a;
        }

        private static int parsePort(String v) {
            try {
                int p = Integer.parseInt(v);
                if (p < 1 || p > 65535) {
                    throw new NumberFormatException();
                }
                return p;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("invalid port: " + v);
            }
        }

        private static long parseBytes(String v) {
            try {
                return ByteUnit.parse(v);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("invalid size: " + v);
            }
        }
    }
}
