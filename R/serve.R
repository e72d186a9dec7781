#' Serve an artifact or a model repository over HTTP and gRPC
#'
#' Starts the kerasexport model server (`kerasexport serve`, the Python core's
#' command) on an artifact, or on a model repository laid out as TF-Serving
#' and Triton expect it (`ROOT/<model>/<version>/`, holding a SavedModel or a
#' `model.onnx`). It speaks TF-Serving's REST API (`/v1/models/...`) and
#' KServe v2, the Open Inference Protocol of Triton, KServe and Seldon
#' (`/v2/...`), so clients written for those servers work unchanged, and the
#' same folder moves to them unchanged. Prometheus metrics are at `/metrics`.
#' Triton's extensions are there too: a model's configuration
#' (`/v2/models/<name>/config`), its statistics (`/v2/models/<name>/stats`),
#' and loading and unloading (`/v2/repository/models/<name>/load`,
#' `/unload`; an unloaded model stays unloaded until it is loaded again).
#'
#' With `grpc_port`, the same two APIs are also served over gRPC on that
#' port: KServe v2 / Triton's `inference.GRPCInferenceService` (for
#' `tritonclient.grpc`) and TF-Serving's `PredictionService` and
#' `ModelService`, sharing the models, versions and batches with HTTP.
#' `$grpc` is then its address (`"127.0.0.1:8500"`).
#'
#' The server's own page, at its address (`"<url>/"`), lists the models, their
#' versions and signatures, and has a form per model that sends a request
#' (image inputs also take a PNG or JPEG file) and shows the answer, its
#' latency, or the server's error message. `"<url>/openapi.json"` is the
#' OpenAPI 3.1 description of every route, with each model's request and
#' response schemas, and `"<url>/docs"` shows it with Swagger UI. Every file
#' is served by the server itself: no internet access is needed. The page's
#' address is printed on start; `open = TRUE` opens it in the browser.
#'
#' The repository is scanned every `poll_seconds`: a new version directory
#' (for example one written by `export_savedmodel(model, "models/cnn/3")`) is
#' loaded, run once at each batch size it will be sent (so the first request
#' does not pay for warming it up), and swapped in without failing a request; requests
#' without a version go to the latest. A version that fails to load is
#' reported in the models' status, and the previous version keeps serving.
#' Concurrent requests to a model are merged into batches of up to
#' `max_batch_size` rows.
#'
#' In the foreground (`background = FALSE`) the server's log is shown until
#' you interrupt R (Esc or Ctrl+C), which stops the server. In the background,
#' the server runs in a child process; the returned object's `$url` is its
#' base URL, [load_artifact()] on `"<url>/v1/models/<name>"` predicts through
#' it, and [stop_server()] stops it. The child also stops when the object is
#' garbage-collected or the R session ends.
#'
#' @param path Path of an artifact (a SavedModel directory, an `.onnx` file),
#'   or of a model repository (`ROOT/<model>/<version>/`).
#' @param host Address to listen on. The default, `"127.0.0.1"`, accepts
#'   connections from this machine only; another address without a `token`
#'   makes the server print a warning.
#' @param port Port to listen on; `0` picks a free one (see `$url`).
#' @param grpc_port Port for gRPC, or `NULL` (the default) or `0` for no gRPC.
#'   TF-Serving's is 8500.
#' @param ... Server options, named: `poll_seconds` (default 5; 0 never
#'   polls), `max_batch_size` (default 32; 1 turns batching off),
#'   `max_delay_ms` (default 0: how long a request to an idle model waits for
#'   others to batch with), `max_body_mb` (default 64: larger bodies are
#'   refused with status 413), `token` (require
#'   `Authorization: Bearer <token>` on every route but the health checks;
#'   default: the `KERASEXPORT_SERVE_TOKEN` environment variable), `quiet`
#'   (`TRUE`: no access log), `model_config_file` (a TF-Serving
#'   `models.config`: serve its models, version policies and
#'   `version_labels`, as written by [write_repository()]). A Triton
#'   `<model>/config.pbtxt` sets that model's batching and warm-up.
#' @param background `FALSE` (default) to serve until interrupted; `TRUE` to
#'   start the server in a child process and return once it answers.
#' @param timeout Seconds to wait for the server to load its models and
#'   answer. Defaults to 120.
#' @param open `TRUE` to open the server's page in the browser
#'   ([utils::browseURL()]) once the server answers. Defaults to
#'   [interactive()].
#' @returns A `kerasexport_server` object: print it for its URL and models;
#'   `$url` is the base URL, `$grpc` the gRPC address (or `NULL`). In the foreground, returned invisibly once the
#'   server has stopped.
#' @section Errors:
#' Errors have class `kerasexport_error` and one of
#' `kerasexport_server_error` (the server did not start: the message shows
#' its last log lines), `kerasexport_artifact_error` (nothing at `path`),
#' `kerasexport_dependency_error` (no Python) and
#' `kerasexport_argument_error`. See [kerasexport-errors].
#' @family serving
#' @export
#' @examplesIf kerasexport:::python_ready()
#' keras <- reticulate::import("keras")
#' model <- keras$Sequential(list(keras$Input(shape = list(4L)), keras$layers$Dense(2L)))
#' repository <- file.path(tempdir(), "models")
#' model |> export_savedmodel(file.path(repository, "dense", "1", "model.onnx"),
#'   format = "onnx", overwrite = TRUE)
#'
#' server <- serve_artifact(repository, port = 0, background = TRUE)
#' server
#'
#' # both protocols over gRPC too, on TF-Serving's port
#' # serve_artifact(repository, port = 0, grpc_port = 8500, background = TRUE)
#'
#' # predict through the server, as with a local artifact
#' remote <- load_artifact(paste0(server$url, "/v1/models/dense"))
#' predict(remote, matrix(runif(8), nrow = 2))
#'
#' stop_server(server)
serve_artifact <- function(path, host = "127.0.0.1", port = 8501, grpc_port = NULL, ...,
                           background = FALSE, timeout = 120, open = interactive()) {
  call <- rlang::current_env()
  check_string(path)
  check_string(host)
  port <- check_whole(port, "port", 0, 65535, call)
  if (!is.null(grpc_port)) grpc_port <- check_whole(grpc_port, "grpc_port", 0, 65535, call)
  timeout <- check_whole(timeout, "timeout", 1, Inf, call)
  if (!(is.logical(background) && length(background) == 1 && !is.na(background))) {
    abort_kerasexport("argument", "{.arg background} must be {.code TRUE} or {.code FALSE}, not {obj_type(background)}.")
  }
  if (!(is.logical(open) && length(open) == 1 && !is.na(open))) {
    abort_kerasexport("argument", "{.arg open} must be {.code TRUE} or {.code FALSE}, not {obj_type(open)}.")
  }
  options <- server_options(list(...), call)
  path <- normalizePath(path.expand(path), mustWork = FALSE)
  if (!file.exists(path)) {
    abort_kerasexport(
      "artifact",
      c(
        "Nothing to serve at {.path {path}}: nothing exists there.",
        i = "Give an artifact, or a model repository laid out as {.file ROOT/<model>/<version>/}."
      )
    )
  }
  server <- start_server(path, host, port, grpc_port %||% 0, options, call)
  wait_until_ready(server, timeout, call)
  page <- page_url(server)
  if (background) {
    cli::cli_inform(c(i = "The server's page: {.url {page}}"))
  }
  if (open) {
    utils::browseURL(page)
  }
  if (background) {
    return(server)
  }
  on.exit(stop_server(server), add = TRUE)
  follow_log(server)
  invisible(server)
}

