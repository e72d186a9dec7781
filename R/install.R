#' Create a Python environment for kerasexport
#'
#' Creates a virtualenv (by default `r-kerasexport`, which kerasexport finds
#' on its own) and installs Keras 3 with the backends and runtimes the exports
#' need, at the versions kerasexport is tested with. TensorFlow is always
#' installed: it writes and runs SavedModels and carries the cross-backend
#' route.
#'
#' kerasexport looks for Python in this order: the `KERASEXPORT_PYTHON`
#' environment variable; reticulate's own settings (`RETICULATE_PYTHON`, an
#' active virtualenv); a `.venv` in the working directory or one of its
#' parents; then the `r-kerasexport` virtualenv.
#'
#' @param envname Name of (or path to) the virtualenv.
#' @param backends Keras backends to install, any of `"tensorflow"`, `"jax"`
#'   and `"torch"`.
#' @param ... Passed on to [reticulate::virtualenv_install()], e.g.
#'   `pip_options`.
#' @param python Python interpreter to build the environment from. `NULL`
#'   (default) uses Python 3.11, the version kerasexport's pins were resolved
#'   and tested on, when the machine has one (as found by
#'   [reticulate::virtualenv_starter()]); otherwise reticulate chooses, with a
#'   warning.
#' @param new_env `TRUE` to delete and recreate an existing environment.
#' @returns The path of the environment's Python, invisibly.
#' @section Errors:
#' `kerasexport_argument_error` for an unknown backend.
#' @family set-up
#' @export
#' @examples
#' \dontrun{
#' install_kerasexport()
#' install_kerasexport(backends = c("tensorflow", "jax"))
#' }
install_kerasexport <- function(envname = "r-kerasexport",
                                backends = c("tensorflow", "jax", "torch"),
                                ...,
                                python = NULL,
                                new_env = FALSE) {
  check_string(envname)
  backends <- check_backends(backends)
  check_bool(new_env)
  if (new_env && reticulate::virtualenv_exists(envname)) {
    reticulate::virtualenv_remove(envname, confirm = FALSE)
  }
  if (!reticulate::virtualenv_exists(envname)) {
    if (is.null(python)) python <- tested_python()
    # No packages yet: numpy comes later, pinned with the rest.
    create_args <- list(envname, packages = NULL)
    if (!is.null(python)) create_args$python <- python
    do.call(reticulate::virtualenv_create, create_args)
  }
  plan <- install_plan(backends)
  constraints <- c("-c", constraints_file())
  for (step in plan) {
    reticulate::virtualenv_install(envname, step, pip_options = constraints, ...)
  }
  cli::cli_inform(c(
    v = "Installed kerasexport's Python dependencies in {.path {envname}}.",
    i = "Restart R so that kerasexport picks up this environment."
  ))
  invisible(reticulate::virtualenv_python(envname))
}

backend_choices <- c("tensorflow", "jax", "torch")

# The Python version the pins in constraints.txt were resolved and tested on:
# another version resolves other wheels, or none.
tested_python_version <- "3.11"

tested_python <- function() {
  pick_python(reticulate::virtualenv_starter(all = TRUE))
}

# `starters`: a data frame of `version` and `path`, as
# `reticulate::virtualenv_starter(all = TRUE)` gives. The first Python of the
# tested minor version, or NULL (reticulate then chooses) with a warning.
pick_python <- function(starters, tested = tested_python_version) {
  versions <- if (is.null(starters)) character() else as.character(starters$version)
  minor <- sub("^([0-9]+[.][0-9]+).*$", "\\1", versions)
  if (any(minor == tested)) {
    return(starters$path[[which(minor == tested)[[1]]]])
  }
  cli::cli_warn(
    c(
      "No Python {tested} found; kerasexport's pins were resolved and tested on Python {tested}.",
      i = "Found: {if (length(versions)) versions else 'none'}. reticulate will choose one, and some pins may not install.",
      i = "Install Python {tested}, or pass its path as {.arg python}."
    ),
    class = "kerasexport_python_version_warning"
  )
  NULL
}

check_backends <- function(backends, arg = caller_arg(backends), call = caller_env()) {
  if (!is.character(backends) || length(backends) == 0 || anyNA(backends)) {
    abort_kerasexport(
      "argument",
      "{.arg {arg}} must be a character vector naming Keras backends, not {obj_type(backends)}.",
      call = call
    )
  }
  if (!all(backends %in% backend_choices)) {
    abort_kerasexport(
      "argument",
      "{.arg {arg}} must name one or more of {.or {.val {backend_choices}}}; {.val {setdiff(backends, backend_choices)}} {?is/are} not among them.",
      call = call
    )
  }
  unique(backends)
}

# Install steps, in order: torch on its own first (pinned, so pip does not
# pull a CUDA build), then everything else.
install_plan <- function(backends) {
  pins <- read_pins()
  pinned <- function(names) unname(pins[names])
  steps <- list()
  if ("torch" %in% backends) {
    steps$torch <- pinned("torch")
  }
  # The runtimes of every format: OpenVINO, and LiteRT's standalone
  # interpreter (TensorFlow converts LiteRT files; torch writes .pt2 files).
  common <- c("keras", "numpy", "tensorflow-cpu", "onnx", "onnxruntime", "tf2onnx", "openvino", "ai-edge-litert")
  extra <- c(
    if ("jax" %in% backends) c("jax", "jaxlib", "jax2onnx"),
    if ("torch" %in% backends) "onnxscript"
  )
  steps$packages <- pinned(c(common, extra))
  steps
}

read_pins <- function() {
  lines <- readLines(constraints_file(), warn = FALSE)
  lines <- trimws(sub("#.*$", "", lines))
  lines <- lines[nzchar(lines)]
  pin_names <- sub("==.*$", "", lines)
  stats::setNames(lines, pin_names)
}

constraints_file <- function() {
  system.file("python", "constraints.txt", package = "kerasexport", mustWork = TRUE)
}
