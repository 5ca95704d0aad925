/**
 * Loopback ports for shadows. With host networking every shadow listens on its own port of
 * 127.0.0.1, handed to it through the workload's port variable.
 */
import net from "node:net";

/** Ports handed out by this process recently: the kernel may offer a just-closed port again. */
const recentlyHanded = new Map<number, number>();
const RECENT_MS = 60_000;

function bindEphemeral(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned by the kernel"))));
    });
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: bind port 0, read the port, close.
 * Not reserved — another process may take it before the shadow binds it — but never the same
 * port twice within a minute in this process, so shadows started in parallel do not collide.
 */
export async function findFreePort(): Promise<number> {
  const now = Date.now();
  for (const [port, at] of recentlyHanded) if (now - at > RECENT_MS) recentlyHanded.delete(port);
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await bindEphemeral();
    if (!recentlyHanded.has(port)) {
      recentlyHanded.set(port, now);
      return port;
    }
  }
  throw new Error("findFreePort: the kernel kept offering ports already handed out in the last minute");
}

/** True when something accepts TCP connections on 127.0.0.1:<port> (used before a start). */
export function portAnswers(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
