# write_out(): the recorded archive built once, in Python, verified and landed;
# R functions turned into Python callables for tracing.

#' Write an archive as a verified SavedModel
#'
#' Builds the SavedModel the archive describes with Keras's
#' `keras.export.ExportArchive`, in a hidden directory beside `filepath`;
#' reloads it with `tf$saved_model$load()`; checks that every endpoint and
#' `serving_default` are there; compares each endpoint that has a reference
#' model with that model in inference mode (see [add_endpoint()]); and only
#' then renames it to `filepath`. A failure leaves `filepath` as it was. One
#' line of message lists the endpoints and which were verified; silence it
#' with [suppressMessages()].
#'
#' @inheritParams track
#' @param filepath The SavedModel directory to create. Its parent directory
#'   must exist.
#' @param options A `tf$saved_model$SaveOptions` object, or `NULL`
#'   (default).
#' @param verbose `TRUE` to let Keras print the endpoints it wrote; `NULL`
#'   (default) or `FALSE` keeps it quiet.
#' @param overwrite `TRUE` to replace an existing artifact (the old one stays
#'   intact until the new one is verified); `FALSE` (default) makes an
#'   existing `filepath` an error.
#' @param verify `TRUE` (default) to compare the endpoints that have a
#'   reference model; `FALSE` only checks that every endpoint is there.
#' @returns The archive, invisibly, so calls can be piped.
#' @section Errors:
#' `kerasexport_endpoint_error` when the archive has no endpoint or an
#' endpoint cannot be traced; `kerasexport_signature_error`,
#' `kerasexport_option_error` and `kerasexport_model_error` for what Python
#' finds when it builds the endpoints; `kerasexport_path_error` (target
#' exists, missing parent); `kerasexport_verification_error`;
#' `kerasexport_route_error` on the PyTorch backend when the worker cannot
#' build the archive, and `kerasexport_endpoint_error` there for an
#' endpoint that is not a model, a layer or its `call` method;
#' `kerasexport_argument_error`. See [kerasexport-errors].
#' @family archives
#' @export
#' @examplesIf kerasexport:::keras3_ready()
#' library(keras3)
#' model <- keras_model_sequential(input_shape = 3) |> layer_dense(2)
#' path <- file.path(tempdir(), "served")
#' export_archive() |>
#'   add_endpoint("serve", model$call, input_spec(c(NA, 3))) |>
#'   write_out(path, overwrite = TRUE)
#' loaded <- reticulate::import("tensorflow")$saved_model$load(path)
#' names(loaded$signatures)
write_out <- function(archive, filepath, options = NULL, verbose = NULL, overwrite = FALSE, verify = TRUE) {
  call <- rlang::current_env()
  check_archive(archive)
  check_string(filepath)
  check_bool(verbose, allow_null = TRUE)
  check_bool(overwrite)
  check_bool(verify)
  if (length(archive$endpoints) == 0) {
    abort_kerasexport(
      "endpoint",
      c(
        "The archive has no endpoint, so there is nothing to serve.",
        i = "Add one with {.fn add_endpoint} before {.fn write_out}."
      )
    )
  }
  endpoints <- lapply(archive$endpoints, function(endpoint) {
    endpoint$n_args <- signature_arity(endpoint$input_signature)
    endpoint$input_signature <- as_py_signature(endpoint$input_signature, arg = "input_signature", call = call)
    endpoint$options <- as_py_options(endpoint$options, call = call)
    endpoint
  })

  report <- with_core({
    py_archive <- core$ExportArchive()
    for (resource in archive$resources) {
      py_archive$track(resource)
    }
    for (endpoint in endpoints) {
      fn <- as_py_callable(endpoint$fn, endpoint$n_args)
      if (!is.null(endpoint$options$training)) {
        fn <- reticulate::import("functools")$partial(fn, training = endpoint$options$training)
        endpoint$options$training <- NULL
      }
      signature <- endpoint$input_signature
      if (is.null(signature) && is_model_method(endpoint$fn)) {
        # Python infers only from a model itself; a method gets its model's.
        signature <- core$signature$normalize(reticulate::py_get_attr(endpoint$fn, "__self__"), NULL)
      }
      do.call(py_archive$add_endpoint, c(list(endpoint$name, fn, signature), endpoint$options))
    }
    for (name in names(archive$variable_collections)) {
      py_archive$add_variable_collection(name, archive$variable_collections[[name]])
    }
    with_export_progress(display = export_display(verbose), py_archive$write_out(
      path.expand(filepath),
      options = options, verbose = verbose, overwrite = overwrite, verify = verify
    ))
  }, error_call = call)

  summary <- report$summary()
  cli::cli_inform("{summary}", class = "kerasexport_archive_message")
  invisible(archive)
}

# R functions become Python functions with the same arguments, so TensorFlow
# (and jax2tf) can trace them; Python callables pass through. Arguments
# Python cannot name (`...`, `input.data`, `lambda`) go through a wrapper
# with one plain argument per spec, passed on by position.
as_py_callable <- function(fn, n_args = NA_integer_) {
  if (!is_r_function(fn)) {
    return(fn)
  }
  formal_names <- names(formals(args(fn)))
  if (all(is_python_identifier(formal_names))) {
    return(reticulate::py_func(fn))
  }
  params <- r_params(fn)
  n <- if (is.na(n_args)) length(params$names) else n_args
  wanted <- c(params$names, paste0("x", seq_len(n)))[seq_len(n)]
  arg_names <- make.unique(python_identifier(wanted), sep = "_")
  wrapper <- rlang::new_function(
    rlang::pairlist2(!!!stats::setNames(rep(list(rlang::missing_arg()), n), arg_names)),
    rlang::call2(fn, !!!rlang::syms(arg_names))
  )
  reticulate::py_func(wrapper)
}

is_python_identifier <- function(x) {
  grepl("^[A-Za-z_][A-Za-z0-9_]*$", x) & !x %in% python_keywords
}

# A valid Python argument name close to `x`: `input.data` -> `input_data`.
python_identifier <- function(x) {
  x <- gsub("[^A-Za-z0-9_]", "_", x)
  x <- ifelse(grepl("^[A-Za-z_]", x), x, paste0("x", x))
  ifelse(x %in% python_keywords, paste0(x, "_"), x)
}

# reticulate gives Python callables the class "function" too.
is_r_function <- function(fn) {
  is.function(fn) && !inherits(fn, "python.builtin.object")
}
