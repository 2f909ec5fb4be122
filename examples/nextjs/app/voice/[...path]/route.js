// The backend half: GET /voice/token answers a token for the signed-in user, and the
// endpoint calls of a backend-mode EndpointClient under /voice/ are forwarded with the
// account's credentials, which only this server holds.
import initServer, { createBackendHandler } from "endpoint-login/server";

await initServer();

// Made at the first request, not as the module loads: `next build` loads route modules,
// and the account's secrets are often there only at run time.
let voice;

/** @param {Request} request */
function handle(request) {
  voice ??= createBackendHandler({
    dialect: "plivo",
    authId: process.env.PLIVO_AUTH_ID,
    authToken: process.env.PLIVO_AUTH_TOKEN,
    // Unset in production (the platform's API); the sandbox's address in development.
    baseUrl: process.env.PLIVO_API_URL || undefined,
    basePath: "/voice/",
    // Your own session check goes here (NextAuth, Clerk, your cookie...): the signed-in
    // user's grant, or null for 401. This example signs everyone in as VOICE_USER.
    authorize: async () => ({ sub: process.env.VOICE_USER, incoming: true, endpoints: "manage" }),
  });
  return voice(request);
}

export { handle as GET, handle as POST, handle as DELETE };
