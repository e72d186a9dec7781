"""The page's files and Swagger UI's, read from the installed packages, never from a CDN.

The page's own files ship in ``static/`` beside this module (package data
of the Python package, and inside the R package's ``inst/python``).
Swagger UI's come from the pinned ``swagger-ui-bundle-v2`` package (module
``swagger_ui_bundle``, Swagger UI 5: the first to read OpenAPI 3.1); when
it is not installed, ``/docs`` says so with a 404.
"""

import functools
import os

STATIC = os.path.join(os.path.dirname(__file__), "static")
# name -> media type, for the files under /page/ and /docs/.
PAGE = {"page.js": "text/javascript", "page.css": "text/css"}
DOCS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "docs.js": "text/javascript"}
_OWN = {"index.html", "docs.html", "page.js", "page.css", "docs.js"}
SWAGGER_PACKAGE = "swagger-ui-bundle-v2"


class Missing(LookupError):
    """An asset that is not installed."""


@functools.lru_cache(maxsize=None)
def read(name):
    """The bytes of an asset: one of the page's files, or Swagger UI's.

    Raises:
        Missing: Swagger UI's package is not installed.
    """
    if name in _OWN:
        with open(os.path.join(STATIC, name), "rb") as f:
            return f.read()
    try:
        import swagger_ui_bundle
    except ImportError:
        raise Missing(f"Swagger UI is not installed: install the Python package {SWAGGER_PACKAGE} "
                      "(pip install swagger-ui-bundle-v2) to get /docs. /openapi.json works without it.") from None
    with open(os.path.join(swagger_ui_bundle.swagger_ui_path, name), "rb") as f:
        return f.read()
