// The demo page: each panel is a module; they share the connection through state.js.
import init from "/pkg/endpoint_login.js";
import { setupConnect } from "./connect.js";
import { setupEndpoints } from "./endpoints.js";
import { setupLogin } from "./login.js";
import { setupToken } from "./token.js";
import { $, showError, setStatus } from "./ui.js";

try {
  await init();
  setupEndpoints();
  setupToken();
  setupLogin();
  setupConnect();
  document.body.dataset.ready = "true";
} catch (error) {
  setStatus("error", "Failed to start");
  showError($("#connect-error"), error);
}
