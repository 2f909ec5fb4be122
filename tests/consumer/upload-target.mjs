// A backend as an application mounts it (`createBackendHandler` in a Node server through
// `nodeListener`, from the packed package), in a process of its own so that a test can
// read its memory around an attack: it prints its port, then answers each IPC message
// "memory" with its resident set size in bytes, measured after a full garbage collection.
// Started by attacks.test.mjs with `node --expose-gc`.
import http from "node:http";
import initServer, { createBackendHandler, nodeListener } from "endpoint-login/server";

await initServer();
const voice = createBackendHandler({
  dialect: "plivo",
  authId: "MASANDBOXACCOUNT0001",
  authToken: "sandbox_auth_token_0123456789abcdef",
  baseUrl: process.env.SANDBOX_URL ?? "http://127.0.0.1:8787",
  basePath: "/voice/",
  // Nobody is signed in: every request is one an attacker sends without a session.
  authorize: () => null,
});
const server = http.createServer(nodeListener(voice));
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
process.on("message", (message) => {
  if (message === "memory") {
    globalThis.gc();
    process.send({ rss: process.memoryUsage().rss });
  }
});
process.on("disconnect", () => server.close(() => process.exit(0)));