# Option name -> command-line flag; the token travels in the environment, not
# on the command line (where `ps` would show it).
server_flags <- c(
  poll_seconds = "--poll-seconds", max_batch_size = "--max-batch-size",
  max_delay_ms = "--max-delay-ms", max_body_mb = "--max-body-mb"
)

server_options <- function(options, call) {
  given <- names(options)
  known <- c(names(server_flags), "token", "quiet", "model_config_file")
  if (length(options) && (is.null(given) || any(!nzchar(given)))) {
    abort_kerasexport("argument", "Server options in {.arg ...} must be named: {.val {known}}.", call = call)
  }
  unknown <- setdiff(given, known)
  if (length(unknown)) {
    abort_kerasexport(
      "argument",
      c("Unknown server option{?s} {.val {unknown}}.", i = "Known: {.val {known}}."),
      call = call
    )
  }
  for (name in intersect(given, names(server_flags))) {
    value <- options[[name]]
    if (!(is.numeric(value) && length(value) == 1 && !is.na(value) && value >= 0)) {
      abort_kerasexport("argument", "Server option {.arg {name}} must be a non-negative number, not {obj_type(value)}.", call = call)
    }
  }
  if (!is.null(options$token)) check_string(options$token, arg = "token", call = call)
  if (!is.null(options$model_config_file)) check_string(options$model_config_file, arg = "model_config_file", call = call)
  if (!is.null(options$quiet) && !(is.logical(options$quiet) && length(options$quiet) == 1 && !is.na(options$quiet))) {
    abort_kerasexport("argument", "Server option {.arg quiet} must be {.code TRUE} or {.code FALSE}.", call = call)
  }
  options
}

