// The backend half of backend mode as a Worker: `createBackendHandler` from
// endpoint-login/server, exactly as the package's README shows it; nothing to configure.
import initServer, { createBackendHandler } from "endpoint-login/server";

await initServer();

let voice;

export default {
  /** @param {Request} request @param {Record<string, string>} env */
  fetch(request, env) {
    voice ??= createBackendHandler({
      dialect: "plivo",
      authId: env.PLIVO_AUTH_ID,
      authToken: env.PLIVO_AUTH_TOKEN,
      // Unset in production (the platform's API); the sandbox's address in development.
      baseUrl: env.PLIVO_API_URL || undefined,
      basePath: "/voice/",
      // Your own session check goes here: the signed-in user's grant, or null (401). This
      // example signs everyone in as VOICE_USER.
      authorize: async () => ({ sub: env.VOICE_USER, incoming: true, endpoints: "read" }),
    });
    return voice(request);
  },
};
