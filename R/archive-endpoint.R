# add_endpoint(): a named endpoint, and the checks R makes before Python sees it.

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