check_whole <- function(value, name, low, high, call) {
  if (!(is.numeric(value) && length(value) == 1 && !is.na(value) && value == round(value) &&
    value >= low && value <= high)) {
    abort_kerasexport("argument", "{.arg {name}} must be a whole number from {low} to {high}, not {obj_type(value)}.", call = call)
  }
  value
}

start_server <- function(path, host, port, grpc_port, options, call) {
  python <- server_python(call)
  args <- c("-m", "kerasexport.cli", "serve", path, "--host", host, "--port", format(port, scientific = FALSE),
    "--grpc-port", format(grpc_port, scientific = FALSE))
  for (name in intersect(names(options), names(server_flags))) {
    args <- c(args, server_flags[[name]], format(options[[name]], scientific = FALSE))
  }
  if (isTRUE(options$quiet)) args <- c(args, "--quiet")
  if (!is.null(options$model_config_file)) args <- c(args, "--model-config-file", path.expand(options$model_config_file))
  core_path <- system.file("python", package = "kerasexport")
  pythonpath <- paste(c(core_path, Sys.getenv("PYTHONPATH")[nzchar(Sys.getenv("PYTHONPATH"))]), collapse = .Platform$path.sep)
  env <- c("current", PYTHONPATH = pythonpath, PYTHONUNBUFFERED = "1", LD_LIBRARY_PATH = user_library_path())
  token <- options$token %||% env_token()
  if (!is.null(token)) env <- c(env, KERASEXPORT_SERVE_TOKEN = token)
  log <- tempfile("kerasexport-serve-", fileext = ".log")
  process <- processx::process$new(
    python, args,
    stdout = log, stderr = "2>&1", env = env,
    cleanup = TRUE, cleanup_tree = TRUE, supervise = TRUE
  )
  new_server(process, log, token)
}

# LD_LIBRARY_PATH without the directories R's start-up script puts first
# (R's own lib, the system's): there, a Python built with a shared libpython
# (pyenv's) would load the system's libpython instead of its own.
user_library_path <- function() {
  current <- strsplit(Sys.getenv("LD_LIBRARY_PATH"), ":", fixed = TRUE)[[1]]
  ldpaths <- file.path(R.home("etc"), "ldpaths")
  if (.Platform$OS.type != "unix" || !file.exists(ldpaths) || !length(current)) {
    return(paste(current, collapse = ":"))
  }
  script <- paste0(". ", shQuote(ldpaths), " && printf %s \"$LD_LIBRARY_PATH\"")
  added <- tryCatch(
    system2("sh", c("-c", shQuote(script)), stdout = TRUE, stderr = FALSE,
      env = c(paste0("R_HOME=", shQuote(R.home())), "LD_LIBRARY_PATH=")),
    error = function(e) character(), warning = function(w) character()
  )
  added <- strsplit(paste(added, collapse = ""), ":", fixed = TRUE)[[1]]
  if (length(added) && identical(utils::head(current, length(added)), added)) {
    current <- current[-seq_along(added)]
  }
  paste(current, collapse = ":")
}

