// DynamoDB Local on 127.0.0.1 only. Its jar has no option for the address (Jetty's Server(port)
// listens on every interface), so this launcher builds the server from the usual command line
// arguments, sets the host of its Jetty connectors, and starts it. Reflection only: it compiles
// against nothing (`java -cp <DynamoDBLocal.jar:lib/*> DynamoDbLocalLoopback.java <args>`, Java 17's
// single-file source launch), and sends no telemetry (ServerRunner.main would configure it).
import java.lang.reflect.Field;

public class DynamoDbLocalLoopback {
  public static void main(String[] args) throws Exception {
    followStarter();
    Class<?> runner = Class.forName("software.amazon.dynamodb.services.local.main.ServerRunner");
    Object proxy = runner.getMethod("createServerFromCommandLineArgs", String[].class).invoke(null, (Object) args);
    Field field = proxy.getClass().getDeclaredField("server");
    field.setAccessible(true);
    Object server = field.get(proxy);
    for (Object connector : (Object[]) server.getClass().getMethod("getConnectors").invoke(server)) {
      connector.getClass().getMethod("setHost", String.class).invoke(connector, "127.0.0.1");
    }
    proxy.getClass().getMethod("start").invoke(proxy);
    System.out.println("DynamoDB Local listening on 127.0.0.1");
  }

  /**
   * Its own process group outlives a starter that dies without cleaning up (SIGKILL, a test runner
   * tearing its worker down): it exits with the process named by -Dstarter.pid (local/engines.ts),
   * checked from the first moment, so a starter gone before the server is up is seen too.
   */
  private static void followStarter() {
    String pid = System.getProperty("starter.pid");
    if (pid == null) return;
    ProcessHandle starter = ProcessHandle.of(Long.parseLong(pid)).orElse(null);
    Thread watchdog = new Thread(() -> {
      while (starter != null && starter.isAlive()) {
        try {
          Thread.sleep(500);
        } catch (InterruptedException e) {
          return;
        }
      }
      Runtime.getRuntime().halt(0);
    });
    watchdog.setDaemon(true);
    watchdog.start();
  }
}
