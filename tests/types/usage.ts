// The README's examples, type-checked with `tsc --noEmit --strict` against the generated
// .d.ts. Compiled only, never run: it proves the types say what the README does.
import init, { EndpointClient, isEndpointLoginError } from "endpoint-login";
import type { Endpoint, EndpointLoginErrorCode, EndpointPage } from "endpoint-login";

export async function readme(): Promise<void> {
  await init(); // loads the WebAssembly module once

  // Backend mode: your backend adds the account credentials; the page holds no secret.
  const client = new EndpointClient({ dialect: "vobiz", authId: "MA_XXXXXXXX", baseUrl: "/voice" });

  try {
    const page = await client.listEndpoints({ limit: 50 });
    console.log(`${page.meta.totalCount} endpoints`);
    for await (const endpoint of client.endpoints({ aliasContains: "desk" })) {
      console.log(endpoint.username, endpoint.sipRegistered ? "online" : "offline");
    }
  } catch (e) {
    if (isEndpointLoginError(e)) console.error(e.code, e.message);
    else throw e;
  }
}

// The types are precise: no `any` leaks out.
export function precise(page: EndpointPage): string[] {
  const registered: Endpoint[] = page.objects.filter((e) => e.sipRegistered);
  const code: EndpointLoginErrorCode = "NOT_FOUND";
  // @ts-expect-error sipRegistered is a boolean, not the wire's string
  const wrong: string = page.objects[0].sipRegistered;
  return [code, wrong, ...registered.map((e) => e.application?.appId ?? "none")];
}