env_token <- function() {
  token <- Sys.getenv("KERASEXPORT_SERVE_TOKEN", "")
  if (nzchar(token)) token else NULL
}

server_python <- function(call) {
  python <- find_python()
  if (is.null(python)) {
    python <- tryCatch(reticulate::py_exe(), error = function(e) NULL)
  }
  if (is.null(python) || !file.exists(python)) {
    abort_kerasexport(
      "dependency",
      c(
        "No Python with the kerasexport core's dependencies was found to run the server.",
        i = "Run {.code kerasexport::install_kerasexport()}, or point {.envvar KERASEXPORT_PYTHON} at one."
      ),
      call = call
    )
  }
  python
}

new_server <- function(process, log, token) {
  server <- new.env(parent = emptyenv())
  server$process <- process
  server$log <- log
  server$token <- token
  server$url <- NULL
  server$grpc <- NULL
  class(server) <- "kerasexport_server"
  # processx also kills the child when its process object is collected; this
  # covers the server object itself, and the end of the session.
  reg.finalizer(server, function(s) {
    if (!is.null(s$process) && s$process$is_alive()) s$process$kill()
  }, onexit = TRUE)
  server
}

is_server <- function(x) inherits(x, "kerasexport_server")

# The server's page: its address with a trailing slash.
page_url <- function(server) paste0(server$url, "/")

# The child prints "Serving on <url>" once its models are loaded and it
# listens (and "gRPC on <address> (...)" with gRPC): wait for that line,
# then for the live check to answer.
wait_until_ready <- function(server, timeout, call) {
  deadline <- Sys.time() + timeout
  repeat {
    if (is.null(server$url)) {
      lines <- read_log(server)
      started <- grep("^Serving on ", lines, value = TRUE)
      if (length(started)) server$url <- sub("^Serving on ", "", started[[1]])
      grpc <- grep("^gRPC on ", lines, value = TRUE)
      if (length(grpc)) server$grpc <- sub("^gRPC on ([^ ]+).*$", "\\1", grpc[[1]])
    }
    if (!is.null(server$url)) {
      live <- tryCatch(http_request(paste0(server$url, "/v2/health/live"), timeout = 2)$status, error = function(e) NA)
      if (identical(live, 200L)) break
    }
    if (!server$process$is_alive()) {
      abort_kerasexport(
        "server",
        c("The server stopped before it was ready.", log_tail(server)),
        call = call
      )
    }
    if (Sys.time() > deadline) {
      stop_server(server)
      abort_kerasexport(
        "server",
        c("The server was not ready within {timeout} second{?s}.", log_tail(server), i = "Loading large models takes time: raise {.arg timeout}."),
        call = call
      )
    }
    Sys.sleep(0.1)
  }
  if (!is.null(server$token)) served_tokens[[server$url]] <- server$token
  ready <- tryCatch(http_request(paste0(server$url, "/v2/health/ready"), timeout = 5)$status, error = function(e) NA)
  if (!identical(ready, 200L)) {
    cli::cli_warn(c("The server is up, but not every model has a version available.", i = "{.code print(server)} shows why."))
  }
  invisible(server)
}

read_log <- function(server) {
  if (!file.exists(server$log)) {
    return(character())
  }
  suppressWarnings(readLines(server$log, warn = FALSE))
}

log_tail <- function(server, n = 5) {
  lines <- utils::tail(read_log(server), n)
  stats::setNames(cli_escape(lines), rep(" ", length(lines)))
}

follow_log <- function(server) {
  shown <- 0L
  repeat {
    lines <- read_log(server)
    if (length(lines) > shown) {
      cat(lines[(shown + 1):length(lines)], sep = "\n")
      shown <- length(lines)
    }
    if (!server$process$is_alive()) break
    server$process$wait(200)
  }
}

