// Starts Swagger UI on the API docs page (aspsp/templates/swagger_ui.html). A file rather than
// an inline script, so that the page's Content-Security-Policy allows scripts from this origin only.
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui-container");
  var config = JSON.parse(node.getAttribute("data-config") || "{}");
  config.url = node.getAttribute("data-spec-url");
  config.dom_id = "#swagger-ui-container";
  window.ui = SwaggerUIBundle(config);
})();
