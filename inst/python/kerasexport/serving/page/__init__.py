"""The page a person tries the models with, the OpenAPI document, and Swagger UI.

`routes()` gives `serving.app` the routes to add: ``GET /`` (the page),
``/page/{asset}`` and ``/page/models`` (its files, and the state it polls),
``/openapi.json`` (`openapi.document`), ``/docs`` and ``/docs/{asset}``
(Swagger UI over it). Every file is served from the installed packages
(`assets`). The page and its files hold nothing of the models, so they
stay open when a token is required (`OPEN_PATHS`); what they fetch
(``/page/models``, ``/openapi.json``, predictions) asks for the token.
"""

from starlette.responses import Response
from starlette.routing import Route

from kerasexport.serving.errors import NotFound
from kerasexport.serving.page import assets

OPEN_PATHS = frozenset({"/", "/docs"} | {f"/page/{n}" for n in assets.PAGE}
                       | {f"/docs/{n}" for n in assets.DOCS})
_HTML = "text/html; charset=utf-8"


def routes(repository, *, version, token):
    """The page's routes.

    Args:
        repository: the `Repository` served.
        version: `str`, the server's version.
        token: `bool`, whether the server requires a bearer token.

    Returns:
        A list of Starlette `Route`s.
    """
    from kerasexport.serving.page import openapi, state
    from kerasexport.codec import tensors

    async def page(request):
        return _file("index.html", _HTML)

    async def page_asset(request):
        return _asset(request.path_params["asset"], assets.PAGE)

    async def page_models(request):
        return Response(tensors.dumps(state.models(repository.models(), version=version, token=token)),
                        media_type="application/json")

    async def document(request):
        return Response(tensors.dumps(openapi.document(repository.models(), version=version, token=token)),
                        media_type="application/json")

    async def docs(request):
        try:
            assets.read("swagger-ui-bundle.js")
        except assets.Missing as exc:
            raise NotFound(str(exc)) from None
        return _file("docs.html", _HTML)

    async def docs_asset(request):
        return _asset(request.path_params["asset"], assets.DOCS)

    return [
        Route("/", page, methods=["GET"]),
        Route("/page/models", page_models, methods=["GET"]),
        Route("/page/{asset}", page_asset, methods=["GET"]),
        Route("/openapi.json", document, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/docs/{asset}", docs_asset, methods=["GET"]),
    ]


def _asset(name, table):
    if name not in table:
        raise NotFound(f"No file {name[:60]!r} here. Files: {sorted(table)}.")
    try:
        return _file(name, f"{table[name]}; charset=utf-8")
    except assets.Missing as exc:
        raise NotFound(str(exc)) from None


def _file(name, media_type):
    return Response(assets.read(name), headers={"content-type": media_type, "cache-control": "no-cache"})
