// Starts Swagger UI on /docs for this server's OpenAPI document. A file of
// its own, not an inline script: the page's CSP allows scripts from this
// server only (served by certhub/web/apidocs.py at /docs/init.js).
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    // Never send the schema to the public validator (its badge is an image from another origin).
    validatorUrl: null,
    // A pasted token lives only as long as the page.
    persistAuthorization: false,
    showExtensions: true,
    showCommonExtensions: true,
  });
});
