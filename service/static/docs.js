// Starts Swagger UI on this service's own OpenAPI document. A separate file rather than an inline
// script, so that the page's Content-Security-Policy can forbid inline scripts.
/* global SwaggerUIBundle */
window.ui = SwaggerUIBundle({
  url: new URL('openapi', document.baseURI).href,
  dom_id: '#swagger-ui',
  layout: 'BaseLayout',
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis],
  // No call to the public online validator: the page talks to this service only.
  validatorUrl: null,
});
