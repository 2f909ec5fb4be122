// A Node program bundled by esbuild (`--platform=node`) with the package inside the bundle:
// the backend handler answers a token and an endpoint page from the sandbox, and the
// bundle runs from a folder with no node_modules (bundlers.test.mjs).
import initServer, { createBackendHandler, decodeAccessToken, isEndpointLoginError } from "endpoint-login/server";

const [sandbox, authId, authToken] = process.argv.slice(2);
const guardBeforeInit = isEndpointLoginError(new Error("x"));
await initServer();
const voice = createBackendHandler({
  dialect: "plivo",
  authId,
  authToken,
  baseUrl: sandbox,
  basePath: "/voice/",
  authorize: async () => ({ sub: "alice260101000000", endpoints: "read" }),
});
const token = await (await voice(new Request("http://app.test/voice/token"))).json();
const page = await (await voice(new Request(`http://app.test/voice/v1/Account/${authId}/Endpoint?limit=3`))).json();
console.log(JSON.stringify({ guardBeforeInit, sub: decodeAccessToken(token.token).claims.sub, listed: page.objects.length }));
