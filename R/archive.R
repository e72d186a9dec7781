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

#' Track a model or layer in an archive
#'
#' Tracked models and layers have their variables and lookup tables saved
#' with the archive. Models behind an endpoint are tracked on their own;
#' track explicitly for lookup layers (`StringLookup`, `TextVectorization`,
#' `IntegerLookup`) and to find the model's variables as `variables` on the
#' reloaded artifact.
#'
#' @param archive An archive from [export_archive()].
#' @param resource A built Keras model or layer, or a TensorFlow trackable
#'   resource such as a lookup table.
#' @returns The archive, invisibly, so calls can be piped.
#' @section Errors:
#' `kerasexport_argument_error` when `archive` is not an archive;
#' `kerasexport_model_error` when `resource` is not a Keras model, layer or
#' TensorFlow resource (and, from [write_out()], when it was never built).
#' See [kerasexport-errors].
#' @family archives
#' @export
#' @examplesIf kerasexport:::keras3_ready()
#' library(keras3)
#' model <- keras_model_sequential(input_shape = 3) |> layer_dense(2)
#' export_archive() |> track(model)
track <- function(archive, resource) {
  check_archive(archive)
  if (!is_trackable(resource)) {
    abort_kerasexport(
      "model",
      c(
        "{.arg resource} must be a Keras model or layer, or a TensorFlow resource, not {obj_type(resource)}.",
        i = "For example {.code track(archive, model)}."
      )
    )
  }
  archive$resources <- c(archive$resources, list(resource))
  invisible(archive)
}

is_trackable <- function(x) {
  inherits(x, "keras.src.layers.layer.Layer") ||
    inherits(x, "tensorflow.python.trackable.base.Trackable")
}

