# Finding the Python that runs the core, and calling into it.
#
# Order: `KERASEXPORT_PYTHON`; then reticulate's own choices
# (`RETICULATE_PYTHON`, an active virtualenv); then a `.venv` in the working
# directory or one of its parents (the repository's development environment);
# then the `r-kerasexport` virtualenv made by `install_kerasexport()`.

configure_python <- function() {
  python <- find_python()
  if (is.null(python) || reticulate::py_available(initialize = FALSE)) {
    return(invisible(NULL))
  }
  # Required, so reticulate's later guesses (a Poetry project, a managed
  # environment it would download) cannot take its place.
  reticulate::use_python(python, required = TRUE)
  invisible(python)
}

find_python <- function(dir = getwd()) {
  explicit <- Sys.getenv("KERASEXPORT_PYTHON")
  if (nzchar(explicit)) {
    return(explicit)
  }
  if (nzchar(Sys.getenv("RETICULATE_PYTHON")) || nzchar(Sys.getenv("VIRTUAL_ENV"))) {
    return(NULL)
  }
  venv <- find_project_venv(dir)
  if (!is.null(venv)) {
    return(venv)
  }
  if (reticulate::virtualenv_exists(default_envname)) {
    return(reticulate::virtualenv_python(default_envname))
  }
  NULL
}

find_project_venv <- function(dir) {
  dir <- normalizePath(dir, mustWork = FALSE)
  repeat {
    python <- file.path(dir, ".venv", "bin", "python")
    if (file.exists(python)) {
      return(python)
    }
    parent <- dirname(dir)
    if (identical(parent, dir)) {
      return(NULL)
    }
    dir <- parent
  }
}

#' Is the Python side ready?
#'
#' `TRUE` when Python, Keras and the kerasexport core can be imported. Used to
#' decide whether examples and tests that need Python can run.
#'
#' @returns `TRUE` or `FALSE`.
#' @keywords internal
python_ready <- function() {
  isTRUE(tryCatch(
    reticulate::py_module_available("keras") &&
      reticulate::py_module_available("numpy") &&
      !is.null(core$export),
    error = function(e) FALSE
  ))
}

#' @describeIn python_ready `TRUE` when keras3 (the R interface to Keras)
#'   is installed too: examples written in keras3's API run only then.
keras3_ready <- function() {
  # keras3 loads before Python starts, as it expects.
  requireNamespace("keras3", quietly = TRUE) && python_ready()
}

# Call into the Python core; its exceptions become classed R conditions.
with_core <- function(expr, error_call = caller_env()) {
  withCallingHandlers(
    expr,
    python.builtin.Exception = function(cnd) {
      rethrow_python_error(cnd, error_call)
    }
  )
}

rethrow_python_error <- function(cnd, error_call) {
  kind <- python_error_kind(cnd)
  python_text <- python_error_message(cnd)
  # Interpolated, never parsed: Python messages may hold braces.
  message <- c("{python_text}")
  if (is.null(kind)) {
    if (!inherits(cnd, "python.builtin.ModuleNotFoundError")) {
      return(invisible(NULL)) # Not ours: let it propagate as reticulate made it.
    }
    kind <- "dependency"
    fix <- "install"
  } else {
    fix <- python_error_fix(cnd)
  }
  message <- c(message, r_hint(fix))
  abort_kerasexport(kind, message, parent = python_parent(cnd), call = error_call)
}

# The core writes its messages for Python; where the remedy is spelled
# differently in R, the error names it (`fix`) and R says it its own way.
r_hints <- c(
  overwrite = "In R: pass {.code overwrite = TRUE} to replace it.",
  install = "Run {.code kerasexport::install_kerasexport()} to create a Python environment with every dependency."
)

r_hint <- function(fix) {
  if (is.null(fix) || !fix %in% names(r_hints)) {
    return(character())
  }
  c(i = r_hints[[fix]])
}

python_error_fix <- function(cnd) {
  fix <- tryCatch(reticulate::py_to_r(reticulate::py_get_attr(cnd, "fix")), error = function(e) NULL)
  if (is.character(fix) && length(fix) == 1) fix else NULL
}

# The parent shown under our message: the Python exception's class only (its
# text is already ours), with the exception itself kept in `$python`.
python_parent <- function(cnd) {
  python_class <- grep("^python\\.builtin\\.", class(cnd), value = TRUE, invert = TRUE)[[1]]
  structure(
    class = c("kerasexport_python_error", "error", "condition"),
    list(
      message = paste0("Raised in Python as ", python_class, "; see `reticulate::py_last_error()`."),
      call = NULL,
      python = cnd
    )
  )
}

python_error_kind <- function(cnd) {
  if (!inherits(cnd, "kerasexport.errors.KerasexportError")) {
    return(NULL)
  }
  tryCatch(reticulate::py_to_r(reticulate::py_get_attr(cnd, "kind")), error = function(e) NULL)
}

python_error_message <- function(cnd) {
  text <- tryCatch(
    reticulate::py_to_r(reticulate::import_builtins()$str(cnd)),
    error = function(e) conditionMessage(cnd)
  )
  text
}

check_python <- function(error_call = caller_env()) {
  if (!reticulate::py_module_available("keras")) {
    abort_kerasexport(
      "dependency",
      c(
        "The Python package {.pkg keras} is not available to reticulate.",
        i = "Python in use: {.path {python_in_use()}}.",
        i = "Run {.code kerasexport::install_kerasexport()}, or point {.envvar KERASEXPORT_PYTHON} at a Python that has Keras 3."
      ),
      call = error_call
    )
  }
}

python_in_use <- function() {
  config <- tryCatch(reticulate::py_config(), error = function(e) NULL)
  if (is.null(config)) "none found" else config$python
}

# A Python module imported with its load-time output captured: TensorFlow
# prints C++ notices while it loads that no setting silences.
import_quietly <- function(module) {
  with_core(core$quiet$imported(module))
}
