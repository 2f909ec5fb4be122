import init, { EndpointClient, isEndpointLoginError } from "/pkg/endpoint_login.js";

// The sandbox's documented account (see `endpoint-sandbox --help`): direct mode is for
// development only; never ship an account token to end users' browsers.
const SANDBOX_ACCOUNT = { authId: "MASANDBOXACCOUNT0001", authToken: "sandbox_auth_token_0123456789abcdef" };

const status = document.getElementById("status");
const rows = document.querySelector("#endpoints tbody");

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

async function main() {
  await init();
  const client = new EndpointClient({ dialect: "plivo", ...SANDBOX_ACCOUNT, baseUrl: location.origin });
  const page = await client.listEndpoints({ limit: 20 });
  for (const endpoint of page.objects) {
    const tr = document.createElement("tr");
    tr.append(
      cell(endpoint.username),
      cell(endpoint.alias),
      cell(endpoint.sipUri ?? ""),
      cell(endpoint.sipRegistered ? "yes" : "no"),
    );
    rows.append(tr);
  }
  status.textContent = `${page.objects.length} of ${page.meta.totalCount} endpoints`;
  document.body.dataset.ready = "true";
}

main().catch((e) => {
  status.textContent = isEndpointLoginError(e) ? `${e.code}: ${e.message}` : String(e);
  status.classList.add("error");
});
