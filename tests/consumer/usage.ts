// Type-level checks of the installed package with `tsc --noEmit --strict` (the README's
// examples are checked verbatim beside this file, in readme/). Compiled, never run.
import init, { EndpointClient, TokenProvider, isEndpointLoginError } from "endpoint-login";
import { createBackendHandler, nodeListener, verifyAccessToken } from "endpoint-login/server";
import http from "node:http";
import type { BackendGrant, BackendHandlerOptions } from "endpoint-login/server";
// @ts-expect-error pages' module has no function that needs the Auth Token
import { verifyAccessToken as notInPages } from "endpoint-login";
import initTokens, { TokenProvider as LoginProvider, decodeAccessToken, keepLoggedIn } from "endpoint-login/tokens";
import type { DecodedAccessToken, KeptLogin, KeptLoginEvent, PlivoClientLike } from "endpoint-login/tokens";
// @ts-expect-error the login pages' module has no endpoint client
import { EndpointClient as notInTokens } from "endpoint-login/tokens";
import type {
  ClientOptions,
  CreatedEndpoint,
  Endpoint,
  EndpointLoginError,
  EndpointLoginErrorCode,
  EndpointPage,
  EndpointSummary,
  ListQuery,
  RegistrationEvent,
  SipCredentials,
} from "endpoint-login";

export async function precise(client: EndpointClient): Promise<string[]> {
  await init();
  const page: EndpointPage = await client.listEndpoints({ limit: 10, aliasContains: "desk" });
  const registered: Endpoint[] = page.objects.filter((e) => e.sipRegistered);
  // @ts-expect-error sipRegistered is a boolean, not the wire's string
  const wrong: string = page.objects[0].sipRegistered;
  const appIds = registered.map((e) => e.application?.appId ?? "none");
  const created: CreatedEndpoint = await client.createEndpoint({ username: "a", password: "12345", alias: "a" });
  const creds: SipCredentials = await client.rotatePassword(created.endpointId);
  const counts: EndpointSummary = await client.summary({ limit: 20 }, { onProgress: ({ loaded, total }) => loaded / total, signal: AbortSignal.timeout(5000) });
  const stop = new AbortController();
  await client.getEndpoint(created.endpointId, { signal: stop.signal });
  // @ts-expect-error a signal is an AbortSignal
  await client.listEndpoints({}, { signal: "stop" });
  const none: void = await client.deleteEndpoint(created.endpointId);
  for await (const e of client.endpoints({}, { signal: stop.signal })) {
    const id: string = e.endpointId;
    appIds.push(id);
  }
  return [wrong, creds.username, String(counts.total), String(none), ...appIds];
}

export function options(): ClientOptions[] {
  const good: ClientOptions = { dialect: "plivo", authId: "MA1", baseUrl: "/voice" };
  // @ts-expect-error only "plivo" and "vobiz" exist
  const bad: ClientOptions = { dialect: "twilio", authId: "MA1" };
  // @ts-expect-error a query's limit is a number
  const query: ListQuery = { limit: "20" };
  void query;
  return [good, bad];
}

export function errors(e: unknown): EndpointLoginErrorCode | null {
  if (isEndpointLoginError(e)) {
    const error: EndpointLoginError = e;
    const status: number | undefined = error.status;
    void status;
    return error.code;
  }
  // @ts-expect-error not narrowed without the guard
  return e.code;
}

export function events(provider: TokenProvider): void {
  provider.addEventListener("tokenRefreshed", (event) => {
    const left: number = event.secondsLeft;
    const iss: string = event.claims.iss;
    void [left, iss];
  });
  provider.addEventListener("tokenError", (event) => {
    const code: EndpointLoginErrorCode = event.error.code;
    const retry: number | null = event.retryInMs;
    void [code, retry];
  });
  // @ts-expect-error only the three event types exist
  provider.addEventListener("tokenExpired", () => {});
  // @ts-expect-error a tokenWillExpire event has no claims
  provider.addEventListener("tokenWillExpire", (event) => event.claims);
}

export function server(token: string): string {
  void notInPages;
  return verifyAccessToken(token, "auth-token", { leewaySeconds: 30 }).claims.iss;
}