#' Add a named endpoint to an archive
#'
#' Each endpoint becomes a function of the reloaded SavedModel
#' (`tf$saved_model$load(path)$serve(x)`) and one of its signatures. The
#' first endpoint also answers as `serving_default`, the signature
#' TF-Serving calls by default, unless an endpoint is named
#' `"serving_default"`.
#'
#' [write_out()] verifies an endpoint when it knows which model it should
#' reproduce: when `fn` is a Keras model or its `call` method (run in
#' inference mode), or when `reference = model` is given in `...`. It then
#' compares the reloaded endpoint with `model(x, training = FALSE)`. Other
#' endpoints, such as a training-mode pass, are written without comparison,
#' and the message of [write_out()] names them.
#'
#' @inheritParams track
#' @param name The endpoint's name: letters, digits and underscores,
#'   starting with a letter (the reloaded artifact has it as an attribute).
#'   Keras's usual name is `"serve"`.
#' @param fn What the endpoint computes: a Keras model or layer, its `call`
#'   method (`model$call`), an R function such as
#'   `\(x) model(x, training = FALSE)` (TensorFlow and JAX backends), or a
#'   `tf$function` (TensorFlow backend). An R function receives one
#'   tensor (or list, or dict of tensors) per entry of `input_signature`, by
#'   position; its arguments may have any R names, and `...`.
#' @param input_signature The shapes and dtypes of `fn`'s arguments, in the
#'   forms [input_spec()] describes: one spec (or shape) for a function of
#'   one tensor; an unnamed list for several positional arguments; a list
#'   holding a list for a model taking a list of inputs, e.g.
#'   `list(list(input_spec(c(NA, 3)), input_spec(c(NA, 4))))`; a named list
#'   for a model taking a dict of inputs. `NULL` (default) is allowed when
#'   `fn` is a built Keras model or its `call` method (inferred from the
#'   model), or a `tf$function` already called once.
#' @param ... Named options: `reference`, a Keras model `fn` reproduces in
#'   inference mode (to verify an R function or a `tf$function`);
#'   `training`, `TRUE` or `FALSE`, the mode a model or `call` method `fn`
#'   runs in (`TRUE`: not verified, as dropout and other random layers are
#'   on); `is_static` and `jax2tf_kwargs` (a named list) on the JAX backend.
#' @returns The archive, invisibly, so calls can be piped.
#' @section Errors:
#' `kerasexport_endpoint_error` for a repeated or malformed `name`, or an
#' `fn` that is not a function; `kerasexport_signature_error` for a
#' malformed `input_signature`, none when one is needed, or one whose number
#' of entries does not fit the arguments of an R function `fn`;
#' `kerasexport_option_error` for an unknown or unnamed option;
#' `kerasexport_argument_error` when `archive` is not an archive.
#' [write_out()] raises the errors Python finds when it builds the
#' endpoints. See [kerasexport-errors].
#' @family archives
#' @export
#' @examplesIf kerasexport:::keras3_ready()
#' library(keras3)
#' model <- keras_model_sequential(input_shape = 3) |> layer_dense(2)
#'
#' # A model's call method, with an explicit signature
#' export_archive() |> add_endpoint("serve", model$call, input_spec(c(NA, 3)))
#'
#' # An R function, verified against the model
#' export_archive() |>
#'   add_endpoint("serve", \(x) model(x), input_spec(c(NA, 3)), reference = model)
#'
#' # A training-mode pass (every backend, PyTorch included)
#' export_archive() |>
#'   add_endpoint("call_training", model$call, input_spec(c(NA, 3)), training = TRUE)
add_endpoint <- function(archive, name, fn, input_signature = NULL, ...) {
  check_archive(archive)
  check_archive_name(name, archive)
  check_endpoint_fn(fn)
  if (is.null(input_signature)) {
    check_signature_inferable(fn, name)
  } else {
    check_signature(input_signature)
  }
  options <- check_endpoint_options(list(...))
  if (!is.null(options$training) && !is_model_call(fn)) {
    abort_kerasexport(
      "option",
      c(
        "{.arg training} applies to a Keras model or layer, or its {.code call} method; {.arg fn} is {describe_fn(fn)}.",
        i = "Write the mode into the function instead, e.g. {.code \\(x) model(x, training = TRUE)}."
      )
    )
  }
  if (is.null(options$reference)) {
    # With a reference, Python first fits the signature to that model.
    check_endpoint_arity(fn, input_signature, name)
  }
  endpoint <- list(name = name, fn = fn, input_signature = input_signature, options = options)
  archive$endpoints[[name]] <- endpoint
  invisible(archive)
}

endpoint_options <- c("reference", "training", "is_static", "jax2tf_kwargs")

check_endpoint_fn <- function(fn, arg = caller_arg(fn), call = caller_env()) {
  if (!(is_r_function(fn) || (inherits(fn, "python.builtin.object") && reticulate::py_has_attr(fn, "__call__")))) {
    abort_kerasexport(
      "endpoint",
      c(
        "{.arg {arg}} must be a function, not {obj_type(fn)}.",
        i = "Give a Keras model, its {.code call} method, an R function such as {.code \\(x) model(x)}, or a {.code tf$function}."
      ),
      call = call
    )
  }
}

# Without a signature, Keras needs a model (we infer its inputs) or a traced
# tf.function. Python checks that the tf.function was traced.
check_signature_inferable <- function(fn, name, call = caller_env()) {
  if (is_model_call(fn) || inherits(fn, "tensorflow.python.types.core.PolymorphicFunction")) {
    return(invisible())
  }
  abort_kerasexport(
    "signature",
    c(
      "Endpoint {.val {name}} needs an {.arg input_signature}: its {.arg fn} is {describe_fn(fn)}, whose inputs are unknown.",
      i = "Give one, e.g. {.code input_signature = input_spec(c(NA, 3))}.",
      i = "It can be left out only for a Keras model, its {.code call} method, or a {.code tf$function} already called once."
    ),
    call = call
  )
}

