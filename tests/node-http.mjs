// What the Node-side tests share: a free port, and a Node HTTP server in front of a
// Fetch-API handler (`(request: Request) => Promise<Response>`), with the same adapter as
// the README's backend handler example.
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
 * Serves `handle` on a free port of 127.0.0.1; answers `{ origin, close }`.
 * @param {(request: Request) => Promise<Response>} handle
 */
export async function serve(handle) {
  const server = http.createServer(async (req, res) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const answer = await handle(new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body }));
    answer.headers.forEach((value, name) => res.setHeader(name, value));
    res.writeHead(answer.status).end(Buffer.from(await answer.arrayBuffer()));
  });
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
