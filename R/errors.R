#' Errors raised by kerasexport
#'
#' Every error kerasexport raises has class `kerasexport_error` and a more
#' specific class `kerasexport_<kind>_error`, so you can catch exactly the
#' cases you expect, e.g.
#' `tryCatch(export_savedmodel(model, path), kerasexport_path_error = function(e) ...)`.
#' Errors from the Python core keep their Python exception as `parent`, one
#' `rlang::last_error()` away.
#'
#' The kinds:
#' * `model`: the object is not a Keras model, or was never built.
#' * `signature`: a malformed `input_signature`, or one that does not match
#'   the model.
#' * `format`: an unknown `format`.
#' * `option`: an option in `...` that does not apply to this backend and
#'   format.
#' * `route`: no route can write this format from this backend.
#' * `dependency`: a missing Python package.
#' * `path`: the target exists, is of the wrong type, or cannot be written.
#' * `verification`: the artifact does not reproduce the model.
#' * `artifact`, `input`: loading an artifact or calling it with bad inputs.
#' * `endpoint`: an archive endpoint (or variable collection) name that is
#'   repeated or malformed, an archive without endpoint, or an endpoint that
#'   cannot be traced (see [add_endpoint()]).
#' * `argument`: an argument of the wrong type.
#' * `server`: a server started by [serve_artifact()] stopped, or was not
#'   ready in time; the message shows the end of its log.
#' * `http`: a served model (see [load_artifact()] with a URL) could not be
#'   reached, or its server answered with an error; the message says what it
#'   answered, and the condition's `status` field holds the HTTP status.
#'
#' @name kerasexport-errors
#' @aliases kerasexport_error
NULL

abort_kerasexport <- function(kind, message, ..., call = caller_env()) {
  cli::cli_abort(
    message,
    class = c(paste0("kerasexport_", kind, "_error"), "kerasexport_error"),
    ...,
    call = call,
    .envir = parent.frame()
  )
}
