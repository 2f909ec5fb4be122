// What the Node-side tests share: a free port, a Node HTTP server for a listener, and
// waiting until a server answers.
import http from "node:http";
import net from "node:net";

/** A port nothing listens on now: bound, closed, handed on. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Serves a Node request listener (the package's `nodeListener(handler)`) on a free port of
 * 127.0.0.1; answers `{ origin, close }`.
 * @param {http.RequestListener} listener
 */
export async function serve(listener) {
  const server = http.createServer(listener);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/**
 * Resolves once a server started as `child` answers `url` with any status (polled every
 * 50 ms); rejects if `child` exits first. Readiness by answer, not by what the server
 * prints: its banner may be coloured (Vite colours the port when `CI` is set).
 * @param {string} url
 * @param {import("node:child_process").ChildProcess} child
 */
export async function untilAnswers(url, child) {
  let exited = null;
  const onExit = (code, signal) => (exited = `exited (${code ?? signal})`);
  child.once("exit", onExit);
  try {
    for (;;) {
      if (await fetch(url).then(() => true, () => false)) return;
      if (exited !== null) throw new Error(`the server for ${url} ${exited} before answering`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    child.off("exit", onExit);
  }
}