#' Stop a server started by serve_artifact()
#'
#' Asks the server to stop (an interrupt, as Ctrl+C): it stops taking connections, answers
#' the requests in flight, and exits. If it has not exited after `timeout`
#' seconds, it is killed. Stopping a stopped server does nothing.
#'
#' @param server A `kerasexport_server` from [serve_artifact()].
#' @param timeout Seconds to wait for a graceful stop. Defaults to 10.
#' @returns `server`, invisibly.
#' @section Errors:
#' `kerasexport_argument_error` when `server` is not a server. See
#' [kerasexport-errors].
#' @family serving
#' @export
#' @examplesIf kerasexport:::python_ready()
#' keras <- reticulate::import("keras")
#' model <- keras$Sequential(list(keras$Input(shape = list(4L)), keras$layers$Dense(2L)))
#' path <- file.path(tempdir(), "dense.onnx")
#' model |> export_savedmodel(path, format = "onnx", overwrite = TRUE)
#' server <- serve_artifact(path, port = 0, background = TRUE)
#' stop_server(server)
#' stop_server(server) # already stopped: nothing happens
stop_server <- function(server, timeout = 10) {
  if (!is_server(server)) {
    abort_kerasexport("argument", "{.arg server} must be a server from {.fn serve_artifact}, not {obj_type(server)}.")
  }
  process <- server$process
  if (!is.null(process) && process$is_alive()) {
    process$interrupt() # SIGINT: uvicorn's graceful stop, as SIGTERM
    process$wait(timeout * 1000)
    if (process$is_alive()) process$kill()
  }
  invisible(server)
}

#' @export
print.kerasexport_server <- function(x, ...) {
  alive <- !is.null(x$process) && x$process$is_alive()
  status <- if (alive) "running" else "stopped"
  lines <- c(
    "*" = "URL: {x$url %||% 'not started'}",
    if (!is.null(x$grpc)) c("*" = "gRPC: {x$grpc}"),
    if (!is.null(x$url)) c("*" = "Page: {page_url(x)}"),
    "*" = "Status: {status}"
  )
  models <- if (alive && !is.null(x$url)) server_models(x) else NULL
  if (!is.null(models)) {
    lines <- c(lines, "*" = if (length(models)) "Models:" else "Models: none yet")
    model_lines <- stats::setNames(cli_escape(models), rep(" ", length(models)))
    lines <- c(lines, model_lines)
  }
  cat("<kerasexport_server>", cli_lines(lines), sep = "\n")
  invisible(x)
}

# "mlp: versions 1, 2" (and failures) from Triton's repository index.
server_models <- function(server) {
  index <- tryCatch(
    http_json(paste0(server$url, "/v2/repository/index"), method = "POST", body = "{}", token = server$token),
    error = function(e) NULL
  )
  if (is.null(index)) {
    return(NULL)
  }
  by_model <- split(index, vapply(index, `[[`, "", "name"))
  unlist(lapply(names(by_model), function(name) {
    entries <- by_model[[name]]
    ready <- vapply(Filter(function(e) identical(e$state, "READY"), entries), `[[`, "", "version")
    failed <- Filter(function(e) identical(e$state, "UNAVAILABLE") && !identical(e$reason, "unloaded"), entries)
    unloaded <- any(vapply(entries, function(e) identical(e$reason, "unloaded"), logical(1)))
    head <- if (unloaded) {
      paste0(name, ": unloaded (load it with POST /v2/repository/models/", name, "/load)")
    } else if (length(ready)) {
      paste0(name, ": version", if (length(ready) > 1) "s", " ", paste(ready, collapse = ", "))
    } else {
      paste0(name, ": no version available")
    }
    c(head, vapply(failed, function(e) paste0("  version ", e$version, " failed to load: ", e$reason), ""))
  }))
}

# Bullets formatted by cli, as lines for cat(); `{` and `}` in data are escaped.
cli_lines <- function(bullets) {
  cli::cli_format_method(cli::cli_bullets(bullets, .envir = parent.frame()))
}