# An R function gets one tensor (or list, or dict) per entry of its
# signature: their numbers must agree, as Keras would find when tracing.
check_endpoint_arity <- function(fn, input_signature, name, call = caller_env()) {
  if (!is_r_function(fn) || is.null(input_signature)) {
    return(invisible())
  }
  given <- signature_arity(input_signature)
  params <- r_params(fn)
  required <- params$names[params$required]
  most <- if (params$dots) Inf else length(params$names)
  if (is.na(given) || (given >= length(required) && given <= most)) {
    return(invisible())
  }
  takes <- if (length(params$names)) {
    paste0(length(params$names), " argument", if (length(params$names) != 1) "s", " (", paste(params$names, collapse = ", "), ")")
  } else {
    "no argument"
  }
  abort_kerasexport(
    "signature",
    c(
      "Endpoint {.val {name}}: {.arg fn} takes {takes}, but {.arg input_signature} describes {given} (one spec per argument).",
      i = if (given > most) "For a model taking a list of inputs, wrap their specs in one list: {.code list(list(input_spec(...), input_spec(...)))}.",
      i = if (given < length(required)) "Give one spec per argument of {.arg fn}, in an unnamed list."
    ),
    call = call
  )
}

# How many positional arguments `input_signature` describes; NA when it is a
# Python object (Python checks those).
signature_arity <- function(x) {
  if (is.null(x) || inherits(x, "python.builtin.object")) {
    return(NA_integer_)
  }
  if (is.list(x) && is.null(names(x)) && !is_input_spec(x) && !is_shape_list(x)) {
    return(length(x))
  }
  1L # one spec, shape or array; or a named list: one dict argument
}

# An R function's arguments: names (without `...`), which have no default,
# and whether it takes `...`.
r_params <- function(fn) {
  formals <- formals(args(fn))
  names <- setdiff(names(formals), "...")
  list(
    names = names,
    required = vapply(formals[names], function(d) identical(d, quote(expr = )), logical(1)),
    dots = "..." %in% names(formals)
  )
}

is_model_call <- function(fn) {
  inherits(fn, "keras.src.layers.layer.Layer") || is_model_method(fn)
}

# A Keras model's (or layer's) bound `call` or `__call__` method.
is_model_method <- function(fn) {
  inherits(fn, "python.builtin.method") &&
    !reticulate::py_is_null_xptr(fn) &&
    inherits(reticulate::py_get_attr(fn, "__self__"), "keras.src.layers.layer.Layer") &&
    reticulate::py_to_r(reticulate::py_get_attr(fn, "__name__")) %in% c("call", "__call__")
}

check_endpoint_options <- function(options, call = caller_env()) {
  if (length(options) == 0) {
    return(list())
  }
  check_named_options(options, "Options of {.fn add_endpoint}: {.arg {endpoint_options}}.", call = call)
  names <- names(options)
  unknown <- setdiff(names, endpoint_options)
  if (length(unknown) > 0) {
    abort_kerasexport(
      "option",
      c(
        "{.arg {unknown}} {?is not an option/are not options} of {.fn add_endpoint}.",
        i = "Its options: {.arg {endpoint_options}}."
      ),
      call = call
    )
  }
  if (!is.null(options$training)) {
    check_bool(options$training, arg = "training", call = call)
  }
  if (!is.null(options$reference) && !inherits(options$reference, "keras.src.layers.layer.Layer")) {
    abort_kerasexport(
      "option",
      "{.arg reference} must be the Keras model the endpoint reproduces, not {obj_type(options$reference)}.",
      call = call
    )
  }
  options
}

