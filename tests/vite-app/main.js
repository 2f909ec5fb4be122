// What a Vite application does with the package: `init()` (Vite resolves the .wasm URL
// and serves the file), then the clients. The test page reads `window.run`.
import init, { EndpointClient, TokenProvider, decodeAccessToken, isEndpointLoginError } from "endpoint-login";
// The module of pages that only log users in: its own WebAssembly, resolved by Vite too.
import initTokens, { TokenProvider as LoginProvider } from "endpoint-login/tokens";

window.run = async ({ sandbox, authId, authToken }) => {
  await init();
  const client = new EndpointClient({ dialect: "plivo", authId, authToken, baseUrl: sandbox });
  const page = await client.listEndpoints({ limit: 5 });
  const created = await client.createEndpoint({ username: "viteuser", password: "vite-pass-123", alias: "vite" });
  const { token } = await client.createToken({ sub: created.username, ttlSeconds: 600 });
  const provider = client.tokenProvider({ request: { sub: created.username, ttlSeconds: 600 } });
  const fromProvider = await provider.getAccessToken();
  provider.dispose();
  await initTokens();
  const login = new LoginProvider({ fetchToken: async () => token });
  const fromLogin = await login.getAccessToken();
  login.dispose();
  let error = null;
  try {
    await client.getEndpoint("no/such");
  } catch (e) {
    error = isEndpointLoginError(e) ? e.code : String(e);
  }
  return {
    listed: page.objects.length,
    created: created.username,
    tokenSub: decodeAccessToken(token).claims.sub,
    providerSub: decodeAccessToken(fromProvider).claims.sub,
    loginSub: decodeAccessToken(fromLogin).claims.sub,
    error,
  };
};
document.getElementById("out").textContent = "ready";
