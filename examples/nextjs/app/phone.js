"use client";
// The page half: endpoints through the backend handler (backend mode: no secret in the
// page), and the Plivo browser SDK logged in with a TokenProvider and kept logged in.
import { useEffect, useRef, useState } from "react";
import init, { EndpointClient, isEndpointLoginError } from "endpoint-login";
import initTokens, { TokenProvider, keepLoggedIn } from "endpoint-login/tokens";

const AUTH_ID = process.env.NEXT_PUBLIC_PLIVO_AUTH_ID;
// Unset in production (the SDK uses the platform's servers); the sandbox's in development.
const SIGNALLING = process.env.NEXT_PUBLIC_PLIVO_SIGNALLING;

const say = (e) => (isEndpointLoginError(e) ? `${e.code}: ${e.message}` : String(e));

export default function Phone() {
  const client = useRef(null);
  const [endpoints, setEndpoints] = useState("…");
  const [created, setCreated] = useState("");
  const [login, setLogin] = useState("starting");

  useEffect(() => {
    let provider;
    let kept;
    (async () => {
      await Promise.all([init(), initTokens()]);
      client.current = new EndpointClient({ dialect: "plivo", authId: AUTH_ID, baseUrl: "/voice" });
      const page = await client.current.listEndpoints({ limit: 5 });
      setEndpoints(`${page.meta.totalCount}: ${page.objects.map((e) => e.username).join(", ")}`);

      // The SDK touches `window` as it loads: import it in the browser only.
      const { default: Plivo } = await import("plivo-browser-sdk");
      const plivo = new Plivo(SIGNALLING ? { registrationDomainSocket: [SIGNALLING] } : {});
      provider = new TokenProvider({ tokenUrl: "/voice/token" });
      kept = keepLoggedIn(plivo.client, provider, { onEvent: (event) => setLogin(`${event.type}: ${event.message}`) });
    })().catch((e) => setLogin(say(e)));
    return () => {
      kept?.dispose();
      provider?.dispose();
    };
  }, []);

  async function create() {
    try {
      const endpoint = await client.current.createEndpoint({ username: "desk", password: "desk-pass-1", alias: "desk" });
      setCreated(endpoint.username);
    } catch (e) {
      setCreated(say(e));
    }
  }

  return (
    <dl>
      <dt>Endpoints</dt>
      <dd id="endpoints">{endpoints}</dd>
      <dt>
        <button id="create" onClick={create}>
          Create an endpoint
        </button>
      </dt>
      <dd id="created">{created}</dd>
      <dt>This browser</dt>
      <dd id="login">{login}</dd>
    </dl>
  );
}