export function tokenProviders(client: EndpointClient): TokenProvider[] {
  const fromUrl = new TokenProvider({ tokenUrl: "/voice/token", refreshMarginSeconds: 120 });
  const fromClient = client.tokenProvider({ request: { sub: "alice", ttlSeconds: 600 } });
  // @ts-expect-error request goes with client.tokenProvider, not the constructor
  const wrong = new TokenProvider({ request: { sub: "alice" } });
  return [fromUrl, fromClient, wrong];
}

export function backend(): (request: Request) => Promise<Response> {
  const grant: BackendGrant = { sub: "alice", incoming: true, ttlSeconds: 600, endpoints: "read" };
  // @ts-expect-error endpoints is "none", "read" or "manage"
  const wrong: BackendGrant = { sub: "alice", endpoints: "write" };
  const options: BackendHandlerOptions = {
    dialect: "plivo",
    authId: "MA1",
    authToken: "server-only",
    basePath: "/voice/",
    authorize: async (request: Request) => (request.headers.has("cookie") ? grant : null),
  };
  void wrong;
  return createBackendHandler(options);
}

// Node's own request and response types fit the listener.
export function mounted(handler: (request: Request) => Promise<Response>): http.Server {
  return http.createServer(nodeListener(handler));
}

/** A page that only logs users in, with `endpoint-login/tokens`. */
export async function loginPage(): Promise<string> {
  await initTokens();
  const provider = new LoginProvider({ tokenUrl: "/voice/token", refreshMarginSeconds: 120 });
  const token: string = await provider.getAccessToken({ signal: AbortSignal.timeout(5000) });
  const decoded: DecodedAccessToken = decodeAccessToken(token);
  provider.dispose();
  return decoded.claims.iss;
}

/** Live registrations: the events narrow on `type`. */
export async function watching(client: EndpointClient): Promise<string[]> {
  const seen: string[] = [];
  const stop = new AbortController();
  for await (const event of client.watchRegistrations({ aliasContains: "desk" }, { intervalMs: 10_000, signal: stop.signal })) {
    const e: RegistrationEvent = event;
    if (e.type === "snapshot") seen.push(`${e.registered} of ${e.total}`, ...e.endpoints.map((x) => x.username));
    else if (e.type === "error") seen.push(e.error.code, String(e.retryInMs));
    else if (e.type === "changed") seen.push(e.endpoint.username, e.previous.sipContact ?? "none");
    // @ts-expect-error only a snapshot has endpoints
    else seen.push(String(e.endpoints));
  }
  // @ts-expect-error intervalMs is a number
  client.watchRegistrations({}, { intervalMs: "10s" });
  return seen;
}

/** A login page keeps the SDK logged in, with a token provider or with credentials. */
export function kept(sdk: PlivoClientLike, provider: LoginProvider): KeptLogin[] {
  const withTokens = keepLoggedIn(sdk, provider, {
    onEvent: (event: KeptLoginEvent) => console.info(event.type, event.message, event.code ?? "", event.retryInMs ?? ""),
    retry: { baseDelayMs: 1000, maxDelayMs: 30_000 },
  });
  withTokens.addEventListener("stopped", (event) => console.warn(event.cause));
  // @ts-expect-error no such event
  withTokens.addEventListener("registered", () => {});
  const withPassword = keepLoggedIn(sdk, async () => ({ username: "alice_0001", password: "from-your-backend" }));
  // @ts-expect-error a source is a provider or a credentials callback
  keepLoggedIn(sdk, "alice");
  const state: "loggingIn" | "loggedIn" | "waiting" | "stopped" | "disposed" | "inAnotherTab" = withPassword.status().state;
  void state;
  // One registration per browser: the default; every tab on its own when asked; the
  // registration moved to this tab before a call.
  const everyTab = keepLoggedIn(sdk, provider, { tabs: "each", followVisibleTab: false });
  const moved: Promise<void> = withTokens.takeOver();
  void moved;
  withTokens.addEventListener("inAnotherTab", (event) => console.info(event.message));
  // @ts-expect-error tabs is "one" or "each"
  keepLoggedIn(sdk, provider, { tabs: 2 });
  return [withTokens, withPassword, everyTab];
}
