# export_archive(): an archive is a plain R record until write_out() (see
# archive-track.R, archive-endpoint.R, archive-collection.R, archive-write.R).

#' Build a SavedModel with several named endpoints
#'
#' `export_archive()` starts an archive: a plan for a TensorFlow SavedModel
#' with one or more named endpoints (for instance `serve`, or
#' `call_inference` and `call_training`), tracked models and variable
#' collections. [track()], [add_endpoint()] and [add_variable_collection()]
#' add to the plan; [write_out()] builds it with Keras's
#' `keras.export.ExportArchive`, reloads it with TensorFlow, verifies it, and
#' only then puts it in place. Until then the archive is an ordinary R value:
#' each step of a pipeline returns a new one and needs no Python.
#'
#' Works with models on every backend. On TensorFlow and JAX, Keras's own
#' archive builds it. On PyTorch, where Keras's archive needs `torch_xla`,
#' [write_out()] saves the tracked models and layers and a TensorFlow worker
#' process builds the SavedModel from them (the cross-backend route); the
#' result is verified against the PyTorch model all the same. There, an
#' endpoint must be a tracked Keras model or layer, or its `call` method,
#' with `training = TRUE` or `FALSE` given in [add_endpoint()] when it
#' matters; R functions cannot cross to the worker.
#'
#' @returns `export_archive()`: an empty archive, of class
#'   `kerasexport_archive`. `is_archive()`: `TRUE` or `FALSE`.
#' @family archives
#' @export
#' @examplesIf kerasexport:::keras3_ready()
#' library(keras3)
#' model <- keras_model_sequential(input_shape = 3) |>
#'   layer_dropout(0.5) |>
#'   layer_dense(2)
#' archive <- export_archive() |>
#'   track(model) |>
#'   add_endpoint("call_inference", model$call, input_spec(c(NA, 3))) |>
#'   add_endpoint(
#'     "call_training",
#'     \(x) model(x, training = TRUE),
#'     input_spec(c(NA, 3))
#'   )
#' archive
#' archive |> write_out(file.path(tempdir(), "archive"))
export_archive <- function() {
  new_archive()
}

new_archive <- function(resources = list(), endpoints = list(), variable_collections = list()) {
  structure(
    list(resources = resources, endpoints = endpoints, variable_collections = variable_collections),
    class = "kerasexport_archive"
  )
}

#' @rdname export_archive
#' @param x An object.
#' @export
is_archive <- function(x) {
  inherits(x, "kerasexport_archive")
}

check_archive <- function(x, arg = caller_arg(x), call = caller_env()) {
  if (!is_archive(x)) {
    abort_kerasexport(
      "argument",
      c(
        "{.arg {arg}} must be an archive, not {obj_type(x)}.",
        i = "Start one with {.code export_archive()}."
      ),
      call = call
    )
  }
}

#' @export
print.kerasexport_archive <- function(x, ...) {
  cat(format_archive(x), sep = "\n")
  invisible(x)
}

format_archive <- function(x) {
  cli::cli_format_method({
    cli::cli_text("<kerasexport_archive>")
    resources <- vapply(x$resources, describe_python, character(1))
    cli::cli_bullets(c("*" = if (length(resources)) "Tracked: {resources}" else "Tracked: nothing"))
    if (length(x$endpoints) == 0) {
      cli::cli_bullets(c("*" = "Endpoints: none yet; add one with {.fn add_endpoint}"))
    } else {
      default <- if ("serving_default" %in% names(x$endpoints)) "serving_default" else names(x$endpoints)[[1]]
      cli::cli_bullets(c("*" = "Endpoints ({.val {default}} answers as serving_default):"))
      lines <- vapply(x$endpoints, function(endpoint) {
        paste0(
          endpoint$name, ": ", describe_fn(endpoint$fn),
          ", input ", describe_signature(endpoint$input_signature),
          if (!is.null(endpoint$options$reference)) paste0(", verified against ", describe_python(endpoint$options$reference))
        )
      }, character(1))
      cli::cli_bullets(stats::setNames(cli_escape(lines), rep(" ", length(lines))))
    }
    collections <- vapply(names(x$variable_collections), function(name) {
      paste0(name, " (", length(x$variable_collections[[name]]), ")")
    }, character(1))
    cli::cli_bullets(c("*" = if (length(collections)) "Variable collections: {collections}" else "Variable collections: none"))
  })
}

describe_python <- function(x) {
  if (reticulate::py_is_null_xptr(x)) {
    return("a Python object from an earlier R session")
  }
  short <- sub("^.*\\.", "", class(x)[[1]])
  if (inherits(x, "keras.src.layers.layer.Layer")) {
    return(paste0("<", short, "> \"", reticulate::py_to_r(reticulate::py_get_attr(x, "name")), "\""))
  }
  paste0("a Python ", short)
}

describe_fn <- function(fn) {
  if (is_r_function(fn)) {
    return("an R function")
  }
  if (reticulate::py_is_null_xptr(fn)) {
    return("a Python object from an earlier R session")
  }
  if (inherits(fn, "python.builtin.method")) {
    method <- reticulate::py_to_r(reticulate::py_get_attr(fn, "__name__"))
    return(paste0("method ", method, " of ", describe_python(reticulate::py_get_attr(fn, "__self__"))))
  }
  if (inherits(fn, "tensorflow.python.types.core.PolymorphicFunction")) {
    return("a tf.function")
  }
  describe_python(fn)
}

describe_signature <- function(x) {
  if (is.null(x)) {
    return("inferred")
  }
  if (inherits(x, "python.builtin.object")) {
    return(describe_python(x))
  }
  if (is_input_spec(x)) {
    return(paste0("(", format_shape(x$shape), ") ", x$dtype))
  }
  if (is.array(x)) {
    return(paste0("(", format_shape(c(NA, dim(x)[-1])), ")"))
  }
  if (is.numeric(x) || is_shape_list(x) || is.logical(x)) {
    return(paste0("(", format_shape(as_shape(x)), ")"))
  }
  parts <- vapply(x, describe_signature, character(1))
  if (is.null(names(x))) {
    return(paste0("[", paste(parts, collapse = ", "), "]"))
  }
  paste0("{", paste0(names(x), ": ", parts, collapse = ", "), "}")
}
