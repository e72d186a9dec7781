// Swagger UI over /openapi.json; the token the page was given (if any) is sent with every request.
(function () {
  "use strict";
  var token = sessionStorage.getItem("kerasexport-token");
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    requestInterceptor: function (request) {
      if (token && !request.headers.Authorization) request.headers.Authorization = "Bearer " + token;
      return request;
    },
  });
})();
