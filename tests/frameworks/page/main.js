// What a page does with the package, bundled by esbuild, Rollup and webpack 5 in turn
// (bundlers.test.mjs): the type guard before `init()`, a failed `init()`, then both modules
// loaded as each bundler emits them, used against the sandbox. The test reads `window.run`.
import init, { EndpointClient, isEndpointLoginError } from "endpoint-login";
import initTokens, { TokenProvider, decodeAccessToken } from "endpoint-login/tokens";

window.run = async ({ sandbox, authId, authToken }) => {
  const guard = (e) => {
    try {
      return isEndpointLoginError(e);
    } catch (thrown) {
      return `threw ${thrown}`;
    }
  };
  const beforeInit = [guard(new Error("x")), guard(undefined), guard({ name: "EndpointLoginError", code: "NETWORK" })];
  let failed;
  try {
    await init({ module_or_path: new URL("/no-such.wasm", location.href) });
    failed = "init() resolved";
  } catch (e) {
    failed = { guard: guard(e), code: e.code, message: e.message };
  }
  await init();
  await initTokens();
  const client = new EndpointClient({ dialect: "plivo", authId, authToken, baseUrl: sandbox });
  const page = await client.listEndpoints({ limit: 5 });
  const created = await client.createEndpoint({ username: "bundled", password: "bundled-pass-1", alias: "bundle" });
  const { token } = await client.createToken({ sub: created.username, ttlSeconds: 600 });
  const login = new TokenProvider({ fetchToken: async () => token });
  const fromLogin = await login.getAccessToken();
  login.dispose();
  let afterInit = null;
  try {
    await client.getEndpoint("no/such");
  } catch (e) {
    afterInit = guard(e) && e.code;
  }
  return {
    beforeInit,
    failed,
    listed: page.objects.length,
    created: created.username,
    loginSub: decodeAccessToken(fromLogin).claims.sub,
    afterInit,
    wasm: performance.getEntriesByType("resource").filter((r) => r.name.includes(".wasm")).map((r) => new URL(r.name).pathname),
  };
};
document.getElementById("out").textContent = "ready";