# Names become attributes of the reloaded SavedModel: identifiers, unused,
# and not shadowing what the loaded object already has.
check_archive_name <- function(name, archive, what = "endpoint", arg = caller_arg(name), call = caller_env()) {
  check_string(name, arg = arg, call = call)
  if (!grepl("^[A-Za-z][A-Za-z0-9_]*$", name) || name %in% python_keywords) {
    abort_kerasexport(
      "endpoint",
      c(
        "The {what} name must be letters, digits and underscores, starting with a letter; received {.val {name}}.",
        i = "The reloaded artifact has each {what} as an attribute of that name."
      ),
      call = call
    )
  }
  if (name %in% reserved_names) {
    abort_kerasexport(
      "endpoint",
      c(
        "The {what} name {.val {name}} is reserved: a reloaded SavedModel already has that attribute.",
        i = "Reserved names: {.val {reserved_names}}."
      ),
      call = call
    )
  }
  if (name %in% names(archive$endpoints)) {
    abort_kerasexport(
      "endpoint",
      c(
        "Endpoint {.val {name}} is already defined.",
        i = "Endpoints so far: {.val {names(archive$endpoints)}}. Choose another name."
      ),
      call = call
    )
  }
  if (name %in% names(archive$variable_collections)) {
    abort_kerasexport(
      "endpoint",
      c(
        "{.val {name}} already names a variable collection.",
        i = "Collections so far: {.val {names(archive$variable_collections)}}. Choose another name."
      ),
      call = call
    )
  }
}

reserved_names <- c(
  "variables", "trainable_variables", "non_trainable_variables", "signatures",
  "tensorflow_version", "tensorflow_git_version", "graph_debug_info"
)

python_keywords <- c(
  "False", "None", "True", "and", "as", "assert", "async", "await", "break",
  "class", "continue", "def", "del", "elif", "else", "except", "finally",
  "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
  "not", "or", "pass", "raise", "return", "try", "while", "with", "yield"
)


#' Add a collection of variables to an archive
#'
#' The variables are saved with the archive and can be read back as an
#' attribute of the reloaded SavedModel, e.g. the optimizer's state:
#' `tf$saved_model$load(path)$optimizer_variables`.
#'
#' @inheritParams track
#' @param name The collection's name: letters, digits and underscores,
#'   starting with a letter, not used by an endpoint.
#' @param variables A list of Keras (or TensorFlow) variables, such as
#'   `model$weights` or `model$optimizer$variables`.
#' @returns The archive, invisibly, so calls can be piped.
#' @section Errors:
#' `kerasexport_endpoint_error` for a repeated or malformed `name`;
#' `kerasexport_argument_error` when `variables` is not a list of variables
#' or `archive` not an archive. See [kerasexport-errors].
#' @family archives
#' @export
#' @examplesIf kerasexport:::keras3_ready()
#' library(keras3)
#' model <- keras_model_sequential(input_shape = 3) |> layer_dense(2)
#' export_archive() |>
#'   add_endpoint("serve", model) |>
#'   add_variable_collection("weights", model$weights)
add_variable_collection <- function(archive, name, variables) {
  check_archive(archive)
  check_archive_name(name, archive, what = "variable collection")
  if (inherits(variables, "python.builtin.list") || inherits(variables, "python.builtin.tuple")) {
    variables <- reticulate::py_to_r(variables)
  }
  is_variable <- function(v) {
    inherits(v, "keras.src.backend.common.variables.Variable") ||
      inherits(v, "tensorflow.python.ops.variables.Variable")
  }
  if (!is.list(variables) || inherits(variables, "python.builtin.object") || !all(vapply(variables, is_variable, logical(1)))) {
    abort_kerasexport(
      "argument",
      c(
        "{.arg variables} must be a list of Keras or TensorFlow variables, not {obj_type(variables)}.",
        i = "For example {.code model$weights} or {.code model$optimizer$variables}."
      )
    )
  }
  archive$variable_collections[[name]] <- variables
  invisible(archive)
}

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
      cli::cli_bullets(stats::setNames(escape_braces(lines), rep(" ", length(lines))))
    }
    collections <- vapply(names(x$variable_collections), function(name) {
      paste0(name, " (", length(x$variable_collections[[name]]), ")")
    }, character(1))
    cli::cli_bullets(c("*" = if (length(collections)) "Variable collections: {collections}" else "Variable collections: none"))
  })
}

# Literal text for cli: `{` and `}` doubled so they are not interpolated.
escape_braces <- function(x) {
  gsub("}", "}}", gsub("{", "{{", x, fixed = TRUE), fixed = TRUE)
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
